import { spawn } from "node:child_process";
import { DEFAULT_DATA_DIR, resolveGuestImage } from "@wrenn/images";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { agentNodeArgs } from "../lib/agent-entry.ts";
import { parse, positionalArgs } from "../lib/args.ts";
import { UsageError } from "../lib/errors.ts";
import { commandGroup } from "../lib/group.ts";

const options = {
  // Only to refuse it with a reason: a token in argv shows in `ps` to every local user.
  token: { type: "string" },
  "token-file": { type: "string" },
  address: { type: "string" },
  "control-plane": { type: "string" },
  "data-dir": { type: "string" },
  listen: { type: "string" },
} as const satisfies Options;

const COMMON = `Starts the host agent daemon (apps/host-agent) in the foreground, as root, and keeps it
running until Ctrl-C or SIGTERM (which pause its running sandboxes).`;

const LOCAL_OPTIONS = `  --data-dir DIR       the agent's state (default /var/lib/wrenn)
  --listen ADDR        listen address (default 0.0.0.0:<port of --address>, else 0.0.0.0:5007)

The guest image comes from <data-dir>/images when it holds one, else from /var/lib/wrenn/images
(build it first with 'wrenn image build'; $WRENN_DATA_DIR, when set, names the image dir).`;

/** `register` and `run`: the same daemon, with or without a one-time registration first. */
function hostSubcommand(sub: "register" | "run", summary: string, usage: string): Subcommand {
  return {
    summary,
    usage,
    options,
    json: false,
    async run(argv) {
      const { values, positionals } = parse(argv, options, { json: false });
      positionalArgs(positionals, []);
      const args = agentArgs(sub, values);
      if (typeof args === "string") throw new UsageError(args);
      return runAgent(args, await imageDataDir(values["data-dir"]));
    },
  };
}

/** `wrenn host register|run`: a thin launcher of the host agent daemon. */
export const command = commandGroup(
  "host",
  "Register this machine as a host and start the host agent daemon (host register|run)",
  {
    register: hostSubcommand(
      "register",
      "Register with the control plane (one-time token), then run the agent",
      `Usage: wrenn host register --token-file <file|-> --address <ip:port> --control-plane <url> [--data-dir DIR] [--listen ADDR]

${COMMON}
Registers this machine with the control plane using a one-time token from POST /v1/hosts
(an admin creates it; valid 1 hour), saves the host credentials in
<data-dir>/host-credentials.json (0600) and starts heartbeating. The token never goes on a
command line (every local user sees those in ps): give it in a file or on stdin, or in the
environment variable WRENN_REGISTRATION_TOKEN instead of --token-file.

Options:
  --token-file FILE    file holding the one-time registration token (wrh_...); - reads stdin
  --address IP:PORT    where the control plane reaches this agent
  --control-plane URL  the control plane's base URL, e.g. http://10.0.0.2:8080
${LOCAL_OPTIONS}`,
    ),
    run: hostSubcommand(
      "run",
      "Run the agent again from the saved credentials",
      `Usage: wrenn host run [--data-dir DIR] [--listen ADDR]

${COMMON}
Starts the agent from the credentials 'wrenn host register' saved (after a reboot or a
crash: sandboxes whose VM kept running are taken over). --token-file, --address and
--control-plane only go with 'register'.

Options:
${LOCAL_OPTIONS}`,
    ),
  },
);

/**
 * The agent's command line for `sub`, or a usage problem. The token reaches the agent as the
 * same file (`--registration-token-file`; with `-` the agent reads the stdin it inherits) or
 * in the inherited WRENN_REGISTRATION_TOKEN, never as an argument.
 */
export function agentArgs(
  sub: "register" | "run",
  v: Partial<Record<keyof typeof options, string>>,
  env: NodeJS.ProcessEnv = process.env,
): string[] | string {
  const args: string[] = [];
  if (v.token) {
    return "--token is not accepted (ps shows it to every local user): use --token-file <file|-> or WRENN_REGISTRATION_TOKEN";
  }
  if (sub === "register") {
    const missing: string[] = (["address", "control-plane"] as const)
      .filter((k) => !v[k])
      .map((k) => `--${k}`);
    if (!v["token-file"] && !env.WRENN_REGISTRATION_TOKEN)
      missing.unshift("--token-file (or WRENN_REGISTRATION_TOKEN)");
    if (missing.length) return `missing ${missing.join(", ")}`;
    if (!/^[^:\s]+:\d{1,5}$/.test(v.address ?? "")) return "--address must look like 10.0.0.5:5007";
    if (!/^https?:\/\/\S+$/.test(v["control-plane"] ?? "")) return "--control-plane must be an http(s) URL";
    if (v["token-file"]) args.push("--registration-token-file", v["token-file"]);
    args.push("--address", v.address ?? "", "--control-plane", v["control-plane"] ?? "");
  } else {
    const stray = (["token-file", "address", "control-plane"] as const).filter((k) => v[k]);
    if (stray.length) return `${stray.map((k) => `--${k}`).join(", ")} only go with 'register'`;
  }
  const port = v.address?.split(":").pop();
  args.push("--listen", v.listen ?? `0.0.0.0:${port ?? "5007"}`);
  if (v["data-dir"]) args.push("--data-dir", v["data-dir"]);
  return args;
}

/** The agent's image dir (`WRENN_DATA_DIR` for it): see the usage text. */
async function imageDataDir(dataDir: string | undefined): Promise<string | undefined> {
  if (process.env.WRENN_DATA_DIR || !dataDir) return process.env.WRENN_DATA_DIR;
  const has = (dir: string) =>
    resolveGuestImage(dir).then(
      () => true,
      () => false,
    );
  return !(await has(dataDir)) && (await has(DEFAULT_DATA_DIR)) ? DEFAULT_DATA_DIR : dataDir;
}

/** Runs the agent in the foreground; signals to this process are passed on; resolves to its exit code. */
function runAgent(args: string[], imageDir: string | undefined): Promise<number> {
  const env = imageDir ? { ...process.env, WRENN_DATA_DIR: imageDir } : process.env;
  const child = spawn(process.execPath, [...agentNodeArgs(), ...args], { stdio: "inherit", env });
  // Ctrl-C reaches the agent directly (same process group); SIGTERM to this process alone must too.
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  process.on("SIGTERM", forward("SIGTERM"));
  process.on("SIGINT", () => {});
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? (signal ? ExitCode.failure : ExitCode.ok)));
  });
}
