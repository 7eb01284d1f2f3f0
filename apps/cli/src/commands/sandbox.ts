import { NotFoundError, Sandbox, type SandboxInfo, type SandboxState } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, keyValues, listFlag, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError, UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";
import { json, table } from "../lib/output.ts";
import { withSpinner } from "../lib/spinner.ts";
import { sandboxColumns, sandboxDetails, sandboxJson } from "../lib/views.ts";
import { execCommand } from "./sandbox-exec.ts";
import { forkCommand } from "./sandbox-fork.ts";
import { logsCommand } from "./sandbox-logs.ts";
import { egressFromFlags, egressOptions, egressUsage, networkCommand } from "./sandbox-network.ts";
import { shellCommand } from "./sandbox-shell.ts";

const STATES: SandboxState[] = ["pending", "starting", "running", "paused", "stopped", "missing", "error"];

/** Prints one sandbox as JSON or as `key: value` lines. */
function printSandbox(info: SandboxInfo, asJson: boolean): void {
  if (asJson) process.stdout.write(json(sandboxJson(info)));
  else console.log(sandboxDetails(info));
}

const createOptions = {
  template: { type: "string" },
  vcpus: { type: "string" },
  memory: { type: "string" },
  disk: { type: "string" },
  timeout: { type: "string" },
  metadata: { type: "string", multiple: true },
  env: { type: "string", multiple: true },
  ...egressOptions,
  quiet: { type: "boolean", short: "q", default: false },
} as const satisfies Options;

const create: Subcommand = {
  summary: "Create a sandbox and wait until it runs",
  usage: `Usage: wrenn sandbox create [options]

Creates a microVM sandbox and prints it (its id is what every other command takes).

Options:
  --template NAME     template or snapshot to start from (default: minimal)
  --vcpus N           vCPUs, 1-8 (default: the template's)
  --memory MB         memory in MB, 128-16384 (default: the template's)
  --disk MB           disk size in MB, 512-102400
  --timeout SECONDS   pause after this much inactivity, 0 = never (default: 300)
  --metadata K=V      a label to find it by (repeatable)
  --env K=V           an environment variable of every process in it (repeatable)
${egressUsage}
  -q, --quiet         print only the id (for id=$(wrenn sandbox create -q))
  --json              print the sandbox as JSON`,
  options: createOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, createOptions);
    positionalArgs(positionals, []);
    const timeout = intFlag("timeout", values.timeout, 0, 86_400);
    const options = {
      template: values.template,
      vcpus: intFlag("vcpus", values.vcpus, 1, 8),
      memoryMb: intFlag("memory", values.memory, 128, 16_384),
      diskSizeMb: intFlag("disk", values.disk, 512, 102_400),
      timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      metadata: keyValues("metadata", values.metadata),
      envs: keyValues("env", values.env),
      ...egressFromFlags(values),
    };
    const conn = await connection();
    const info = await withSpinner(
      `Creating sandbox from ${values.template ?? "minimal"}`,
      async () => {
        const sandbox = await Sandbox.create({ ...conn, ...options });
        return sandbox.getInfo();
      },
      { json: values.json },
    );
    if (values.quiet && !values.json) console.log(info.sandboxId);
    else printSandbox(info, values.json);
    return ExitCode.ok;
  },
};

const listOptions = {
  state: { type: "string", multiple: true },
  metadata: { type: "string", multiple: true },
} as const satisfies Options;

const list: Subcommand = {
  summary: "List the team's sandboxes, newest first",
  usage: `Usage: wrenn sandbox list [--state S[,S…]] [--metadata K=V]… [--json]

Options:
  --state STATES   only these states (comma-separated or repeated): ${STATES.join(", ")}
  --metadata K=V   only sandboxes with this label (repeatable; all must match)
  --json           print a JSON array`,
  options: listOptions,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, listOptions);
    positionalArgs(positionals, []);
    const state = listFlag(values.state);
    for (const s of state ?? []) {
      if (!STATES.includes(s as SandboxState))
        throw new UsageError(`--state: unknown state '${s}' (${STATES.join(", ")})`);
    }
    const items: SandboxInfo[] = [];
    for await (const info of Sandbox.list({
      ...(await connection()),
      state: state as SandboxState[] | undefined,
      metadata: keyValues("metadata", values.metadata),
      limit: 100,
    })) {
      items.push(info);
    }
    if (values.json) process.stdout.write(json(items.map(sandboxJson)));
    else if (items.length === 0) console.log("No sandboxes. Create one with 'wrenn sandbox create'.");
    else console.log(table(items, sandboxColumns));
    return ExitCode.ok;
  },
};

