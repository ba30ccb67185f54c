/**
 * A local copy of a KV bucket, kept current by a watcher that is checked, not trusted: after a
 * server restart, or when the watch delivers nothing while the bucket's head moves on, the watch is
 * re-created (with backoff), its abandoned consumer deleted, and the fresh initial values are diffed
 * against the copy, so listeners see exactly the puts and deletes that happened and nothing twice.
 * A watch that is making progress, a long initial replay on a starved CPU included, is never
 * restarted. Values that do not decode are logged with their key and left out.
 */
import type { JetStreamManager, KV, KvEntry } from 'nats';
import type { NatsClient } from './nats.js';
import type { Logger } from './logger.js';

export interface MirrorChange<T> {
  op: 'put' | 'delete';
  key: string;
  value?: T;
  previous?: T;
  revision: number;
  /** When the server stored the entry (live changes only; a resync after a restart has none). */
  at?: Date;
}

export interface KvMirrorOptions<T> {
  bucket: string;
  decode: (key: string, bytes: Uint8Array) => T;
  /** Create the bucket if missing (the writer) or wait for it (a reader). */
  create?: boolean;
  /**
   * How often the watch is checked against the bucket's last revision. A watch that delivered
   * nothing for two checks while behind is restarted; each further restart without catching up
   * doubles that patience (up to 16 intervals).
   */
  checkIntervalMs?: number;
  logger: Logger;
  onWaiting?: (reason: string) => void;
}

interface Held<T> {
  value: T;
  revision: number;
}

export class KvMirror<T> {
  private readonly entries = new Map<string, Held<T>>();
  private readonly listeners = new Set<(changes: MirrorChange<T>[]) => void>();
  private kv?: KV;
  private watchGeneration = 0;
  private lastRevision = 0;
  private stopped = false;
  private isSynced = false;
  private syncedResolve!: () => void;
  readonly synced: Promise<void> = new Promise((resolve) => (this.syncedResolve = resolve));
  private checkTimer?: NodeJS.Timeout;
  private stopCurrent?: () => void;
  /** Entries the watches delivered, ever: a check compares it with the last check's to see progress. */
  private delivered = 0;
  private deliveredAtCheck = 0;
  /** When a check first found the watch behind the bucket with nothing delivered since (0: not so). */
  private behindSince = 0;
  /** Restarts for a stall since the watch last caught up: the backoff's exponent. */
  private stallRestarts = 0;
  /** The consumers of the current watch, by name: nats.js re-creates an ordered consumer on its own. */
  private consumers?: ConsumerTracker;
  private decodeFailures = 0;
  private failedWatches = 0;

  constructor(
    private readonly nats: NatsClient,
    private readonly options: KvMirrorOptions<T>,
  ) {}

  get isInitiallySynced(): boolean {
    return this.isSynced;
  }

  get size(): number {
    return this.entries.size;
  }

  get failures(): number {
    return this.decodeFailures;
  }

  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  values(): [string, T][] {
    return [...this.entries].map(([key, held]) => [key, held.value]);
  }

  /** values() without the copy: walked lazily, so whoever only needs a few pays for a few. */
  *entriesNow(): IterableIterator<[string, T]> {
    for (const [key, held] of this.entries) yield [key, held.value];
  }

