/** The output a spinner draws on: stderr, or a fake in tests. */
export interface SpinnerStream {
  isTTY?: boolean;
  write(chunk: string): boolean;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const CLEAR = "\r\x1b[2K";

/** Options of {@link Spinner.start} and {@link withSpinner}. */
export interface SpinnerOptions {
  /** Where it draws (default stderr). */
  stream?: SpinnerStream;
  /** The command's data output (default stdout): a spinner only shows when it is a terminal too. */
  stdout?: { isTTY?: boolean };
  /** `--json`: never draw, whatever the terminals. */
  json?: boolean;
  intervalMs?: number;
}

/**
 * Progress on a terminal for long work. Draws only when both stderr and stdout are TTYs and
 * the output is not `--json`, so pipes, logs, `$(…)` captures and JSON consumers never see
 * a control sequence; otherwise every method does nothing.
 */
export class Spinner {
  private frame = 0;
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private label: string,
    private readonly stream: SpinnerStream | undefined,
  ) {}

  /** Starts a spinner with `label` (a no-op one when it must not draw, see {@link Spinner}). */
  static start(label: string, options: SpinnerOptions = {}): Spinner {
    const stream = options.stream ?? process.stderr;
    const stdout = options.stdout ?? process.stdout;
    const draws = !options.json && Boolean(stream.isTTY) && Boolean(stdout.isTTY);
    const spinner = new Spinner(label, draws ? stream : undefined);
    if (draws) {
      spinner.draw();
      spinner.timer = setInterval(() => spinner.draw(), options.intervalMs ?? 80);
      spinner.timer.unref();
    }
    return spinner;
  }

  /** True when it draws (a terminal, not `--json`): skip work that only feeds the label otherwise. */
  get active(): boolean {
    return this.stream !== undefined;
  }

  /** Replaces the label (drawn on the next frame): e.g. bytes done so far. */
  update(label: string): void {
    this.label = label;
  }

  /** Prints a line above the spinner (it is cleared and redrawn around it). */
  log(line: string, write: (text: string) => void = (t) => process.stdout.write(t)): void {
    if (!this.stream) {
      write(`${line}\n`);
      return;
    }
    this.stream.write(CLEAR);
    write(`${line}\n`);
    this.draw();
  }

  /** Ends with `✓ label (1.2s)` (or `final` instead of the label). */
  succeed(final?: string): void {
    this.finish("✓", final);
  }

  /** Ends with `✗ label`. */
  fail(): void {
    this.finish("✗");
  }

  private elapsed(): string {
    return ((performance.now() - this.started) / 1000).toFixed(1);
  }

  private draw(): void {
    this.stream?.write(`${CLEAR}${FRAMES[this.frame++ % FRAMES.length]} ${this.label} ${this.elapsed()}s`);
  }

  private finish(mark: string, final = this.label): void {
    if (!this.stream || this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write(`${CLEAR}${mark} ${final} (${this.elapsed()}s)\n`);
  }
}

/**
 * Runs `work` under a {@link Spinner} with `label`, ended with ✓ or ✗ as the work settles;
 * `work` gets the spinner to update its label.
 */
export async function withSpinner<T>(
  label: string,
  work: (spinner: Spinner) => Promise<T>,
  options: SpinnerOptions = {},
): Promise<T> {
  const spinner = Spinner.start(label, options);
  try {
    const result = await work(spinner);
    spinner.succeed();
    return result;
  } catch (err) {
    spinner.fail();
    throw err;
  }
}
