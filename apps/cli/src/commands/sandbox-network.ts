import { Sandbox, type SandboxCreateOptions } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { listFlag, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { json } from "../lib/output.ts";
import { sandboxDetails, sandboxJson } from "../lib/views.ts";

/** The egress flags of `sandbox create` and `sandbox network`. */
export const egressOptions = {
  "no-internet": { type: "boolean", default: false },
  "allow-out": { type: "string", multiple: true },
  "deny-out": { type: "string", multiple: true },
} as const satisfies Options;

/** The lines documenting {@link egressOptions} in a usage text. */
export const egressUsage = `  --no-internet       deny every destination but those of --allow-out
  --allow-out ENTRY   allow a CIDR, IP or domain (*.example.com for subdomains), optionally
                      :port or :lo-hi; wins over --deny-out (repeatable, or comma-separated).
                      A domain needs everything else denied (--no-internet or --deny-out 0.0.0.0/0)
  --deny-out ENTRY    deny a CIDR or IP, optionally with ports (repeatable, or comma-separated)`;

/** The SDK's egress options from parsed {@link egressOptions} (the server checks the entries). */
export function egressFromFlags(values: {
  "no-internet"?: boolean | undefined;
  "allow-out"?: string[] | undefined;
  "deny-out"?: string[] | undefined;
}): Pick<SandboxCreateOptions, "allowInternetAccess" | "network"> {
  return {
    allowInternetAccess: values["no-internet"] ? false : undefined,
    network: { allowOut: listFlag(values["allow-out"]), denyOut: listFlag(values["deny-out"]) },
  };
}

/** `wrenn sandbox network <id>`: replaces a running sandbox's egress rules. */
export const networkCommand: Subcommand = {
  summary: "Replace the egress rules of a running sandbox",
  usage: `Usage: wrenn sandbox network <id> [--no-internet] [--allow-out ENTRY]… [--deny-out ENTRY]… [--json]

Replaces the sandbox's egress rules at once (new connections follow them; established ones
continue). Rules left out are cleared, so with no flag everything may leave again.

Options:
${egressUsage}
  --json              print the sandbox as JSON`,
  options: egressOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, egressOptions);
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    const conn = await connection();
    const { allowInternetAccess, network } = egressFromFlags(values);
    const info = await Sandbox.updateNetwork(id, { allowInternetAccess, ...network }, conn);
    if (values.json) process.stdout.write(json(sandboxJson(info)));
    else console.log(sandboxDetails(info));
    return ExitCode.ok;
  },
};