  /** Listeners get changes in batches: a whole re-sync arrives as one batch. */
  onChange(listener: (changes: MirrorChange<T>[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    const { bucket, create, onWaiting } = this.options;
    this.kv = create ? await this.nats.bucket(bucket) : await this.nats.bindBucket(bucket, onWaiting);
    this.nats.onReconnect(() => this.restartWatch('NATS reconnected'));
    this.startWatch();
    const interval = this.options.checkIntervalMs ?? 5000;
    this.checkTimer = setInterval(() => void this.check(), interval);
    this.checkTimer.unref();
    await this.synced;
  }

  stop(): void {
    this.stopped = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.stopCurrent?.();
  }

  /** Consumers on the bucket's stream that this mirror's watches created and still use. */
  get consumerNames(): string[] {
    return this.consumers?.current() ?? [];
  }

  private restartWatch(why: string): void {
    if (this.stopped) return;
    if (this.failedWatches <= 1) this.options.logger.log(`re-watching bucket ${this.options.bucket}: ${why}`);
    this.behindSince = 0;
    this.stopCurrent?.();
    this.startWatch();
  }

  private startWatch(): void {
    const generation = ++this.watchGeneration;
    const fresh = new Map<string, Held<T>>();
    let initial = true;
    let stopIterator: (() => void) | undefined;
    let cancelled = false;
    const consumers = new ConsumerTracker(() => this.nats.jsm(), `KV_${this.options.bucket}`);
    this.consumers = consumers;
    this.stopCurrent = () => {
      cancelled = true;
      stopIterator?.();
      // an abandoned consumer would keep its pending messages on the server until it times out
      consumers.abandonAll();
    };
    const finishInitial = () => {
      if (!initial || generation !== this.watchGeneration) return;
      initial = false;
      this.failedWatches = 0;
      this.resync(fresh);
    };
    void (async () => {
      try {
        const iterator = await this.kv!.watch({ initializedFn: () => finishInitial() });
        stopIterator = () => iterator.stop();
        consumers.follow(iterator);
        if (cancelled) {
          iterator.stop();
          consumers.abandonAll();
          return;
        }
        let sliceStart = performance.now();
        for await (const entry of iterator) {
          if (generation !== this.watchGeneration) break;
          this.delivered++;
          this.lastRevision = Math.max(this.lastRevision, entry.revision);
          if (initial) this.collect(fresh, entry);
          else this.apply(entry);
          // Queued entries are handed over in microtasks, which starve the socket: give it a turn
          // now and then, so heartbeats and flow control are answered during a long replay.
          if (performance.now() - sliceStart > YIELD_EVERY_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            sliceStart = performance.now();
          }
        }
      } catch (error) {
        if (this.stopped || generation !== this.watchGeneration) return;
        this.failedWatches++;
        if (this.failedWatches === 1 || this.failedWatches % 20 === 0) {
          this.options.logger.warn(`watch of ${this.options.bucket} failed (${this.failedWatches}x): ${(error as Error).message}`);
        }
      }
      if (!this.stopped && generation === this.watchGeneration) {
        const delay = Math.min(250 * 2 ** Math.min(this.failedWatches, 5), 5000);
        setTimeout(() => generation === this.watchGeneration && this.restartWatch('watch ended'), delay).unref();
      }
    })();
  }

  private decode(entry: KvEntry): T | undefined {
    try {
      return this.options.decode(entry.key, entry.value);
    } catch (error) {
      this.decodeFailures++;
      this.options.logger.warn(`${this.options.bucket}: ignoring key ${entry.key}: ${(error as Error).message}`);
      return undefined;
    }
  }

  private collect(fresh: Map<string, Held<T>>, entry: KvEntry): void {
    if (entry.operation !== 'PUT') {
      fresh.delete(entry.key);
      return;
    }
    const value = this.decode(entry);
    if (value === undefined) fresh.delete(entry.key);
    else fresh.set(entry.key, { value, revision: entry.revision });
  }

  private resync(fresh: Map<string, Held<T>>): void {
    const changes: MirrorChange<T>[] = [];
    for (const [key, held] of this.entries) {
      if (!fresh.has(key)) changes.push({ op: 'delete', key, previous: held.value, revision: held.revision });
    }
    for (const [key, held] of fresh) {
      const previous = this.entries.get(key);
      if (previous && previous.revision === held.revision) continue;
      changes.push({ op: 'put', key, value: held.value, previous: previous?.value, revision: held.revision });
    }
    this.entries.clear();
    for (const [key, held] of fresh) this.entries.set(key, held);
    this.emit(changes);
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncedResolve();
    }
  }

  private apply(entry: KvEntry): void {
    const previous = this.entries.get(entry.key);
    if (entry.operation !== 'PUT') {
      if (!previous) return;
      this.entries.delete(entry.key);
      this.emit([{ op: 'delete', key: entry.key, previous: previous.value, revision: entry.revision, at: entry.created }]);
      return;
    }
    const value = this.decode(entry);
    if (value === undefined) {
      if (previous) {
        this.entries.delete(entry.key);
        this.emit([{ op: 'delete', key: entry.key, previous: previous.value, revision: entry.revision }]);
      }
      return;
    }
    this.entries.set(entry.key, { value, revision: entry.revision });
    this.emit([{ op: 'put', key: entry.key, value, previous: previous?.value, revision: entry.revision, at: entry.created }]);
  }

  private emit(changes: MirrorChange<T>[]): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (error) {
        this.options.logger.error(`${this.options.bucket}: change listener failed: ${(error as Error).stack ?? error}`);
      }
    }
  }

  /**
   * Restarts the watch only when it is stalled: the bucket holds revisions it never delivered and it
   * delivered nothing at all for a while (two checks, doubled with every stall restart that did not
   * catch up). A watch delivering anything, an initial replay included, is left to finish.
   */
  private async check(): Promise<void> {
    if (this.stopped || !this.kv || !this.nats.connected) return;
    try {
      const status = await this.kv.status();
      this.consumers?.dropReplaced();
      const head = status.streamInfo.state.last_seq;
      const progressed = this.delivered !== this.deliveredAtCheck;
      this.deliveredAtCheck = this.delivered;
      if (head <= this.lastRevision) {
        this.behindSince = 0;
        if (this.isSynced) this.stallRestarts = 0;
        return;
      }
      if (progressed) {
        this.behindSince = 0;
        return;
      }
      const now = Date.now();
      if (this.behindSince === 0) {
        this.behindSince = now;
        return;
      }
      const interval = this.options.checkIntervalMs ?? 5000;
      const patience = interval * 2 ** Math.min(this.stallRestarts, 4);
      if (now - this.behindSince < patience) return;
      this.stallRestarts++;
      this.restartWatch(`watch delivered nothing for ${now - this.behindSince} ms while behind (bucket at revision ${head}, watch at ${this.lastRevision})`);
    } catch (error) {
      this.options.logger.warn(`checking ${this.options.bucket} failed: ${(error as Error).message}`);
    }
  }
}

