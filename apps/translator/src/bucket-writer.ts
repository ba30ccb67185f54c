/**
 * Keeps one KV bucket equal to a desired set of values while writing as little as possible: only
 * keys whose bytes changed are put, keys no longer wanted are deleted. What the bucket holds is known
 * from a mirror of it (read at start, so a restart rewrites nothing that is already right) plus this
 * writer's own writes; a change made by anyone else is noticed and reported as drift. Writes are
 * pipelined (a bounded window of unacknowledged ones, in order), with every put of a batch
 * acknowledged before its first delete.
 */
import { contentHash } from '@tendril/contract';
import { KvMirror, WriteWindow, type KvValues, type Logger, type NatsClient } from '@tendril/platform';

export interface Stored<T> {
  /** sha256 of the stored bytes */
  hash: string;
  value: T;
}

interface Known<T> {
  /** undefined: deleted (kept as a tombstone so that a late echo of an older put is ignored) */
  stored?: Stored<T>;
  revision: number;
}

export interface DesiredValue {
  bytes: Uint8Array;
  /** contentHash(bytes), when the caller has it already. */
  hash?: string;
}

export interface WriteOptions {
  putOrder?: (a: string, b: string) => number;
  deleteOrder?: (a: string, b: string) => number;
  /** Protects keys this writer does not own from deletion. */
  keep?: (key: string) => boolean;
}

export interface WriteResult {
  puts: number;
  deletes: number;
  /** Keys put that the bucket did not hold, keys put over another value, keys deleted; each sorted. */
  added: string[];
  changed: string[];
  removed: string[];
}

export class BucketWriter<T> {
  private readonly mirror: KvMirror<Stored<T>>;
  private readonly known = new Map<string, Known<T>>();
  /** Writes on their way (undefined: a delete): the watch may deliver their echo before the put's acknowledgement. */
  private readonly inFlight = new Map<string, Stored<T> | undefined>();
  private store?: KvValues;

  constructor(
    private readonly nats: NatsClient,
    readonly bucket: string,
    decode: (key: string, bytes: Uint8Array) => T,
    private readonly logger: Logger,
    private readonly onDrift: (key: string) => void,
    /** Asked before every put and delete: a replica that lost its lease stops in the middle of a batch. */
    private readonly canWrite: () => boolean = () => true,
    /** Puts or deletes in flight at once. */
    private readonly windowSize?: number,
  ) {
    // The echo of this writer's own put is not decoded again: its bytes hash to what was written.
    const stored = (key: string, bytes: Uint8Array): Stored<T> => {
      const hash = contentHash(bytes);
      const mine = this.inFlight.get(key) ?? this.known.get(key)?.stored;
      return mine?.hash === hash ? mine : { hash, value: decode(key, bytes) };
    };
    this.mirror = new KvMirror(nats, { bucket, create: true, logger, decode: stored });
  }

  async start(): Promise<void> {
    // values over max_payload go in chunks; the mirror knows the chunks a replaced value leaves
    this.store = await this.nats.values(this.bucket, (key) => this.mirror.chunkedHead(key));
    await this.mirror.start();
    for (const [key, stored] of this.mirror.values()) this.known.set(key, { stored, revision: 0 });
    this.mirror.onChange((changes) => {
      for (const change of changes) {
        const known = this.known.get(change.key);
        if (known && change.revision <= known.revision) continue; // an echo of our own write, or older
        const stored = change.op === 'put' ? change.value : undefined;
        const ownEcho = this.inFlight.has(change.key) && this.inFlight.get(change.key)?.hash === stored?.hash;
        if (ownEcho || known?.stored?.hash === stored?.hash) {
          this.known.set(change.key, { ...(stored ? { stored } : {}), revision: change.revision });
          continue;
        }
        this.known.set(change.key, { ...(stored ? { stored } : {}), revision: change.revision });
        this.onDrift(change.key);
      }
    });
  }

  stop(): void {
    this.mirror.stop();
  }

  private checkWriting(): void {
    if (!this.canWrite()) throw new NotWritingError(`${this.bucket}: not the writer any more (lease lost); stopped before the next write`);
  }

