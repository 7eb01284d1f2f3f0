import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../main.ts", import.meta.url));

/** A `wrenn up` child process started by {@link spawnUp}. */
export interface UpProcess {
  child: ChildProcess;
  /** Its exit code once it exits. */
  exit: Promise<number | null>;
  /** Resolves when it printed `ready.`; rejects with its output when it exits or times out first. */
  ready: Promise<void>;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
}

/**
 * For the `wrenn up` tests: starts `wrenn up <args>` as a subprocess with `env`, but never
 * with the caller's DATABASE_URL, REDIS_URL, JWT_SECRET or WRENN_DATA_DIR (up brings its own),
 * and records it in `children` so the test's afterAll can kill what is left.
 */
export function spawnUp(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; readyTimeoutMs: number; children: ChildProcess[] },
): UpProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  for (const name of ["DATABASE_URL", "REDIS_URL", "JWT_SECRET", "WRENN_DATA_DIR"]) delete env[name];
  const child = spawn(process.execPath, ["--import", "tsx", cli, "up", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  o.children.push(child);
  let output = "";
  const onData = (b: Buffer) => {
    output += b.toString();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = (async () => {
    const deadline = Date.now() + o.readyTimeoutMs;
    while (!output.includes("ready.")) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`wrenn up did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { child, exit, ready, output: () => output };
}
