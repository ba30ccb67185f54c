/**
 * Publishes a translation: xDS resources to `tendril-xds`, SDS Secrets to `tendril-sds` (referenced
 * types first, removals last, then the generation marker in `tendril-xds`, whose digest and count
 * cover the resources of both buckets), L4 services to `tendril-lb` (then its own generation marker, naming
 * the same generation), desired statuses to `tendril-status`, the objects Tendril owns in the cluster
 * to `tendril-owned`.
 * Each bucket is diffed against what it holds, so unchanged output writes nothing.
 */
import {
  BUCKETS,
  LB_GENERATION_KEY,
  XDS_GENERATION_KEY,
  KeyedGenerationDigest,
  MAX_KV_VALUE_BYTES,
  contentHash,
  kubeObjectCodec,
  lbGenerationCodec,
  lbKey,
  lbServiceCodec,
  objectStatusCodec,
  parseLbKey,
  parseXdsKey,
  xdsEnvelope,
  xdsGenerationCodec,
  xdsBucketOf,
  xdsKey,
  xdsResourceCodec,
  type XdsGeneration,
  type XdsResourceEnvelope,
} from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import type { Logger, NatsClient } from '@tendril/platform';
import { XDS_TYPE_ORDER, type TranslationError, type TranslationOutput, type XdsOutput } from '@tendril/translation';
import { BucketWriter, type WriteOptions, type WriteResult } from './bucket-writer.js';

type XdsValue = { kind: 'resource'; envelope: XdsResourceEnvelope } | { kind: 'generation'; generation: XdsGeneration };

export interface PublishResult {
  xdsWrites: number;
  lbWrites: number;
  statusWrites: number;
  ownedWrites: number;
  generation: number;
  /** Resources that could not be encoded, as errors naming the resource. */
  encodeErrors: TranslationError[];
  /** What this publish changed, as `<xds type> <name>`, `lb <namespace>/<name>` or `status <object key>`. */
  changes: { added: string[]; changed: string[]; removed: string[] };
  /** Whether only the items a patched translation replaced were looked at (TranslationOutput.patch). */
  incremental: boolean;
}

interface Encoded {
  selector: string;
  /** The bucket entry: its bytes and their hash (what BucketWriter compares). */
  bytes: Uint8Array;
  hash: string;
  envelope: XdsResourceEnvelope;
}

type DesiredXds = { bytes: Uint8Array; hash: string; value: XdsValue };
type Desired = { bytes: Uint8Array; hash: string; value: null };

/** What the last complete publish wanted in each bucket: the base a patched translation is published on. */
interface Published {
  serial: number | undefined;
  xds: Map<string, DesiredXds>;
  /** generationDigest() of `xds`, kept up to date key by key. */
  digest: KeyedGenerationDigest;
  lb: Map<string, Desired>;
  /** generationDigest() of `lb`, kept up to date key by key. */
  lbDigest: KeyedGenerationDigest;
  status: Map<string, Desired>;
  owned: Map<string, Desired>;
  /** The owned array published (translate() hands back the same array while it is unchanged). */
  ownedOutput?: TranslationOutput['owned'];
  /** The statuses array published (a patch changes it in place). */
  statuses: TranslationOutput['statuses'];
  /** Resources left out because they could not be encoded, by key (reported on every publish while so). */
  encodeErrors: Map<string, TranslationError>;
}

const NOTHING_WRITTEN = { puts: 0, deletes: 0, added: [], changed: [], removed: [] } satisfies WriteResult;

export class Publisher {
  /**
   * Encodings by resource object: translation hands back the very same object for what did not change
   * (TranslationMemo), so only changed resources are encoded and hashed again.
   */
  private encoded = new WeakMap<object, Encoded>();
  /** LB entries and statuses encoded, by object: the translation's memo hands back the same objects for what did not change. */
  private encodedValues = new WeakMap<object, { bytes: Uint8Array; hash: string }>();
  /** Forgotten whenever a publish fails or someone else changes a bucket: the next publish is a full one. */
  private last?: Published;
  /** Changes made by someone else, counted: one during a publish means that publish is no base either. */
  private drifts = 0;
  readonly xds: BucketWriter<XdsValue>;
  /** SDS Secrets: key material in a bucket only the xds-server reads. */
  readonly sds: BucketWriter<XdsValue>;
  readonly lb: BucketWriter<null>;
  readonly status: BucketWriter<null>;
  readonly owned: BucketWriter<null>;

