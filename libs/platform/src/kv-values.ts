/**
 * Writes KV values of any size up to the contract's MAX_KV_VALUE_BYTES, whatever the server's
 * max_payload: a value that fits one message is put as it is; a larger one is split into chunks
 * (libs/contract large-values.ts), every chunk acknowledged before the head that names them, and
 * the chunks of a replaced or deleted head are deleted after it. KvMirror reads both kinds.
 */
import type { KV } from 'nats';
import { MAX_KV_VALUE_BYTES, MESSAGE_HEADROOM, ValueTooLargeError, chunkKeys, encodeChunkedHead, sha256Hex, type ChunkedHead } from '@tendril/contract';
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

export class KvValues {
  /** Heads this writer wrote, by key: undefined when the value went in one message. */
  private readonly written = new Map<string, ChunkedHead | undefined>();

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
    await writeAll(
      keys.map((chunk, index) => [chunk, index] as const),
      ([chunk, index]) => this.putOne(chunk, bytes.subarray(index * size, Math.min(bytes.length, (index + 1) * size))),
      this.options.chunkWindow ?? 4,
    );
    const revision = await this.putOne(key, encodeChunkedHead(head));
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
