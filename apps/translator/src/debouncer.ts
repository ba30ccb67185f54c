/**
 * Runs a task after a burst of triggers has been quiet for `holdMs`, but never later than `maxMs`
 * after the first trigger of the burst, and never twice at once: triggers during a run start a new
 * burst that runs after it.
 */
export class Debouncer {
  private timer?: NodeJS.Timeout;
  private firstAt?: number;
  private running = false;
  private again = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly task: () => Promise<void>,
    private readonly holdMs: number,
    private readonly maxMs: number,
  ) {}

  trigger(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.firstAt ??= now;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    const due = Math.min(now + this.holdMs, this.firstAt + this.maxMs);
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - now));
  }

  /** Stops future runs; resolves when a run in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.idle;
  }

  private fire(): void {
    this.timer = undefined;
    this.firstAt = undefined;
    this.running = true;
    this.idle = this.task()
      .catch(() => undefined) // the task reports its own failures
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }
}
