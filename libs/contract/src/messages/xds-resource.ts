/**
 * KV `tendril-xds` values. Each resource is an envelope around its protobuf bytes; a batch that
 * belongs together ends with the generation marker (key `meta.generation`), whose digest covers every
 * resource key and hash of the batch, so a reader serves a batch only once it holds all of it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { jsonCodec } from '../codec.js';
import { XDS_TYPES, type XdsType } from '../keys.js';

const xdsTypeSchema = z.enum(Object.keys(XDS_TYPES) as [XdsType, ...XdsType[]]);

/** Which proxies get a resource; absent = every proxy. */
export const nodeSelectorSchema = z.object({
  /** Envoy node ids that get the resource. */
  nodeIds: z.array(z.string().min(1)).optional(),
  /** Envoy node.cluster values that get the resource. */
  clusters: z.array(z.string().min(1)).optional(),
});
export type NodeSelector = z.infer<typeof nodeSelectorSchema>;

export const xdsResourceSchema = z
  .object({
    v: z.literal(1),
    type: xdsTypeSchema,
    name: z.string().min(1),
    typeUrl: z.string().min(1),
    /** sha256 (hex) of the resource bytes: the resource's version. */
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    nodeSelector: nodeSelectorSchema.optional(),
    /** The resource, protobuf-encoded (the value of a google.protobuf.Any), base64. */
    resource: z.string(),
  })
  .refine((envelope) => XDS_TYPES[envelope.type] === envelope.typeUrl, { message: 'typeUrl does not match type', path: ['typeUrl'] });
export type XdsResourceEnvelope = z.infer<typeof xdsResourceSchema>;
export const xdsResourceCodec = jsonCodec('xds resource', xdsResourceSchema);

export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function xdsEnvelope(type: XdsType, name: string, bytes: Uint8Array, nodeSelector?: NodeSelector): XdsResourceEnvelope {
  const envelope: XdsResourceEnvelope = {
    v: 1,
    type,
    name,
    typeUrl: XDS_TYPES[type],
    hash: contentHash(bytes),
    resource: Buffer.from(bytes).toString('base64'),
  };
  if (nodeSelector) envelope.nodeSelector = nodeSelector;
  return envelope;
}

export function envelopeBytes(envelope: XdsResourceEnvelope): Uint8Array {
  return new Uint8Array(Buffer.from(envelope.resource, 'base64'));
}

export const xdsGenerationSchema = z.object({
  v: z.literal(1),
  /** Increases with every published batch. */
  generation: z.number().int().nonnegative(),
  /** generationDigest() of every resource key and hash in the batch. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** Number of resources in the batch. */
  count: z.number().int().nonnegative(),
});
export type XdsGeneration = z.infer<typeof xdsGenerationSchema>;
export const xdsGenerationCodec = jsonCodec('xds generation', xdsGenerationSchema);

/**
 * Digest over (key, hash) pairs, independent of their order: the sum, mod 2^256, of each pair's
 * sha256(`key=hash\n`), as 64 hex digits. A sum can be kept up to date pair by pair (GenerationDigest),
 * so writer and reader check a batch in proportion to what changed, not to what the bucket holds.
 */
export function generationDigest(entries: Iterable<[key: string, hash: string]>): string {
  const digest = new GenerationDigest();
  for (const [key, hash] of entries) digest.add(key, hash);
  return digest.hex;
}

const DIGEST_MODULUS = 1n << 256n;

/** generationDigest() of a set of keys, each with its hash: setting a key replaces its pair. */
export class KeyedGenerationDigest {
  private readonly digest = new GenerationDigest();
  private readonly hashes = new Map<string, string>();

  constructor(entries: Iterable<[key: string, hash: string]> = []) {
    for (const [key, hash] of entries) this.set(key, hash);
  }

  /** Key `key` now has `hash` (undefined: it is gone). */
  set(key: string, hash: string | undefined): void {
    const old = this.hashes.get(key);
    if (old === hash) return;
    if (old !== undefined) this.digest.remove(key, old);
    if (hash === undefined) this.hashes.delete(key);
    else {
      this.digest.add(key, hash);
      this.hashes.set(key, hash);
    }
  }

  /** Number of keys. */
  get size(): number {
    return this.hashes.size;
  }

  get hex(): string {
    return this.digest.hex;
  }
}

/** generationDigest() kept up to date as pairs come and go. */
export class GenerationDigest {
  private sum = 0n;

  private static term(key: string, hash: string): bigint {
    return BigInt(`0x${createHash('sha256').update(`${key}=${hash}\n`).digest('hex')}`);
  }

  add(key: string, hash: string): void {
    this.sum = (this.sum + GenerationDigest.term(key, hash)) % DIGEST_MODULUS;
  }

  remove(key: string, hash: string): void {
    this.sum = (this.sum - GenerationDigest.term(key, hash) + DIGEST_MODULUS) % DIGEST_MODULUS;
  }

  get hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}