  /** What the bucket holds now, as far as this writer knows. */
  current(): Map<string, Stored<T>> {
    const out = new Map<string, Stored<T>>();
    for (const [key, known] of this.known) if (known.stored) out.set(key, known.stored);
    return out;
  }

  get(key: string): Stored<T> | undefined {
    return this.known.get(key)?.stored;
  }

  /**
   * Puts changed keys in `putOrder` order, then deletes unwanted keys in `deleteOrder` order (both
   * compare keys). `keep` protects keys this writer does not own from deletion.
   */
  async write(desired: Map<string, DesiredValue & { value: T }>, options: WriteOptions = {}): Promise<WriteResult> {
    const deletes = [...this.current().keys()].filter((key) => !desired.has(key) && !options.keep?.(key));
    return this.apply(this.changedOf(desired, desired.keys()), deletes, options);
  }

  /**
   * write() for some keys only: those of `keys` that `desired` holds are put when changed, the others
   * deleted when held. The cost is in proportion to `keys`, not to the bucket.
   */
  async writeKeys(desired: Map<string, DesiredValue & { value: T }>, keys: Iterable<string>, options: WriteOptions = {}): Promise<WriteResult> {
    const wanted: string[] = [];
    const deletes: string[] = [];
    for (const key of new Set(keys)) {
      if (desired.has(key)) wanted.push(key);
      else if (this.get(key) && !options.keep?.(key)) deletes.push(key);
    }
    return this.apply(this.changedOf(desired, wanted), deletes, options);
  }

  private changedOf(desired: Map<string, DesiredValue & { value: T }>, keys: Iterable<string>): { key: string; value: DesiredValue & { value: T }; hash: string }[] {
    const puts: { key: string; value: DesiredValue & { value: T }; hash: string }[] = [];
    for (const key of keys) {
      const value = desired.get(key)!;
      const hash = value.hash ?? contentHash(value.bytes);
      if (this.get(key)?.hash !== hash) puts.push({ key, value, hash });
    }
    return puts;
  }

  private async apply(puts: { key: string; value: DesiredValue & { value: T }; hash: string }[], deletes: string[], options: WriteOptions): Promise<WriteResult> {
    const kv = this.store!;
    puts.sort((a, b) => (options.putOrder ?? defaultOrder)(a.key, b.key));
    deletes.sort(options.deleteOrder ?? defaultOrder);
    const added: string[] = [];
    const changed: string[] = [];
    const window = new WriteWindow(this.windowSize);
    try {
      for (const { key, value, hash } of puts) {
        this.checkWriting();
        (this.get(key) ? changed : added).push(key);
        this.inFlight.set(key, { hash, value: value.value });
        await window.add(async () => {
          try {
            const revision = await kv.put(key, value.bytes);
            const echoed = this.known.get(key);
            this.known.set(key, { stored: { hash, value: value.value }, revision: Math.max(revision, echoed?.revision ?? 0) });
          } finally {
            this.inFlight.delete(key);
          }
        });
      }
      // removals only once what replaces them is stored
      await window.drain();
      for (const key of deletes) {
        this.checkWriting();
        this.inFlight.set(key, undefined);
        await window.add(async () => {
          try {
            await kv.delete(key);
            this.known.set(key, { revision: this.known.get(key)?.revision ?? 0 });
          } finally {
            this.inFlight.delete(key);
          }
        });
      }
      await window.drain();
    } finally {
      // nothing of this batch is left in flight when it returns or fails: what follows (the generation
      // marker, a retry) comes after all of it
      await window.drain().catch(() => undefined);
    }
    if (puts.length + deletes.length > 0) this.logger.log(`${this.bucket}: ${puts.length} put, ${deletes.length} deleted`);
    return { puts: puts.length, deletes: deletes.length, added: added.sort(defaultOrder), changed: changed.sort(defaultOrder), removed: [...deletes].sort(defaultOrder) };
  }
}

export class NotWritingError extends Error {
  override readonly name = 'NotWritingError';
}

function defaultOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
