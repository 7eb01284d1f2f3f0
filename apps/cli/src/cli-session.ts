import { spawn } from "node:child_process";
import { cliCommandLine, shellQuote, spawnCliBytes } from "./spawn-cli.ts";

/** What a `wrenn` run printed (as text) and how it exited. */
export interface CliTextRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Extra environment of one run: variables added or overridden (undefined removes one). */
export type EnvChanges = Record<string, string | undefined>;

/**
 * Runs of `wrenn` (from its sources, as their own processes) for tests, each with HOME set to
 * `home()` (read at each run, so a directory made in `beforeAll` works) and no XDG_CONFIG_HOME:
 * what a user with that home directory would see.
 */
export function cliSession(home: () => string) {
  const env = (extra: EnvChanges = {}): NodeJS.ProcessEnv => {
    const all: EnvChanges = { ...process.env, HOME: home(), ...extra };
    delete all.XDG_CONFIG_HOME;
    for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
    return all as NodeJS.ProcessEnv;
  };

  /** Runs a bash command line in that environment; answers its exit code and stdout (stderr inherited). */
  const bash = (script: string) =>
    new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      // Asynchronous on purpose: a test process hosting the deployment would stall on spawnSync.
      const child = spawn("bash", ["-c", script], { env: env(), stdio: ["ignore", "pipe", "inherit"] });
      let stdout = "";
      child.stdout.on("data", (b: Buffer) => {
        stdout += b.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout }));
    });

  return {
    /** Runs `wrenn <args>`; `input` is its stdin (closed after it). */
    async run(args: string[], opts: { env?: EnvChanges; input?: Buffer } = {}): Promise<CliTextRun> {
      const r = await spawnCliBytes(args, { env: env(opts.env), input: opts.input });
      return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    /** Like `run`, with stdout as bytes (binary output). */
    async bytes(args: string[], input?: Buffer) {
      const r = await spawnCliBytes(args, { env: env(), input });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr.toString() };
    },
    bash,
    /** Runs `wrenn <args>` on a pseudo-terminal (util-linux `script`): stdin, stdout and stderr a TTY. */
    async onTerminal(args: string[]) {
      const r = await bash(`script -qec ${shellQuote(cliCommandLine(args))} /dev/null`);
      // The terminal turns \n into \r\n; the spinner redraws with \r and erase-line.
      return { code: r.code, output: r.stdout.replaceAll("\r\n", "\n") };
    },
  };
}
