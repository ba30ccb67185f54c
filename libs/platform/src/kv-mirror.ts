/**
 * A local copy of a KV bucket, kept current by a watcher that is checked, not trusted: after a
 * server restart or a quiet spell with missed revisions the watch is re-created, and the fresh
 * initial values are diffed against the copy, so listeners see exactly the puts and deletes that
 * happened and nothing twice. Values that do not decode are logged with their key and left out.
 */
import type { KV, KvEntry } from 'nats';
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
  /** How often the watch is checked against the bucket's last revision. */
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
  private suspectSince = 0;
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

  private restartWatch(why: string): void {
    if (this.stopped) return;
    if (this.failedWatches <= 1) this.options.logger.log(`re-watching bucket ${this.options.bucket}: ${why}`);
    this.suspectSince = 0;
    this.stopCurrent?.();
    this.startWatch();
  }

  private startWatch(): void {
    const generation = ++this.watchGeneration;
    const fresh = new Map<string, Held<T>>();
    let initial = true;
    let stopIterator: (() => void) | undefined;
    let cancelled = false;
    this.stopCurrent = () => {
      cancelled = true;
      stopIterator?.();
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
        if (cancelled) {
          iterator.stop();
          return;
        }
        for await (const entry of iterator) {
          if (generation !== this.watchGeneration) break;
          this.lastRevision = Math.max(this.lastRevision, entry.revision);
          if (initial) this.collect(fresh, entry);
          else this.apply(entry);
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

  /** Restarts the watch when the bucket holds revisions the watch never delivered for two checks. */
  private async check(): Promise<void> {
    if (this.stopped || !this.kv || !this.nats.connected) return;
    try {
      const status = await this.kv.status();
      const last = status.streamInfo.state.last_seq;
      if (last > this.lastRevision) {
        if (this.suspectSince === 0) this.suspectSince = Date.now();
        else this.restartWatch(`watch is behind (bucket at revision ${last}, watch at ${this.lastRevision})`);
      } else this.suspectSince = 0;
    } catch (error) {
      this.options.logger.warn(`checking ${this.options.bucket} failed: ${(error as Error).message}`);
    }
  }
}
