/**
 * A bounded window of writes in flight. NATS answers each KV put or delete with its own
 * acknowledgement, and writes sent on one connection land in the stream in the order they were sent,
 * so a writer may start the next write before the last is acknowledged without reordering them;
 * waiting for each acknowledgement in turn costs a round trip per write. The window keeps at most
 * `size` writes unacknowledged, stops starting new ones after the first failure, and `drain()` is
 * the barrier a writer puts before whatever must come after every write of a batch (a generation
 * marker, the removals of what the batch replaced).
 */

/** Writes in flight per window unless told otherwise: enough to hide the round trip, few enough to bound memory. */
export const DEFAULT_WRITE_WINDOW = 512;

export class WriteWindow {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  /** Resolves the wait of add() for a free slot. */
  private slotFreed?: () => void;

  constructor(readonly size: number = DEFAULT_WRITE_WINDOW) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a write window holds at least one write (got ${size})`);
  }

  /** Writes started and not yet settled. */
  get pending(): number {
    return this.inFlight.size;
  }

  /**
   * Starts `write` once fewer than `size` writes are in flight. Throws (after every write in flight
   * settled) the first failure of any write started before, and then starts nothing more.
   */
  async add(write: () => Promise<unknown>): Promise<void> {
    while (this.inFlight.size >= this.size && !this.failure) await new Promise<void>((resolve) => (this.slotFreed = resolve));
    if (this.failure) {
      await this.settle();
      throw this.failure.error;
    }
    const running: Promise<void> = write().then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const tracked = running.finally(() => {
      this.inFlight.delete(tracked);
      const wake = this.slotFreed;
      this.slotFreed = undefined;
      wake?.();
    });
    this.inFlight.add(tracked);
  }

  /** Waits for every write started; throws the first failure among them. The window can be used again after. */
  async drain(): Promise<void> {
    await this.settle();
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure.error;
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

/** Runs `write` for each item in order with at most `size` in flight; resolves when all are acknowledged. */
export async function writeAll<T>(items: Iterable<T>, write: (item: T) => Promise<unknown>, size: number = DEFAULT_WRITE_WINDOW): Promise<void> {
  const window = new WriteWindow(size);
  try {
    for (const item of items) await window.add(() => write(item));
  } finally {
    await window.drain();
  }
}