  /** `canWrite`: whether this replica holds the lease; asked before every write. */
  constructor(nats: NatsClient, logger: Logger, onDrift: (bucket: string, key: string) => void, canWrite: () => boolean = () => true) {
    const drift = (bucket: string) => (key: string) => {
      this.drifts++;
      this.last = undefined; // what the buckets hold is not what was published: diff everything next time
      onDrift(bucket, key);
    };
    this.xds = new BucketWriter(nats, BUCKETS.xds, decodeXds, logger, drift(BUCKETS.xds), canWrite);
    this.sds = new BucketWriter(nats, BUCKETS.sds, decodeXds, logger, drift(BUCKETS.sds), canWrite);
    this.lb = new BucketWriter(nats, BUCKETS.lb, (key, bytes) => ((key === LB_GENERATION_KEY ? lbGenerationCodec : lbServiceCodec).decode(bytes), null), logger, drift(BUCKETS.lb), canWrite);
    this.status = new BucketWriter(nats, BUCKETS.status, (_key, bytes) => (objectStatusCodec.decode(bytes), null), logger, drift(BUCKETS.status), canWrite);
    this.owned = new BucketWriter(nats, BUCKETS.owned, (_key, bytes) => (kubeObjectCodec.decode(bytes), null), logger, drift(BUCKETS.owned), canWrite);
  }

  async start(): Promise<void> {
    await Promise.all([this.xds.start(), this.sds.start(), this.lb.start(), this.status.start(), this.owned.start()]);
  }

  stop(): void {
    this.xds.stop();
    this.sds.stop();
    this.lb.stop();
    this.status.stop();
    this.owned.stop();
  }

  get generation(): number {
    const marker = this.xds.get(XDS_GENERATION_KEY)?.value;
    return marker?.kind === 'generation' ? marker.generation.generation : 0;
  }

  /** Number of LB entries (not counting the marker) the bucket holds. */
  get lbCount(): number {
    const held = this.lb.current();
    return held.size - (held.has(LB_GENERATION_KEY) ? 1 : 0);
  }

  /** Number of xDS resources (not counting the marker) the buckets hold, SDS Secrets included. */
  get xdsCount(): number {
    const held = this.xds.current();
    return held.size - (held.has(XDS_GENERATION_KEY) ? 1 : 0) + this.sds.current().size;
  }

  private encodedOnce(value: object, encode: () => Uint8Array): Desired {
    let encoded = this.encodedValues.get(value);
    if (!encoded) {
      const bytes = encode();
      encoded = { bytes, hash: contentHash(bytes) };
      this.encodedValues.set(value, encoded);
    }
    return { ...encoded, value: null };
  }

  /**
   * A bucket of plain values (LB entries, statuses) made to hold `all`: when `incremental`, by writing
   * the patch's puts and removals alone, else by diffing everything. `valueOf` is what is encoded (once
   * per object).
   */
  private async writeValues<T, V extends object>(
    writer: BucketWriter<null>,
    desired: Map<string, Desired>,
    incremental: boolean,
    all: readonly T[],
    put: readonly T[] = [],
    removed: readonly T[] = [],
    keyOf: (item: T) => string,
    valueOf: (item: T) => V,
    encode: (value: V) => Uint8Array,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const entry = (item: T) => {
      const value = valueOf(item);
      return this.encodedOnce(value, () => encode(value));
    };
    if (!incremental) {
      desired.clear();
      for (const item of all) desired.set(keyOf(item), entry(item));
      return writer.write(desired, options);
    }
    const keys: string[] = [];
    for (const item of put) {
      desired.set(keyOf(item), entry(item));
      keys.push(keyOf(item));
    }
    for (const item of removed) {
      desired.delete(keyOf(item));
      keys.push(keyOf(item));
    }
    return keys.length ? writer.writeKeys(desired, keys, options) : NOTHING_WRITTEN;
  }

  /** The bucket entry of one resource, or an error naming it when Envoy's protos refuse it. */
  private encodeXds(item: XdsOutput, encodeErrors: Map<string, TranslationError>): DesiredXds | undefined {
    encodeErrors.delete(xdsKey(item));
    const selector = item.nodeSelector ? JSON.stringify(item.nodeSelector) : '';
    let encoded = this.encoded.get(item.resource);
    if (!encoded || encoded.selector !== selector || encoded.envelope.type !== item.type || encoded.envelope.name !== item.name) {
      let bytes: Uint8Array;
      try {
        bytes = encodeResource(item.type, item.resource);
      } catch (error) {
        encodeErrors.set(xdsKey(item), { object: `${item.type}/${item.name}`, message: `not a valid Envoy resource: ${(error as Error).message}` });
        return undefined;
      }
      const envelope = xdsEnvelope(item.type, item.name, bytes, item.nodeSelector);
      const entry = xdsResourceCodec.encode(envelope);
      if (entry.length > MAX_KV_VALUE_BYTES) {
        // refused here, not by the write: a write that must fail would be retried forever
        encodeErrors.set(xdsKey(item), { object: `${item.type}/${item.name}`, message: `${entry.length} bytes in ${BUCKETS.xds}, over the limit of ${MAX_KV_VALUE_BYTES} bytes per value` });
        return undefined;
      }
      encoded = { selector, bytes: entry, hash: contentHash(entry), envelope };
      this.encoded.set(item.resource, encoded);
    }
    return { bytes: encoded.bytes, hash: encoded.hash, value: { kind: 'resource', envelope: encoded.envelope } };
  }

