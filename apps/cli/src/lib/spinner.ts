/** The output a spinner draws on: stderr, or a fake in tests. */
export interface SpinnerStream {
  isTTY?: boolean;
  write(chunk: string): boolean;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Options of {@link withSpinner}. */
export interface SpinnerOptions {
  stream?: SpinnerStream;
  intervalMs?: number;
}

/**
 * Runs `work` while a spinner with `label` turns on the stream — only when that stream is a
 * TTY, so pipes, logs and `--json` consumers never see control sequences. The line is
 * replaced by `✓ label (1.2s)` or `✗ label` when the work settles.
 */
export async function withSpinner<T>(label: string, work: () => Promise<T>, options: SpinnerOptions = {}) {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return work();
  const started = performance.now();
  let frame = 0;
  const draw = () => {
    const elapsed = ((performance.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label} ${elapsed}s`);
  };
  draw();
  const timer = setInterval(draw, options.intervalMs ?? 80);
  const finish = (mark: string) => {
    clearInterval(timer);
    const elapsed = ((performance.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K${mark} ${label} (${elapsed}s)\n`);
  };
  try {
    const result = await work();
    finish("✓");
    return result;
  } catch (err) {
    finish("✗");
    throw err;
  }
}
