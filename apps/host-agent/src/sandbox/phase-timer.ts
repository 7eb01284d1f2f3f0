/** Durations of the consecutive phases of one operation, for debug logs. */
export class PhaseTimer {
  private last = performance.now();
  private readonly phases: Record<string, number> = {};

  mark(name: string): void {
    const now = performance.now();
    this.phases[name] = Math.round(now - this.last);
    this.last = now;
  }

  result(): Record<string, number> {
    return this.phases;
  }
}
