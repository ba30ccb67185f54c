/**
 * Mirrors KV `tendril-xds` and `tendril-sds` (the SDS Secrets) as one store and turns it into
 * snapshots, one per complete generation: a batch is served only once the resources of both buckets
 * match the latest generation marker in `tendril-xds` (digest and count over both), so a proxy never
 * sees half a batch, nor a generation whose Secrets have not been read. An empty bucket without a marker is a valid, empty snapshot.
 *
 * A new snapshot is the previous one with the keys that changed applied (XdsSnapshot.apply), so an
 * endpoint change costs the streams O(change); bursts of generations are debounced (a short hold-off
 * with a ceiling, so a steady stream of changes still goes out).
 */
import { Logger } from '@nestjs/common';
import {
  BUCKETS,
  XDS_GENERATION_KEY,
  XDS_TYPES,
  type XdsGeneration,
  type XdsResourceEnvelope,
  KeyedGenerationDigest,
  parseXdsKey,
  xdsBucketOf,
  xdsGenerationCodec,
  xdsResourceCodec,
} from '@tendril/contract';
import { KvMirror, MergedKvMirror, type NatsClient, type ReadinessCheck } from '@tendril/platform';
import { sdsSecretNames } from '@tendril/envoy';
import { type SnapshotResource, XdsSnapshot, resourceOfEnvelope } from '@tendril/xds';

type Entry = { kind: 'marker'; marker: XdsGeneration } | { kind: 'resource'; envelope: XdsResourceEnvelope };

export interface DebounceOptions {
  /** Hold-off after a consistent generation before serving it (0 = serve at once). */
  holdMs: number;
  /** The longest a consistent change waits, however many follow it. */
  maxMs: number;
}

/** How often a reason to hold a generation back that only changes its counts is said again. */
const WAIT_LOG_EVERY_MS = 5000;

export class SnapshotSource {
  private readonly logger = new Logger('snapshot');
  private readonly mirror: MergedKvMirror<Entry>;
  private readonly listeners = new Set<(snapshot: XdsSnapshot) => void>();
  private snapshot: XdsSnapshot | undefined;
  private servedDigest = '';
  /** Keys changed since the snapshot being served. */
  private readonly dirty = new Set<string>();
  /** The digest of the resources mirrored, kept up to date change by change. */
  private digest = new KeyedGenerationDigest();
  /** The marker changed since the last check (a new one that disagrees with the running digest is worth a recount). */
  private markerChanged = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private pendingSince = 0;
  /** Snapshots built, and how many of them from changes alone. */
  readonly builds = { full: 0, incremental: 0 };
  /** Why the last change was not served, for dumps. */
  waitingFor = 'initial sync';
  private waitingShape = '';
  private waitLoggedAt = 0;

  constructor(
    nats: NatsClient,
    private readonly readiness: ReadinessCheck,
    private readonly debounce: DebounceOptions = { holdMs: 0, maxMs: 0 },
  ) {
    const buckets = [BUCKETS.xds, BUCKETS.sds] as const;
    this.mirror = new MergedKvMirror(
      buckets.map(
        (bucket) =>
          new KvMirror<Entry>(nats, {
            bucket,
            logger: new Logger(`kv ${bucket}`),
            onWaiting: (reason) => readiness.fail(`waiting for bucket ${bucket}: ${reason}`),
            decode: (key, bytes) =>
              key === XDS_GENERATION_KEY ? { kind: 'marker', marker: xdsGenerationCodec.decode(bytes) } : { kind: 'resource', envelope: xdsResourceCodec.decode(bytes) },
          }),
      ),
      (key) => buckets.indexOf(xdsBucketOf(key)),
    );
    this.mirror.onChange((changes) => {
      for (const change of changes) {
        if (change.key === XDS_GENERATION_KEY) {
          this.markerChanged = true;
          continue;
        }
        this.dirty.add(change.key);
        this.digest.set(change.key, change.op === 'put' && change.value?.kind === 'resource' ? change.value.envelope.hash : undefined);
      }
      this.consider();
    });
  }

  get current(): XdsSnapshot | undefined {
    return this.snapshot;
  }

