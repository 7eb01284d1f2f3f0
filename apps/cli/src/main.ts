#!/usr/bin/env node
import type { Command } from "./command.ts";
import { ExitCode } from "./command.ts";

/**
 * The command catalog. Each entry loads its module lazily so that `wrenn image build`
 * does not pay for loading the control plane, and vice versa.
 */
const commands: Record<string, () => Promise<{ command: Command }>> = {
  image: () => import("./commands/image.ts"),
  up: () => import("./commands/up.ts"),
  login: () => import("./commands/login.ts"),
  sandbox: () => import("./commands/sandbox.ts"),
  files: () => import("./commands/files.ts"),
  snapshot: () => import("./commands/snapshot.ts"),
  host: () => import("./commands/host.ts"),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const lines = await Promise.all(
      Object.entries(commands).map(
        async ([n, load]) => `  ${n.padEnd(10)} ${(await load()).command.summary}`,
      ),
    );
    console.log(
      `Usage: wrenn <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun 'wrenn <command> --help' for details.`,
    );
    return name ? ExitCode.ok : ExitCode.usage;
  }
  const load = commands[name];
  if (!load) {
    console.error(`wrenn: unknown command '${name}'. Run 'wrenn --help' for the list.`);
    return ExitCode.usage;
  }
  const { command } = await load();
  if (!command.ownHelp && (rest.includes("--help") || rest.includes("-h"))) {
    console.log(command.usage);
    return ExitCode.ok;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`wrenn: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = ExitCode.failure;
  },
);
