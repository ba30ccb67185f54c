/**
 * Mirrors KV `tendril-xds` and turns it into snapshots, one per complete generation: a batch is served
 * only once the mirror's resources match the latest generation marker (digest and count), so a proxy
 * never sees half a batch. An empty bucket without a marker is a valid, empty snapshot.
 */
import { Logger } from '@nestjs/common';
import {
  BUCKETS,
  XDS_GENERATION_KEY,
  type XdsGeneration,
  type XdsResourceEnvelope,
  generationDigest,
  xdsGenerationCodec,
  xdsResourceCodec,
} from '@tendril/contract';
import { KvMirror, type NatsClient, type ReadinessCheck } from '@tendril/platform';
import { XdsSnapshot } from '@tendril/xds';

type Entry = { kind: 'marker'; marker: XdsGeneration } | { kind: 'resource'; envelope: XdsResourceEnvelope };

export class SnapshotSource {
  private readonly logger = new Logger('snapshot');
  private readonly mirror: KvMirror<Entry>;
  private readonly listeners = new Set<(snapshot: XdsSnapshot) => void>();
  private snapshot: XdsSnapshot | undefined;
  private servedDigest = '';
  /** Why the last change was not served, for dumps. */
  waitingFor = 'initial sync';

  constructor(
    nats: NatsClient,
    private readonly readiness: ReadinessCheck,
  ) {
    this.mirror = new KvMirror<Entry>(nats, {
      bucket: BUCKETS.xds,
      logger: new Logger('kv tendril-xds'),
      onWaiting: (reason) => readiness.fail(`waiting for bucket ${BUCKETS.xds}: ${reason}`),
      decode: (key, bytes) =>
        key === XDS_GENERATION_KEY ? { kind: 'marker', marker: xdsGenerationCodec.decode(bytes) } : { kind: 'resource', envelope: xdsResourceCodec.decode(bytes) },
    });
    this.mirror.onChange(() => this.consider());
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
    this.mirror.stop();
  }

  private consider(): void {
    if (!this.mirror.isInitiallySynced) return;
    let marker: XdsGeneration | undefined;
    const envelopes: [string, XdsResourceEnvelope][] = [];
    for (const [key, entry] of this.mirror.values()) {
      if (entry.kind === 'marker') marker = entry.marker;
      else envelopes.push([key, entry.envelope]);
    }
    const digest = generationDigest(envelopes.map(([key, envelope]) => [key, envelope.hash]));
    if (!marker) {
      if (envelopes.length > 0) return this.wait(`no generation marker yet for ${envelopes.length} resources`);
      return this.serve(XdsSnapshot.empty(0), digest);
    }
    if (marker.count !== envelopes.length || marker.digest !== digest) {
      return this.wait(`generation ${marker.generation}: ${envelopes.length}/${marker.count} resources, digest ${marker.digest === digest ? 'matches' : 'differs'}`);
    }
    if (digest === this.servedDigest && this.snapshot?.generation === marker.generation) return;
    try {
      this.serve(XdsSnapshot.fromEnvelopes(marker.generation, envelopes.map(([, envelope]) => envelope)), digest);
    } catch (error) {
      this.wait(`generation ${marker.generation} is unusable: ${(error as Error).message}`);
    }
  }

  private wait(reason: string): void {
    if (reason !== this.waitingFor) this.logger.log(`holding back: ${reason}`);
    this.waitingFor = reason;
  }

  private serve(snapshot: XdsSnapshot, digest: string): void {
    this.snapshot = snapshot;
    this.servedDigest = digest;
    this.waitingFor = '';
    this.readiness.pass(`generation ${snapshot.generation}`);
    this.logger.log(`serving generation ${snapshot.generation}: ${snapshot.count} resources`);
    for (const listener of this.listeners) listener(snapshot);
  }
}
