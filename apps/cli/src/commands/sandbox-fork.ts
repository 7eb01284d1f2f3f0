import { Sandbox } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, keyValues, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { json, table } from "../lib/output.ts";
import { withSpinner } from "../lib/spinner.ts";
import { sandboxColumns, sandboxJson } from "../lib/views.ts";

const forkOptions = {
  count: { type: "string" },
  timeout: { type: "string" },
  metadata: { type: "string", multiple: true },
  quiet: { type: "boolean", short: "q", default: false },
} as const satisfies Options;

/** `wrenn sandbox fork <id> [--count N]`: new sandboxes continuing from a running one. */
export const forkCommand: Subcommand = {
  summary: "Fork a running sandbox into new ones that continue from its memory, processes and files",
  usage: `Usage: wrenn sandbox fork <id> [options]

Makes new sandboxes on the sandbox's host that continue from its memory, running processes
and files at this instant; the sandbox itself keeps running. Prints the new sandboxes.

Options:
  --count N           how many forks, 1-8 (default: 1)
  --timeout SECONDS   their inactivity pause, 0 = never (default: the source's)
  --metadata K=V      their labels (repeatable; default: the source's)
  -q, --quiet         print only the new ids, one a line
  --json              print a JSON array`,
  options: forkOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, forkOptions);
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    const count = intFlag("count", values.count, 1, 8) ?? 1;
    const timeout = intFlag("timeout", values.timeout, 0, 86_400);
    const conn = await connection();
    const infos = await withSpinner(
      `Forking ${id}${count > 1 ? ` into ${count} sandboxes` : ""}`,
      async () => {
        const forks = await Sandbox.fork(id, {
          ...conn,
          count,
          timeoutMs: timeout === undefined ? undefined : timeout * 1000,
          metadata: keyValues("metadata", values.metadata),
        });
        return Promise.all(forks.map((f) => f.getInfo()));
      },
      { json: values.json },
    );
    if (values.json) process.stdout.write(json(infos.map(sandboxJson)));
    else if (values.quiet) for (const info of infos) console.log(info.sandboxId);
    else console.log(table(infos, sandboxColumns));
    return ExitCode.ok;
  },
};
