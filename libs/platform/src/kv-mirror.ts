/**
 * A local copy of a KV bucket, kept current by a watcher that is checked, not trusted: after a
 * server restart, or when the watch delivers nothing while the bucket's head moves on, the watch is
 * re-created (with backoff), its abandoned consumer deleted, and the fresh initial values are diffed
 * against the copy, so listeners see exactly the puts and deletes that happened and nothing twice.
 * A watch that is making progress, a long initial replay on a starved CPU included, is never
 * restarted. Values split into chunks (libs/contract large-values.ts) are assembled and checked
 * before listeners see them; chunk keys are never entries. Values that do not decode are logged with
 * their key and left out.
 */
import type { JetStreamManager, KV, KvEntry } from 'nats';
import { chunkKeys, decodeChunkedHead, parseChunkKey, sha256Hex, type ChunkedHead } from '@tendril/contract';
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
  /** Chunks not yet assembled into a value, by chunk key. */
  private chunks = new Map<string, Uint8Array>();
  /** Heads whose value is chunked, by key: what a writer replacing them must delete. */
  private chunkedHeads = new Map<string, ChunkedHead>();
  /** Live heads that arrived before all their chunks, by key. */
  private readonly waiting = new Map<string, { entry: KvEntry; head: ChunkedHead }>();
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

  /** The chunk list of the key's current value, when it is chunked. */
  chunkedHead(key: string): ChunkedHead | undefined {
    return this.chunkedHeads.get(key);
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
    const replay: Replay = { chunks: new Map(), heads: new Map(), pending: new Map() };
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
      this.assembleReplay(fresh, replay);
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
          if (initial) this.collect(fresh, replay, entry);
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

  private decode(key: string, bytes: Uint8Array): T | undefined {
    try {
      return this.options.decode(key, bytes);
    } catch (error) {
      this.decodeFailures++;
      this.options.logger.warn(`${this.options.bucket}: ignoring key ${key}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** The chunk list a head names; undefined for a plain value, null (logged) for a head that is broken. */
  private headOf(entry: KvEntry): ChunkedHead | undefined | null {
    try {
      return decodeChunkedHead(entry.value);
    } catch (error) {
      this.decodeFailures++;
      this.options.logger.warn(`${this.options.bucket}: ignoring key ${entry.key}: ${(error as Error).message}`);
      return null;
    }
  }

  /** The value a chunked head names, from `chunks` (used chunks taken out); undefined while one is missing. */
  private assemble(key: string, head: ChunkedHead, chunks: Map<string, Uint8Array>): { bytes: Uint8Array } | { error: string } | undefined {
    const keys = chunkKeys(key, head);
    const parts: Uint8Array[] = [];
    for (const chunk of keys) {
      const part = chunks.get(chunk);
      if (!part) return undefined;
      parts.push(part);
    }
    for (const chunk of keys) chunks.delete(chunk);
    const bytes = Buffer.concat(parts);
    if (bytes.length !== head.size || sha256Hex(bytes) !== head.sha256) return { error: `its ${head.chunks} chunks do not make the ${head.size} bytes its head names` };
    return { bytes };
  }

  private collect(fresh: Map<string, Held<T>>, replay: Replay, entry: KvEntry): void {
    if (parseChunkKey(entry.key)) {
      if (entry.operation === 'PUT') replay.chunks.set(entry.key, entry.value);
      else replay.chunks.delete(entry.key);
      return;
    }
    fresh.delete(entry.key);
    replay.heads.delete(entry.key);
    replay.pending.delete(entry.key);
    if (entry.operation !== 'PUT') return;
    const head = this.headOf(entry);
    if (head === null) return;
    if (head) {
      // chunks may come after their head in a replay (rewritten with the same content): assembled at its end
      replay.heads.set(entry.key, head);
      replay.pending.set(entry.key, entry);
      return;
    }
    const value = this.decode(entry.key, entry.value);
    if (value !== undefined) fresh.set(entry.key, { value, revision: entry.revision });
  }

  private assembleReplay(fresh: Map<string, Held<T>>, replay: Replay): void {
    this.waiting.clear();
    for (const [key, entry] of replay.pending) {
      const head = replay.heads.get(key)!;
      const assembled = this.assemble(key, head, replay.chunks);
      if (!assembled) {
        // its writer has not finished: it is served once the last chunk arrives
        this.waiting.set(key, { entry, head });
        continue;
      }
      if ('error' in assembled) {
        this.decodeFailures++;
        this.options.logger.warn(`${this.options.bucket}: ignoring key ${key}: ${assembled.error}`);
        continue;
      }
      const value = this.decode(key, assembled.bytes);
      if (value !== undefined) fresh.set(key, { value, revision: entry.revision });
    }
    this.chunks = replay.chunks;
    this.chunkedHeads = replay.heads;
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
    const chunk = parseChunkKey(entry.key);
    if (chunk) {
      if (entry.operation !== 'PUT') {
        this.chunks.delete(entry.key);
        return;
      }
      this.chunks.set(entry.key, entry.value);
      const waiting = this.waiting.get(chunk.head);
      if (waiting && waiting.head.sha256 === chunk.sha256) this.apply(waiting.entry);
      return;
    }
    this.waiting.delete(entry.key);
    const previous = this.entries.get(entry.key);
    const remove = () => {
      this.chunkedHeads.delete(entry.key);
      if (!previous) return;
      this.entries.delete(entry.key);
      this.emit([{ op: 'delete', key: entry.key, previous: previous.value, revision: entry.revision, ...(entry.operation !== 'PUT' ? { at: entry.created } : {}) }]);
    };
    if (entry.operation !== 'PUT') return remove();
    const head = this.headOf(entry);
    if (head === null) return remove();
    let bytes = entry.value;
    if (head) {
      const assembled = this.assemble(entry.key, head, this.chunks);
      if (!assembled) {
        this.waiting.set(entry.key, { entry, head });
        return;
      }
      if ('error' in assembled) {
        this.decodeFailures++;
        this.options.logger.warn(`${this.options.bucket}: ignoring key ${entry.key}: ${assembled.error}`);
        return remove();
      }
      bytes = assembled.bytes;
      this.chunkedHeads.set(entry.key, head);
    } else this.chunkedHeads.delete(entry.key);
    const value = this.decode(entry.key, bytes);
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

/** What a watch's initial replay gathered besides plain values: chunks, and the chunked heads to assemble at its end. */
interface Replay {
  chunks: Map<string, Uint8Array>;
  heads: Map<string, ChunkedHead>;
  pending: Map<string, KvEntry>;
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