  /**
   * Publishes one translation. An output patched from the one published last (TranslationOutput.patch)
   * costs in proportion to the patch: only its items are encoded, compared and written, and the
   * generation digest is updated key by key. Any other output is diffed against everything held.
   */
  async publish(output: TranslationOutput): Promise<PublishResult> {
    const last = this.last;
    const drifts = this.drifts;
    this.last = undefined; // until this publish is complete
    const incremental = output.patch !== undefined && last !== undefined && last.serial !== undefined && output.patch.base === last.serial;
    const published: Published = incremental
      ? last!
      : {
          serial: undefined,
          xds: new Map(),
          digest: last?.digest ?? new KeyedGenerationDigest(),
          lb: new Map(),
          lbDigest: last?.lbDigest ?? new KeyedGenerationDigest(),
          status: new Map(),
          owned: new Map(),
          statuses: [],
          encodeErrors: new Map(),
        };
    const encodeErrors = published.encodeErrors;
    const previousXds = last?.xds ?? new Map<string, DesiredXds>();

    // xDS resources, and the digest of the whole batch (only changed keys hashed again).
    const xdsKeys: string[] = [];
    const track = (key: string, entry: DesiredXds | undefined) => published.digest.set(key, entry?.value.kind === 'resource' ? entry.value.envelope.hash : undefined);
    if (incremental) {
      for (const item of output.patch!.xds) {
        const key = xdsKey(item);
        const entry = this.encodeXds(item, encodeErrors);
        track(key, entry);
        if (entry) published.xds.set(key, entry);
        else published.xds.delete(key);
        xdsKeys.push(key);
      }
      for (const item of output.patch!.removed.xds) {
        const key = xdsKey(item);
        encodeErrors.delete(key);
        track(key, undefined);
        published.xds.delete(key);
        xdsKeys.push(key);
      }
    } else {
      for (const item of output.xds) {
        const entry = this.encodeXds(item, encodeErrors);
        if (!entry) continue;
        const key = xdsKey(item);
        track(key, entry);
        published.xds.set(key, entry);
      }
      for (const key of previousXds.keys()) if (!published.xds.has(key)) track(key, undefined);
    }
    const rank = (key: string) => XDS_TYPE_ORDER.indexOf(parseXdsKey(key).type);
    const byRank = (a: string, b: string) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
    const xdsOptions = { putOrder: byRank, deleteOrder: (a: string, b: string) => byRank(b, a), keep: (key: string) => key === XDS_GENERATION_KEY };
    // Secrets go to tendril-sds and the rest to tendril-xds; a full publish also deletes the secrets an
    // older version left in tendril-xds (they are not in its share of the batch).
    let xdsResult: WriteResult;
    if (incremental) {
      const sdsResult = await this.sds.writeKeys(published.xds, xdsKeys.filter((key) => xdsBucketOf(key) === BUCKETS.sds), xdsOptions);
      xdsResult = joined(sdsResult, await this.xds.writeKeys(published.xds, xdsKeys.filter((key) => xdsBucketOf(key) === BUCKETS.xds), xdsOptions));
    } else {
      const shares = { [BUCKETS.xds]: new Map<string, DesiredXds>(), [BUCKETS.sds]: new Map<string, DesiredXds>() };
      for (const [key, entry] of published.xds) shares[xdsBucketOf(key)].set(key, entry);
      const sdsResult = await this.sds.write(shares[BUCKETS.sds], xdsOptions);
      xdsResult = joined(sdsResult, await this.xds.write(shares[BUCKETS.xds], xdsOptions));
    }

    // The marker comes last and names exactly this batch; it is rewritten only when the batch changed
    // (or a crash came between the resources and the marker).
    const digest = published.digest.hex;
    const marker = this.xds.get(XDS_GENERATION_KEY)?.value;
    let markerWrites = 0;
    if (marker?.kind !== 'generation' || marker.generation.digest !== digest || marker.generation.count !== published.xds.size) {
      const generation: XdsGeneration = { v: 1, generation: this.generation + 1, digest, count: published.xds.size };
      const bytes = xdsGenerationCodec.encode(generation);
      const markerValue: DesiredXds = { bytes, hash: contentHash(bytes), value: { kind: 'generation', generation } };
      markerWrites = (await this.xds.writeKeys(new Map([[XDS_GENERATION_KEY, markerValue]]), [XDS_GENERATION_KEY])).puts;
    }

    const keepLbMarker = { keep: (key: string) => key === LB_GENERATION_KEY };
    const lbResult = await this.writeValues(this.lb, published.lb, incremental, output.lb, output.patch?.lb, output.patch?.removed.lb, lbKey, (service) => service, (service) => lbServiceCodec.encode(service), keepLbMarker);
    // The LB marker comes after the entries and names the generation just published with them.
    if (incremental) {
      for (const service of [...(output.patch!.lb ?? []), ...(output.patch!.removed.lb ?? [])]) published.lbDigest.set(lbKey(service), published.lb.get(lbKey(service))?.hash);
    } else {
      for (const key of last?.lb.keys() ?? []) if (!published.lb.has(key)) published.lbDigest.set(key, undefined);
      for (const [key, entry] of published.lb) published.lbDigest.set(key, entry.hash);
    }
    const lbMarkerBytes = lbGenerationCodec.encode({ v: 1, generation: this.generation, digest: published.lbDigest.hex, count: published.lb.size });
    const lbMarkerWrites = (await this.lb.writeKeys(new Map([[LB_GENERATION_KEY, { bytes: lbMarkerBytes, hash: contentHash(lbMarkerBytes), value: null }]]), [LB_GENERATION_KEY])).puts;
    // Statuses: a patch's own (same array as published, changed in place), else all of them (the
    // proxies' rejections, overlaid on a copy, are published whole).
    const statusResult = await this.writeValues(
      this.status,
      published.status,
      incremental && output.statuses === last!.statuses,
      output.statuses,
      output.patch?.statuses,
      output.patch?.removed.statuses,
      (entry) => entry.key,
      (entry) => entry.status,
      (status) => objectStatusCodec.encode(status),
    );
    // Owned objects: few (two or three per load balancer) and whole in every output; written when the array changed.
    const ownedResult =
      incremental && output.owned === last!.ownedOutput
        ? NOTHING_WRITTEN
        : await this.writeValues(this.owned, published.owned, false, output.owned, [], [], (entry) => entry.key, (entry) => entry.object, (object) => kubeObjectCodec.encode(object));
    published.ownedOutput = output.owned;
    published.statuses = output.statuses;
    published.serial = output.serial;
    // Someone else wrote meanwhile: what the buckets hold is not this, so the next publish diffs them all.
    this.last = this.drifts === drifts ? published : undefined;

    const named = (result: WriteResult, name: (key: string) => string) => ({
      added: result.added.map(name),
      changed: result.changed.map(name),
      removed: result.removed.map(name),
    });
    const parts = [
      named(xdsResult, (key) => {
        const ref = parseXdsKey(key);
        return `${ref.type} ${ref.name}`;
      }),
      named(lbResult, (key) => {
        const ref = parseLbKey(key);
        return `lb ${ref.namespace}/${ref.name}`;
      }),
      named(statusResult, (key) => `status ${key}`),
      named(ownedResult, (key) => `owned ${key}`),
    ];
    return {
      changes: { added: parts.flatMap((part) => part.added), changed: parts.flatMap((part) => part.changed), removed: parts.flatMap((part) => part.removed) },
      xdsWrites: xdsResult.puts + xdsResult.deletes + markerWrites,
      lbWrites: lbResult.puts + lbResult.deletes + lbMarkerWrites,
      statusWrites: statusResult.puts + statusResult.deletes,
      ownedWrites: ownedResult.puts + ownedResult.deletes,
      generation: this.generation,
      encodeErrors: [...encodeErrors.values()],
      incremental,
    };
  }
}

/** Two writes' results as one. */
function joined(a: WriteResult, b: WriteResult): WriteResult {
  const sorted = (keys: string[]) => keys.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return { puts: a.puts + b.puts, deletes: a.deletes + b.deletes, added: sorted([...a.added, ...b.added]), changed: sorted([...a.changed, ...b.changed]), removed: sorted([...a.removed, ...b.removed]) };
}

function decodeXds(key: string, bytes: Uint8Array): XdsValue {
  if (key === XDS_GENERATION_KEY) return { kind: 'generation', generation: xdsGenerationCodec.decode(bytes) };
  return { kind: 'resource', envelope: xdsResourceCodec.decode(bytes) };
}
