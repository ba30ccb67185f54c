/**
 * Writes KV values of any size up to the contract's MAX_KV_VALUE_BYTES, whatever the server's
 * max_payload: a value that fits one message is put as it is; a larger one is split into chunks
 * (libs/contract large-values.ts), every chunk acknowledged before the head that names them, and
 * the chunks of a replaced or deleted head are deleted after it. KvMirror reads both kinds.
 *
 * A writer that dies between its chunks and their head leaves chunks no head names: sweepOrphanChunks()
 * deletes them, once they have been seen unnamed for a grace period (a writer still on its way to the
 * head names them well before).
 */
import type { KV } from 'nats';
import { MAX_KV_VALUE_BYTES, MESSAGE_HEADROOM, ValueTooLargeError, chunkKeys, decodeChunkedHead, encodeChunkedHead, parseChunkKey, sha256Hex, type ChunkedHead } from '@tendril/contract';
import type { JsPublisher } from './js-publisher.js';
import { writeAll } from './write-window.js';

/** The keys nats.js accepts (its validKey): checked here too, since the publisher bypasses its put. */
const VALID_KEY = /^[-/=.\w]+$/;

export interface KvValuesOptions {
  bucket: string;
  /** The server's max_payload (nats.js learns it from the server's INFO). */
  maxPayload: () => number;
  /**
   * The chunked head the bucket holds for a key this writer has not written itself (a mirror's
   * KvMirror.chunkedHead), so that a restarted writer still deletes the chunks it replaces.
   */
  previous?: (key: string) => ChunkedHead | undefined;
  /** Chunk puts in flight at once. */
  chunkWindow?: number;
  /** Writes through this lean publisher instead of nats.js's put and delete (same messages, less CPU). */
  publisher?: JsPublisher;
}

/** What one sweep found: chunk keys deleted, and chunk sets not named by their head but still in their grace period. */
export interface SweepResult {
  deleted: string[];
  waiting: number;
}

