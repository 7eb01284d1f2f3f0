/** One progress report from the image build. */
export interface BuildProgress {
  /** Short step name, e.g. `rootfs-base`. */
  step: string;
  /** `start`/`done` bracket a step (`done` carries `elapsedMs`); `info` is a detail line; `cached` means skipped. */
  status: "start" | "done" | "info" | "cached";
  message: string;
  elapsedMs?: number;
}

/** Receives {@link BuildProgress} reports. */
export type ProgressListener = (event: BuildProgress) => void;

/** Runs named steps, reporting their start, details and duration to a listener. */
export class StepReporter {
  constructor(private readonly listener: ProgressListener = () => {}) {}

  /** Reports a detail line for `step`. */
  info(step: string, message: string): void {
    this.listener({ step, status: "info", message });
  }

  /** Reports that `step` was skipped because its result is cached. */
  cached(step: string, message: string): void {
    this.listener({ step, status: "cached", message });
  }

  /** Runs `fn` as `step`; the result's summary (if `describe` is given) goes into the `done` report. */
  async step<T>(
    step: string,
    message: string,
    fn: () => Promise<T>,
    describe?: (result: T) => string,
  ): Promise<T> {
    const started = performance.now();
    this.listener({ step, status: "start", message });
    const result = await fn();
    const elapsedMs = Math.round(performance.now() - started);
    this.listener({ step, status: "done", message: describe ? describe(result) : message, elapsedMs });
    return result;
  }
}
