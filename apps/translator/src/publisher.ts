/**
 * Publishes a translation: xDS resources to `tendril-xds` (referenced types first, removals last,
 * then the generation marker), L4 services to `tendril-lb`, desired statuses to `tendril-status`.
 * Each bucket is diffed against what it holds, so unchanged output writes nothing.
 */
import {
  BUCKETS,
  XDS_GENERATION_KEY,
  generationDigest,
  lbKey,
  lbServiceCodec,
  objectStatusCodec,
  parseLbKey,
  parseXdsKey,
  xdsEnvelope,
  xdsGenerationCodec,
  xdsKey,
  xdsResourceCodec,
  type XdsGeneration,
  type XdsResourceEnvelope,
} from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import type { Logger, NatsClient } from '@tendril/platform';
import { XDS_TYPE_ORDER, type TranslationError, type TranslationOutput } from '@tendril/translation';
import { BucketWriter, type WriteResult } from './bucket-writer.js';

type XdsValue = { kind: 'resource'; envelope: XdsResourceEnvelope } | { kind: 'generation'; generation: XdsGeneration };

export interface PublishResult {
  xdsWrites: number;
  lbWrites: number;
  statusWrites: number;
  generation: number;
  /** Resources that could not be encoded, as errors naming the resource. */
  encodeErrors: TranslationError[];
  /** What this publish changed, as `<xds type> <name>`, `lb <namespace>/<name>` or `status <object key>`. */
  changes: { added: string[]; changed: string[]; removed: string[] };
}

interface Encoded {
  selector: string;
  bytes: Uint8Array;
  envelope: XdsResourceEnvelope;
}

export class Publisher {
  /**
   * Encodings by resource object: translation hands back the very same object for what did not change
   * (TranslationMemo), so only changed resources are encoded and hashed again.
   */
  private encoded = new WeakMap<object, Encoded>();
  /** LB entries and statuses encoded, by object: the translation's memo hands back the same objects for what did not change. */
  private encodedValues = new WeakMap<object, Uint8Array>();
  readonly xds: BucketWriter<XdsValue>;
  readonly lb: BucketWriter<null>;
  readonly status: BucketWriter<null>;

  /** `canWrite`: whether this replica holds the lease; asked before every write. */
  constructor(nats: NatsClient, logger: Logger, onDrift: (bucket: string, key: string) => void, canWrite: () => boolean = () => true) {
    this.xds = new BucketWriter(nats, BUCKETS.xds, decodeXds, logger, (key) => onDrift(BUCKETS.xds, key), canWrite);
    this.lb = new BucketWriter(nats, BUCKETS.lb, (_key, bytes) => (lbServiceCodec.decode(bytes), null), logger, (key) => onDrift(BUCKETS.lb, key), canWrite);
    this.status = new BucketWriter(nats, BUCKETS.status, (_key, bytes) => (objectStatusCodec.decode(bytes), null), logger, (key) => onDrift(BUCKETS.status, key), canWrite);
  }

  async start(): Promise<void> {
    await Promise.all([this.xds.start(), this.lb.start(), this.status.start()]);
  }

  stop(): void {
    this.xds.stop();
    this.lb.stop();
    this.status.stop();
  }

  get generation(): number {
    const marker = this.xds.get(XDS_GENERATION_KEY)?.value;
    return marker?.kind === 'generation' ? marker.generation.generation : 0;
  }

  /** Number of xDS resources (not counting the marker) the bucket holds. */
  get xdsCount(): number {
    return [...this.xds.current().keys()].filter((key) => key !== XDS_GENERATION_KEY).length;
  }

  private encodedOnce(value: object, encode: () => Uint8Array): Uint8Array {
    let bytes = this.encodedValues.get(value);
    if (!bytes) {
      bytes = encode();
      this.encodedValues.set(value, bytes);
    }
    return bytes;
  }

  async publish(output: TranslationOutput): Promise<PublishResult> {
    const encodeErrors: TranslationError[] = [];
    const desiredXds = new Map<string, { bytes: Uint8Array; value: XdsValue }>();
    for (const item of output.xds) {
      const selector = item.nodeSelector ? JSON.stringify(item.nodeSelector) : '';
      let encoded = this.encoded.get(item.resource);
      if (!encoded || encoded.selector !== selector || encoded.envelope.type !== item.type || encoded.envelope.name !== item.name) {
        let bytes: Uint8Array;
        try {
          bytes = encodeResource(item.type, item.resource);
        } catch (error) {
          encodeErrors.push({ object: `${item.type}/${item.name}`, message: `not a valid Envoy resource: ${(error as Error).message}` });
          continue;
        }
        const envelope = xdsEnvelope(item.type, item.name, bytes, item.nodeSelector);
        encoded = { selector, bytes: xdsResourceCodec.encode(envelope), envelope };
        this.encoded.set(item.resource, encoded);
      }
      desiredXds.set(xdsKey(item), { bytes: encoded.bytes, value: { kind: 'resource', envelope: encoded.envelope } });
    }
    const rank = (key: string) => XDS_TYPE_ORDER.indexOf(parseXdsKey(key).type);
    const byRank = (a: string, b: string) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
    const xdsResult = await this.xds.write(desiredXds, {
      putOrder: byRank,
      deleteOrder: (a, b) => byRank(b, a),
      keep: (key) => key === XDS_GENERATION_KEY,
    });

    // The marker comes last and names exactly this batch; it is rewritten only when the batch changed
    // (or a crash came between the resources and the marker).
    const digest = generationDigest([...desiredXds].map(([key, { value }]) => [key, value.kind === 'resource' ? value.envelope.hash : '']));
    const marker = this.xds.get(XDS_GENERATION_KEY)?.value;
    let markerWrites = 0;
    if (marker?.kind !== 'generation' || marker.generation.digest !== digest || marker.generation.count !== desiredXds.size) {
      const generation: XdsGeneration = { v: 1, generation: this.generation + 1, digest, count: desiredXds.size };
      const markerValue = { bytes: xdsGenerationCodec.encode(generation), value: { kind: 'generation', generation } as XdsValue };
      const withMarker = new Map([...desiredXds, [XDS_GENERATION_KEY, markerValue]]);
      markerWrites = (await this.xds.write(withMarker, { keep: () => true })).puts;
    }

    const desiredLb = new Map(output.lb.map((service) => [lbKey(service), { bytes: this.encodedOnce(service, () => lbServiceCodec.encode(service)), value: null }]));
    const lbResult = await this.lb.write(desiredLb);
    const desiredStatus = new Map(output.statuses.map(({ key, status }) => [key, { bytes: this.encodedOnce(status, () => objectStatusCodec.encode(status)), value: null }]));
    const statusResult = await this.status.write(desiredStatus);

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
    ];
    return {
      changes: { added: parts.flatMap((part) => part.added), changed: parts.flatMap((part) => part.changed), removed: parts.flatMap((part) => part.removed) },
      xdsWrites: xdsResult.puts + xdsResult.deletes + markerWrites,
      lbWrites: lbResult.puts + lbResult.deletes,
      statusWrites: statusResult.puts + statusResult.deletes,
      generation: this.generation,
      encodeErrors,
    };
  }
}

function decodeXds(key: string, bytes: Uint8Array): XdsValue {
  if (key === XDS_GENERATION_KEY) return { kind: 'generation', generation: xdsGenerationCodec.decode(bytes) };
  return { kind: 'resource', envelope: xdsResourceCodec.decode(bytes) };
}