export class KvValues {
  /** Heads this writer wrote, by key: undefined when the value went in one message. */
  private readonly written = new Map<string, ChunkedHead | undefined>();
  /** Values whose chunks this writer is writing now, as `<head key> <sha256>`: never swept. */
  private readonly writing = new Set<string>();
  /** Chunk sets no head named at a sweep, as `<head key> <sha256>`, with when that was first seen. */
  private unnamedSince = new Map<string, number>();
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    readonly kv: KV,
    private readonly options: KvValuesOptions,
  ) {}

  /** The largest value put as one message. */
  get singleMessageLimit(): number {
    return Math.max(1024, this.options.maxPayload() - MESSAGE_HEADROOM);
  }

  /** Puts `bytes` under `key`; returns the head's revision. Throws ValueTooLargeError over MAX_KV_VALUE_BYTES. */
  async put(key: string, bytes: Uint8Array): Promise<number> {
    const before = this.headOf(key);
    if (bytes.length <= this.singleMessageLimit) {
      const revision = await this.putOne(key, bytes);
      this.written.set(key, undefined);
      await this.dropChunks(key, before);
      return revision;
    }
    if (bytes.length > MAX_KV_VALUE_BYTES) throw new ValueTooLargeError(this.options.bucket, key, bytes.length);
    const size = this.singleMessageLimit;
    const head: ChunkedHead = { v: 1, size: bytes.length, sha256: sha256Hex(bytes), chunks: Math.ceil(bytes.length / size) };
    const keys = chunkKeys(key, head);
    const set = `${key} ${head.sha256}`;
    this.writing.add(set);
    let revision: number;
    try {
      await writeAll(
        keys.map((chunk, index) => [chunk, index] as const),
        ([chunk, index]) => this.putOne(chunk, bytes.subarray(index * size, Math.min(bytes.length, (index + 1) * size))),
        this.options.chunkWindow ?? 4,
      );
      revision = await this.putOne(key, encodeChunkedHead(head));
    } finally {
      this.writing.delete(set);
    }
    this.written.set(key, head);
    if (before?.sha256 !== head.sha256) await this.dropChunks(key, before);
    return revision;
  }

  /** Deletes `key` and, after it, the chunks its value was made of. */
  async delete(key: string): Promise<void> {
    const before = this.headOf(key);
    await this.deleteOne(key);
    this.written.set(key, undefined);
    await this.dropChunks(key, before);
  }

  /**
   * Deletes the chunks of the bucket that their head does not name (the head is read from the bucket,
   * not from this writer's memory, so chunks another process wrote are judged the same way) once they
   * were found unnamed at an earlier sweep at least `graceMs` ago. Chunks this writer is writing are
   * left alone whatever their age.
   */
  async sweepOrphanChunks(graceMs: number, now = Date.now()): Promise<SweepResult> {
    const sets = new Map<string, { head: string; sha256: string; keys: string[] }>();
    for await (const key of await this.kv.keys()) {
      const chunk = parseChunkKey(key);
      if (!chunk) continue;
      const id = `${chunk.head} ${chunk.sha256}`;
      const set = sets.get(id) ?? { head: chunk.head, sha256: chunk.sha256, keys: [] };
      set.keys.push(key);
      sets.set(id, set);
    }
    const unnamed = new Map<string, number>();
    const deleted: string[] = [];
    for (const [id, set] of sets) {
      if (this.writing.has(id) || (await this.headNames(set.head, set.sha256))) continue;
      const since = this.unnamedSince.get(id) ?? now;
      if (now - since < graceMs || !this.unnamedSince.has(id)) {
        unnamed.set(id, since);
        continue;
      }
      // named meanwhile (a slow writer's head just landed)? then it stays
      if (this.writing.has(id) || (await this.headNames(set.head, set.sha256))) continue;
      for (const key of set.keys) await this.deleteOne(key);
      deleted.push(...set.keys);
    }
    this.unnamedSince = unnamed;
    return { deleted: deleted.sort(), waiting: unnamed.size };
  }

  /**
   * Sweeps every `intervalMs` (the first sweep soon after), deleting chunks found unnamed for
   * `graceMs`; each deletion is logged with its bucket and key. Stops with stopSweeping().
   */
  startSweeping(intervalMs: number, graceMs: number, logger: { log(message: string): void; warn(message: string): void }): void {
    this.stopSweeping();
    const sweep = async () => {
      try {
        const result = await this.sweepOrphanChunks(graceMs);
        if (result.deleted.length > 0) logger.log(`${this.options.bucket}: deleted ${result.deleted.length} chunks no head names (left by a writer that stopped before its head): ${result.deleted.slice(0, 5).join(', ')}${result.deleted.length > 5 ? ', …' : ''}`);
      } catch (error) {
        logger.warn(`${this.options.bucket}: sweeping chunks no head names failed: ${(error as Error).message}; trying again later`);
      }
      if (this.sweepTimer) this.sweepTimer = setTimeout(() => void sweep(), intervalMs).unref();
    };
    this.sweepTimer = setTimeout(() => void sweep(), Math.min(intervalMs, 30_000)).unref();
  }

  stopSweeping(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Whether the head the bucket holds for `key` is chunked with the value `sha256`. */
  private async headNames(key: string, sha256: string): Promise<boolean> {
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT') return false;
    try {
      return decodeChunkedHead(entry.value)?.sha256 === sha256;
    } catch {
      return false; // a head that does not decode names nothing
    }
  }

  private headOf(key: string): ChunkedHead | undefined {
    return this.written.has(key) ? this.written.get(key) : this.options.previous?.(key);
  }

  private async dropChunks(key: string, head: ChunkedHead | undefined): Promise<void> {
    if (!head) return;
    await writeAll(chunkKeys(key, head), (chunk) => this.deleteOne(chunk), this.options.chunkWindow ?? 4);
  }

  private putOne(key: string, bytes: Uint8Array): Promise<number> {
    const publisher = this.options.publisher;
    return publisher ? publisher.publish(this.subjectOf(key), bytes) : this.kv.put(key, bytes);
  }

  private async deleteOne(key: string): Promise<void> {
    const publisher = this.options.publisher;
    if (publisher) await publisher.deleteMarker(this.subjectOf(key));
    else await this.kv.delete(key);
  }

  /** The subject nats.js would write `key` to (its bucket knows prefixes of domains and mirrors). */
  private subjectOf(key: string): string {
    if (key.startsWith('.') || key.endsWith('.') || !VALID_KEY.test(key)) throw new Error(`invalid key: ${key}`);
    const bucket = this.kv as unknown as { subjectForKey?: (key: string, edit: boolean) => string };
    return typeof bucket.subjectForKey === 'function' ? bucket.subjectForKey(key, true) : `$KV.${this.options.bucket}.${key}`;
  }
}