const get: Subcommand = {
  summary: "Show one sandbox",
  usage: `Usage: wrenn sandbox get <id> [--json]`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    printSandbox(await Sandbox.getInfo(id, await connection()), values.json);
    return ExitCode.ok;
  },
};

const pause: Subcommand = {
  summary: "Pause a sandbox (memory and disk kept, no RAM held)",
  usage: `Usage: wrenn sandbox pause <id> [--json]

Writes the sandbox's memory and disk to its host and stops the VM. 'wrenn sandbox resume',
'exec', 'shell' and 'files' bring it back where it left off.`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    const conn = await connection();
    const info = await withSpinner(`Pausing ${id}`, () => Sandbox.pause(id, conn), { json: values.json });
    if (values.json) printSandbox(info, true);
    else console.log(`Paused ${info.sandboxId}.`);
    return ExitCode.ok;
  },
};

const resume: Subcommand = {
  summary: "Resume a paused sandbox",
  usage: `Usage: wrenn sandbox resume <id> [--json]

Restores a paused sandbox's memory and disk; a running sandbox is left as it is.`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    const conn = await connection();
    const info = await withSpinner(
      `Resuming ${id}`,
      async () => {
        const before = await Sandbox.getInfo(id, conn);
        if (before.state !== "paused" && before.state !== "running") {
          throw new CliError(
            `sandbox ${id} is ${before.state}; only a paused sandbox can be resumed`,
            ExitCode.conflict,
          );
        }
        return (await Sandbox.connect(id, conn)).getInfo();
      },
      { json: values.json },
    );
    if (values.json) printSandbox(info, true);
    else console.log(`${info.sandboxId} is ${info.state}.`);
    return ExitCode.ok;
  },
};

const kill: Subcommand = {
  summary: "Destroy sandboxes (their VMs and files)",
  usage: `Usage: wrenn sandbox kill <id>… [--json]

Destroys each sandbox. Killing an already stopped sandbox succeeds (it says so); an id that does
not exist is reported and makes the exit code 3, and the others are still destroyed.
--json prints [{id, result}] with result killed, already_stopped or not_found.`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {});
    if (positionals.length === 0) throw new UsageError("missing <id>");
    const conn = await connection();
    const results: { id: string; result: "killed" | "already_stopped" | "not_found" }[] = [];
    for (const id of positionals) {
      let state: SandboxState | undefined;
      try {
        state = (await Sandbox.getInfo(id, conn)).state;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      if (state === undefined) results.push({ id, result: "not_found" });
      else if (state === "stopped") results.push({ id, result: "already_stopped" });
      else results.push({ id, result: (await Sandbox.kill(id, conn)) ? "killed" : "not_found" });
    }
    if (values.json) process.stdout.write(json(results));
    else {
      for (const r of results) {
        if (r.result === "killed") console.log(`Killed ${r.id}.`);
        else if (r.result === "already_stopped") console.log(`${r.id} was already stopped.`);
        else console.error(`wrenn sandbox kill: sandbox ${r.id} not found`);
      }
    }
    return results.some((r) => r.result === "not_found") ? ExitCode.notFound : ExitCode.ok;
  },
};

/** `wrenn sandbox create|list|get|exec|shell|pause|resume|fork|network|kill|logs`. */
export const command = commandGroup("sandbox", "Create, inspect, enter and destroy sandboxes", {
  create,
  list,
  get,
  exec: execCommand,
  shell: shellCommand,
  pause,
  resume,
  fork: forkCommand,
  network: networkCommand,
  kill,
  logs: logsCommand,
});
