/**
 * Numeric security identities from NATS KV, the same on every replica and after every restart: a label
 * set (its identity key) holds a number once `labels.<sha256>` is created for it, and a number is taken
 * once `id.<number>` is created. Both are creates (compare-and-set against "no such key"), so two
 * allocators racing for one label set end with one number, and never give one number to two sets.
 * Numbers are not reused while their key exists (no garbage collection yet).
 */
import { createHash } from 'node:crypto';
import type { KV } from 'nats';
import { identityAllocationCodec, identityClaimCodec, identityIdKey, identityLabelsKey } from '@tendril/contract';
import type { Logger } from './logger.js';

export interface IdentityRange {
  min: number;
  max: number;
}

const labelsHash = (key: string) => createHash('sha256').update(key).digest('hex');

export class IdentityAllocator {
  private readonly byKey = new Map<string, number>();
  private taken?: Set<number>;
  private next: number;

  constructor(
    private readonly open: () => Promise<KV>,
    private readonly range: IdentityRange,
    private readonly logger: Logger,
  ) {
    this.next = range.min;
  }

  /** The numbers of these identity keys, allocating those that have none. */
  async allocateAll(keys: Iterable<string>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const key of keys) out.set(key, await this.allocate(key));
    return out;
  }

  async allocate(key: string): Promise<number> {
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const kv = await this.open();
    const labelsKey = identityLabelsKey(labelsHash(key));
    const existing = await this.read(kv, labelsKey, key);
    if (existing !== undefined) return existing;
    const taken = await this.takenNumbers(kv);
    for (;;) {
      const id = this.freeNumber(taken);
      taken.add(id);
      let claimRevision: number;
      try {
        claimRevision = await kv.create(identityIdKey(id), identityClaimCodec.encode({ v: 1, key }));
      } catch {
        continue; // someone else holds this number: try the next
      }
      try {
        await kv.create(labelsKey, identityAllocationCodec.encode({ v: 1, id, key }));
        this.byKey.set(key, id);
        return id;
      } catch {
        // another allocator gave this label set a number first: use it, give ours back
        const theirs = await this.read(kv, labelsKey, key);
        await kv.delete(identityIdKey(id), { previousSeq: claimRevision }).catch(() => undefined);
        taken.delete(id);
        if (theirs !== undefined) return theirs;
      }
    }
  }

  private async read(kv: KV, labelsKey: string, key: string): Promise<number | undefined> {
    const entry = await kv.get(labelsKey);
    if (!entry || entry.operation !== 'PUT') return undefined;
    const allocation = identityAllocationCodec.decode(entry.value);
    if (allocation.key !== key) throw new Error(`tendril-identities: ${labelsKey} holds ${allocation.key}, not ${key} (a sha256 collision)`);
    this.byKey.set(key, allocation.id);
    return allocation.id;
  }

  private async takenNumbers(kv: KV): Promise<Set<number>> {
    if (!this.taken) {
      const taken = new Set<number>();
      for await (const key of await kv.keys('id.*')) taken.add(Number(key.slice(3)));
      this.taken = taken;
    }
    return this.taken;
  }

  private freeNumber(taken: Set<number>): number {
    const size = this.range.max - this.range.min + 1;
    for (let tried = 0; tried < size; tried++) {
      const id = this.next;
      this.next = id >= this.range.max ? this.range.min : id + 1;
      if (!taken.has(id)) return id;
    }
    this.logger.error(`no numeric identity left in ${this.range.min}-${this.range.max}`);
    throw new Error(`no numeric identity left in ${this.range.min}-${this.range.max}`);
  }
}
