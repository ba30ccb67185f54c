/**
 * KV writes with a bounded window of unacknowledged operations: up to `window` puts and deletes are in
 * flight at once (nats.js pipelines them on one connection) instead of one awaited write at a time.
 * Writes of the same key are chained, so a delete and a later put of that key (or two puts) reach
 * the bucket in the order they were asked for, whatever the acknowledgements do.
 */
/** What it writes through: a bucket, or the platform's KvValues (values over max_payload in chunks). */
type KV = { put(key: string, value: Uint8Array): Promise<unknown>; delete(key: string): Promise<void> };

export type WriteOutcome = { ok: true } | { ok: false; error: Error };

export class WindowedKvWriter {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly lastOfKey = new Map<string, Promise<unknown>>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    /** The bucket a key is written to. */
    private readonly kv: (key: string) => Promise<KV>,
    private readonly window = 64,
  ) {}

  /** How many writes are queued or in flight. */
  get backlog(): number {
    return this.pending.size;
  }

  put(key: string, value: Uint8Array): Promise<WriteOutcome> {
    return this.enqueue(key, async (kv) => void (await kv.put(key, value)));
  }

  delete(key: string): Promise<WriteOutcome> {
    return this.enqueue(key, (kv) => kv.delete(key));
  }

  /** Resolves once every write asked for so far has been acknowledged or has failed. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private enqueue(key: string, write: (kv: KV) => Promise<void>): Promise<WriteOutcome> {
    const before = this.lastOfKey.get(key);
    const run = async (): Promise<WriteOutcome> => {
      if (before) await before;
      await this.acquire();
      try {
        await write(await this.kv(key));
        return { ok: true };
      } catch (error) {
        return { ok: false, error: error as Error };
      } finally {
        this.release();
      }
    };
    const promise = run();
    this.lastOfKey.set(key, promise);
    this.pending.add(promise);
    void promise.then(() => {
      this.pending.delete(promise);
      if (this.lastOfKey.get(key) === promise) this.lastOfKey.delete(key);
    });
    return promise;
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.window) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiting.shift();
    // the slot passes straight to the next waiter
    if (next) next();
    else this.inFlight--;
  }
}
