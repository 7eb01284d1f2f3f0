import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "@wrenn/common";

/**
 * The helper's program: one epoch timestamp (seconds, decimal) per line in,
 * `ok` or `err <reason>` per line out. `time` and `sys` are built into the
 * interpreter, so `-S` (no site import) keeps it small and quick to start.
 */
const HELPER_SOURCE = `
import sys, time
for line in sys.stdin:
    try:
        time.clock_settime(time.CLOCK_REALTIME, float(line))
        sys.stdout.write("ok\\n")
    except Exception as e:
        sys.stdout.write("err %s\\n" % e)
    sys.stdout.flush()
`;

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Steps the guest's system clock (envd runs as root in the guest; a restored
 * snapshot's clock stands where it was captured). A fork + exec of `date`
 * per step costs hundreds of milliseconds under software emulation right after
 * a restore, on the path of every sandbox's first `/init`. So a small helper
 * process is started once, before the template is captured, and lives on in
 * every sandbox made from it: a step is then one line over a pipe. Without the
 * helper (no python3 in the image, or it died) a step falls back to `date`.
 */
export class SystemClock {
  private helper: ChildProcess | undefined;
  private readonly waiters: Waiter[] = [];
  private received = "";
  private queue: Promise<void> = Promise.resolve();
  private inFlight = 0;

  constructor(private readonly logger: Logger) {}

  /** Starts the helper (idempotent); failures only mean steps use `date`. */
  start(python = "python3"): void {
    if (this.helper) return;
    let child: ChildProcess;
    try {
      child = spawn(python, ["-I", "-S", "-u", "-c", HELPER_SOURCE], { stdio: ["pipe", "pipe", "ignore"] });
    } catch (err) {
      this.logger.warn({ err }, "clock helper did not start; clock steps fork date");
      return;
    }
    this.helper = child;
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => this.onOutput(chunk));
    // A write to a helper that just died must not take envd down.
    child.stdin?.on("error", () => undefined);
    const gone = (err?: Error) => {
      if (this.helper !== child) return;
      this.helper = undefined;
      for (const w of this.waiters.splice(0)) w.reject(err ?? new Error("clock helper exited"));
    };
    child.once("error", (err) => {
      this.logger.warn({ err }, "clock helper failed; clock steps fork date");
      gone(err);
    });
    child.once("exit", () => gone());
    // The helper must never keep envd (or a test process) alive on its own.
    child.unref();
    for (const s of [child.stdin, child.stdout]) (s as { unref?: () => void } | null)?.unref?.();
  }

  /** Sets the clock to `epochMs`; steps run one at a time, in call order. */
  set(epochMs: number): Promise<void> {
    this.inFlight++;
    const step = this.queue.then(() => this.step(epochMs));
    this.queue = step
      .catch(() => undefined)
      .finally(() => {
        this.inFlight--;
      });
    return step;
  }

  /**
   * While a step is in flight: a promise that settles once every step asked for so far
   * finished (never rejects). Undefined when the clock is not being stepped.
   */
  get pending(): Promise<void> | undefined {
    return this.inFlight > 0 ? this.queue : undefined;
  }

  /** Ends the helper. */
  close(): void {
    const child = this.helper;
    this.helper = undefined;
    child?.kill();
  }

  private async step(epochMs: number): Promise<void> {
    const seconds = (epochMs / 1000).toFixed(3);
    const child = this.helper;
    if (child?.stdin?.writable) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.waiters.push({ resolve, reject });
          child.stdin?.write(`${seconds}\n`);
        });
        return;
      } catch (err) {
        this.logger.warn({ err }, "clock helper could not set the clock; trying date");
      }
    }
    await forkDate(seconds);
  }

  private onOutput(chunk: string): void {
    this.received += chunk;
    for (let nl = this.received.indexOf("\n"); nl >= 0; nl = this.received.indexOf("\n")) {
      const line = this.received.slice(0, nl);
      this.received = this.received.slice(nl + 1);
      const waiter = this.waiters.shift();
      if (line === "ok") waiter?.resolve();
      else waiter?.reject(new Error(`clock helper: ${line.replace(/^err /, "")}`));
    }
  }
}

function forkDate(seconds: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn("date", ["-u", "-s", `@${seconds}`], { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`date exited with ${code}`))));
  });
}