  onSnapshot(listener: (snapshot: XdsSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    await this.mirror.start();
    this.consider();
  }

  stop(): void {
    clearTimeout(this.holdTimer);
    this.mirror.stop();
  }

  private consider(): void {
    if (this.debounce.holdMs <= 0) return this.build();
    if (!this.plausible()) return;
    const now = Date.now();
    this.pendingSince ||= now;
    clearTimeout(this.holdTimer);
    const delay = Math.max(0, Math.min(this.debounce.holdMs, this.pendingSince + this.debounce.maxMs - now));
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.build();
    }, delay);
  }

  /** A cheap first look (counts only) at whether the mirror may hold a complete generation. */
  private plausible(): boolean {
    if (!this.mirror.isInitiallySynced) return false;
    const marker = this.mirror.get(XDS_GENERATION_KEY);
    const count = this.mirror.size - (marker ? 1 : 0);
    if (marker?.kind === 'marker' && marker.marker.count !== count) {
      this.wait(`generation ${marker.marker.generation}: ${count}/${marker.marker.count} resources`);
      return false;
    }
    return true;
  }

  /** The digest and generation to serve, if the mirror is consistent and differs from what is served. */
  private check(): { marker: XdsGeneration | undefined; digest: string } | undefined {
    if (!this.mirror.isInitiallySynced) return undefined;
    const held = this.mirror.get(XDS_GENERATION_KEY);
    const marker = held?.kind === 'marker' ? held.marker : undefined;
    const count = this.digest.size;
    let digest = this.digest.hex;
    if (marker && this.markerChanged && marker.count === count && marker.digest !== digest) digest = this.recount();
    this.markerChanged = false;
    if (!marker) {
      if (count > 0) return void this.wait(`no generation marker yet for ${count} resources`);
      return this.snapshot && digest === this.servedDigest ? undefined : { marker, digest };
    }
    if (marker.count !== count || marker.digest !== digest) {
      return void this.wait(`generation ${marker.generation}: ${count}/${marker.count} resources, digest ${marker.digest === digest ? 'matches' : 'differs'}`);
    }
    if (digest === this.servedDigest && this.snapshot?.generation === marker.generation) return undefined;
    return { marker, digest };
  }

  /**
   * The digest computed from every resource mirrored, when the running one disagrees with a new marker
   * of the right count: resources still on their way, or (never seen) a running digest gone wrong,
   * which this repairs. Writers put the marker after its batch, so this is rare.
   */
  private recount(): string {
    const counted = new KeyedGenerationDigest(this.mirror.values().flatMap(([key, entry]) => (entry.kind === 'resource' ? [[key, entry.envelope.hash] as [string, string]] : [])));
    if (counted.hex !== this.digest.hex) {
      this.logger.warn(`running digest of ${BUCKETS.xds} and ${BUCKETS.sds} disagreed with its contents; recomputed`);
      this.digest = counted;
    }
    return counted.hex;
  }


  private build(): void {
    const ready = this.check();
    if (!ready) return;
    const generation = ready.marker?.generation ?? 0;
    try {
      let snapshot: XdsSnapshot;
      if (this.snapshot && this.dirty.size < this.mirror.size) {
        const put = [];
        const removed = [];
        for (const key of this.dirty) {
          const entry = this.mirror.get(key);
          if (entry?.kind === 'resource') put.push(snapshotResource(entry.envelope));
          else if (!entry) {
            const ref = parseXdsKey(key);
            removed.push({ typeUrl: XDS_TYPES[ref.type], name: ref.name });
          }
        }
        snapshot = this.snapshot.apply(generation, put, removed);
        this.builds.incremental++;
      } else {
        const resources = [];
        for (const [, entry] of this.mirror.values()) if (entry.kind === 'resource') resources.push(snapshotResource(entry.envelope));
        snapshot = XdsSnapshot.fromResources(generation, resources);
        this.builds.full++;
      }
      this.dirty.clear();
      this.pendingSince = 0;
      this.serve(snapshot, ready.digest);
    } catch (error) {
      this.wait(`generation ${generation} is unusable: ${(error as Error).message}`);
    }
  }

  private wait(reason: string): void {
    // a generation arriving resource by resource changes its counts with every entry: said once
    // per kind of reason and then every few seconds, not once per resource
    const shape = reason.replace(/\d+/g, '#');
    const now = Date.now();
    if (reason !== this.waitingFor && (shape !== this.waitingShape || now - this.waitLoggedAt >= WAIT_LOG_EVERY_MS)) {
      this.logger.log(`holding back: ${reason}`);
      this.waitLoggedAt = now;
    }
    this.waitingFor = reason;
    this.waitingShape = shape;
  }

  private serve(snapshot: XdsSnapshot, digest: string): void {
    this.snapshot = snapshot;
    this.servedDigest = digest;
    this.waitingFor = '';
    this.waitingShape = '';
    this.readiness.pass(`generation ${snapshot.generation}`);
    this.logger.log(`serving generation ${snapshot.generation}: ${snapshot.count} resources`);
    for (const listener of this.listeners) listener(snapshot);
  }
}

/** A resource as streams serve it, with the SDS secrets a listener or cluster refers to (who may have a Secret). */
function snapshotResource(envelope: XdsResourceEnvelope): SnapshotResource {
  const resource = resourceOfEnvelope(envelope);
  let secrets: string[];
  try {
    secrets = sdsSecretNames(resource.typeUrl, resource.bytes);
  } catch {
    return resource; // bytes that do not decode refer to nothing: no secret is served for them
  }
  return secrets.length > 0 ? { ...resource, secrets } : resource;
}
