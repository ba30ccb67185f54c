/**
 * Runs a task for a trigger that comes after a quiet time (none in the last `holdMs`) at once, on the
 * next turn of the event loop, so that one change costs no hold-off; triggers that follow closer
 * than that make a burst, run when it has been quiet for `holdMs` but never later than `maxMs` after
 * its first trigger. Never twice at once: triggers during a run start a burst that runs after it —
 * at once after a run that was itself at once (the rest of one change that arrived in two parts, as
 * a Service and its EndpointSlice written one after the other), after the hold-off otherwise. The
 * ceiling of a burst that follows a run is at least as long as that run took, counted from its end:
 * while changes keep coming (thousands of objects at a cold start), runs of seconds each take at
 * most half the time, instead of one starting as soon as the last ended.
 */
export class Debouncer {
  private timer?: NodeJS.Timeout;
  private firstAt?: number;
  private lastTriggerAt?: number;
  private leading = false;
  private running = false;
  private again = false;
  private stopped = false;
  /** How long the last run took (ms). */
  private lastRunMs = 0;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly task: () => Promise<void>,
    private readonly holdMs: number,
    private readonly maxMs: number,
  ) {}

  trigger(): void {
    if (this.stopped) return;
    const now = Date.now();
    const quiet = this.lastTriggerAt === undefined || now - this.lastTriggerAt >= this.holdMs;
    this.lastTriggerAt = now;
    this.firstAt ??= now;
    if (this.running) {
      this.again = true;
      return;
    }
    // a run about to start at once takes every trigger until it starts
    if (this.leading) return;
    if (quiet && !this.timer) {
      this.leading = true;
      this.timer = setTimeout(() => this.fire(), 0);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    const due = Math.min(now + this.holdMs, this.firstAt + Math.max(this.maxMs, this.lastRunMs));
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - now));
  }

  /** Stops future runs; resolves when a run in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.idle;
  }

  private fire(kind: 'at-once' | 'follow-up' | 'held' = this.leading ? 'at-once' : 'held'): void {
    this.timer = undefined;
    this.leading = false;
    this.firstAt = undefined;
    this.running = true;
    const started = Date.now();
    this.idle = this.task()
      .catch(() => undefined) // the task reports its own failures
      .finally(() => {
        this.running = false;
        this.lastRunMs = Date.now() - started;
        if (!this.again || this.stopped) return;
        this.again = false;
        // the burst that came during the run counts from its end
        this.firstAt = Date.now();
        if (kind === 'at-once') {
          this.leading = true;
          this.timer = setTimeout(() => this.fire('follow-up'), 0);
        } else {
          this.trigger();
        }
      });
  }
}
