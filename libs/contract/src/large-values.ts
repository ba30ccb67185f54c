/**
 * Values larger than NATS carries in one message. Tendril's nats-server configurations raise
 * `max_payload` to NATS_MAX_PAYLOAD (nats.js learns the server's value from its INFO), and a value
 * that is still larger, or any value on a server left at its 1 MiB default, is split into chunks in
 * the same bucket:
 *
 * - chunk `i` of the value of key `K` is the key `K.=chunk.<sha256 of the whole value>.<i>`: under the
 *   head key's own prefix (read rights by key class cover its chunks) and named by content, so a new
 *   version never overwrites the chunks the current head points to;
 * - the head (key `K`) holds CHUNKED_HEAD_PREFIX followed by JSON `{"v":1,"size":…,"sha256":…,"chunks":…}`;
 * - every chunk is acknowledged before the head is written, and a replaced or deleted head's chunks
 *   are deleted after it, so a reader that follows the bucket in order never sees half a value;
 * - a reader (platform KvMirror) assembles the value, checks its size and digest, and hands its
 *   listeners the value alone: chunk keys are never seen as entries.
 *
 * A value over MAX_KV_VALUE_BYTES is refused with an error naming the key and that limit.
 */
import { createHash } from 'node:crypto';

/** The `max_payload` every nats-server configuration of Tendril sets (nats-server's default is 1 MiB). */
export const NATS_MAX_PAYLOAD = 8 * 1024 * 1024;

/** Room left in a message for its subject and headers when a value is measured against max_payload. */
export const MESSAGE_HEADROOM = 4 * 1024;

/** The largest value a KV entry may hold, chunked or not. */
export const MAX_KV_VALUE_BYTES = 64 * 1024 * 1024;

/** nats-server configuration lines for the limits above (the rest of a configuration is its own). */
export function natsServerLimitsConfig(): string {
  return `# values up to ${NATS_MAX_PAYLOAD} bytes travel in one message; larger ones are chunked (libs/contract large-values.ts)\nmax_payload: ${NATS_MAX_PAYLOAD}\n`;
}

/** First bytes of a head that points to chunks: no JSON or protobuf value starts with a NUL byte. */
export const CHUNKED_HEAD_PREFIX = new Uint8Array([0, ...new TextEncoder().encode('tendril-chunked\n')]);

export interface ChunkedHead {
  v: 1;
  /** Bytes of the whole value. */
  size: number;
  /** sha256 (hex) of the whole value: it names the chunks. */
  sha256: string;
  chunks: number;
}

const CHUNK_TOKEN = '=chunk';
const CHUNK_KEY = /^(.+)\.=chunk\.([0-9a-f]{64})\.(\d+)$/;

export function chunkKey(head: string, sha256: string, index: number): string {
  return `${head}.${CHUNK_TOKEN}.${sha256}.${index}`;
}

export function chunkKeys(head: string, chunked: Pick<ChunkedHead, 'sha256' | 'chunks'>): string[] {
  return Array.from({ length: chunked.chunks }, (_, index) => chunkKey(head, chunked.sha256, index));
}

/** The head key, digest and index a chunk key names, or undefined for any other key. */
export function parseChunkKey(key: string): { head: string; sha256: string; index: number } | undefined {
  if (!key.includes(`.${CHUNK_TOKEN}.`)) return undefined;
  const match = CHUNK_KEY.exec(key);
  return match ? { head: match[1]!, sha256: match[2]!, index: Number(match[3]) } : undefined;
}

export function isChunkKey(key: string): boolean {
  return parseChunkKey(key) !== undefined;
}

export function encodeChunkedHead(head: ChunkedHead): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(head));
  const bytes = new Uint8Array(CHUNKED_HEAD_PREFIX.length + json.length);
  bytes.set(CHUNKED_HEAD_PREFIX);
  bytes.set(json, CHUNKED_HEAD_PREFIX.length);
  return bytes;
}

/** The chunk list a head names, or undefined when the bytes are a value of their own. */
export function decodeChunkedHead(bytes: Uint8Array): ChunkedHead | undefined {
  if (bytes.length < CHUNKED_HEAD_PREFIX.length || bytes[0] !== 0) return undefined;
  for (let i = 0; i < CHUNKED_HEAD_PREFIX.length; i++) if (bytes[i] !== CHUNKED_HEAD_PREFIX[i]) return undefined;
  const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(CHUNKED_HEAD_PREFIX.length))) as Partial<ChunkedHead>;
  if (parsed.v !== 1 || !Number.isInteger(parsed.size) || !Number.isInteger(parsed.chunks) || !/^[0-9a-f]{64}$/.test(parsed.sha256 ?? '')) {
    throw new Error(`not a chunked value head: ${JSON.stringify(parsed)}`);
  }
  return parsed as ChunkedHead;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A value that cannot be stored whatever the chunking: names the key and the limit. */
export class ValueTooLargeError extends Error {
  override readonly name = 'ValueTooLargeError';
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly size: number,
    readonly limit: number = MAX_KV_VALUE_BYTES,
  ) {
    super(`${bucket} ${key}: value of ${size} bytes is over the limit of ${limit} bytes`);
  }
}