/** How long the mirror works through queued entries before it lets the event loop read the socket. */
const YIELD_EVERY_MS = 20;

interface WatchSubscription {
  info?: { name?: string; config?: { name?: string } } | null;
}

/**
 * The consumers one watch used. nats.js keeps a watch going by re-creating its ordered consumer
 * (after missed heartbeats or a gap) and leaves the old one on the server until it times out; this
 * deletes those, and every one of a watch that is given up.
 */
class ConsumerTracker {
  private subscription?: WatchSubscription;
  private readonly seen = new Set<string>();

  constructor(
    private readonly manager: () => Promise<JetStreamManager>,
    private readonly stream: string,
  ) {}

  follow(iterator: unknown): void {
    // the watch's subscription is not part of nats.js's typed surface: read it defensively
    this.subscription = (iterator as { _data?: WatchSubscription })._data;
    this.note();
  }

  current(): string[] {
    const info = this.subscription?.info;
    return [...new Set([info?.config?.name, info?.name].filter((name): name is string => !!name))];
  }

  /** Deletes consumers the watch moved away from. */
  dropReplaced(): void {
    const current = new Set(this.current());
    this.note();
    for (const name of [...this.seen]) {
      if (current.has(name)) continue;
      this.seen.delete(name);
      this.remove(name);
    }
  }

  abandonAll(): void {
    this.note();
    for (const name of this.seen) this.remove(name);
    this.seen.clear();
    this.subscription = undefined;
  }

  private note(): void {
    for (const name of this.current()) this.seen.add(name);
  }

  private remove(name: string): void {
    // best effort: the server removes an ephemeral consumer without interest in the end anyway
    void this.manager()
      .then((jsm) => jsm.consumers.delete(this.stream, name))
      .catch(() => undefined);
  }
}
