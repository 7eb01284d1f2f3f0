import { ExitCode } from "./exit-codes.ts";
import { commands, summaries } from "./registry.ts";

/** `wrenn --help`: the commands with their summaries (from the registry: no module loads). */
async function topUsage(): Promise<string> {
  const lines = Object.keys(commands).map((n) => `  ${n.padEnd(10)} ${summaries[n] ?? ""}`);
  return `Usage: wrenn <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun 'wrenn <command> --help' for details.`;
}

/**
 * Runs `wrenn` with `argv` (the arguments after the program name) and resolves to the exit
 * code: the dispatch `main.ts` runs, callable in-process by tests.
 */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    // Asked for, help is the answer (stdout, 0); with no command at all it is a usage error.
    (name ? console.log : console.error)(await topUsage());
    return name ? ExitCode.ok : ExitCode.usage;
  }
  const load = commands[name];
  if (!load) {
    console.error(`wrenn: unknown command '${name}' (see 'wrenn --help')`);
    return ExitCode.usage;
  }
  const { command } = await load();
  if (!command.ownHelp && (rest.includes("--help") || rest.includes("-h"))) {
    console.log(command.usage);
    return ExitCode.ok;
  }
  return command.run(rest);
}
