/**
 * How far the pushes lag behind the translator: from a generation marker's write in tendril-xds
 * (its KV timestamp) to this replica serving that generation to its streams. The marker's
 * timestamp comes from a watch of that one key (the snapshot source's mirror keeps no times);
 * whichever of the two arrives second completes the figure. As a histogram on /metrics and as
 * figures on tendril.stats.xds-server (which metrics shows as tendril_mesh_*). The newest marker seen
 * is also what the generation served is compared with (`latest`, onLatest()).
 */
import { Logger } from '@nestjs/common';
import { KvWatchInclude, type QueuedIterator, type KvEntry } from 'nats';
import { BUCKETS, XDS_GENERATION_KEY, xdsGenerationCodec } from '@tendril/contract';
import type { Metrics, NatsClient } from '@tendril/platform';

const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Generations remembered while waiting for their other half. */
const KEEP = 64;

export class GenerationLag {
  private readonly logger = new Logger('generation lag');
  private readonly written = new Map<number, number>();
  private readonly served = new Map<number, number>();
  private readonly lags;
  private lastLag = 0;
  private measured = 0;
  private stopped = false;
  private watch?: QueuedIterator<KvEntry>;
  /** The newest generation the translator wrote, as far as this replica knows. */
  latest?: number;
  private readonly latestListeners: (() => void)[] = [];

  constructor(
    private readonly nats: NatsClient,
    metrics: Metrics,
  ) {
    this.lags = metrics.histogram('tendril_xds_push_lag_seconds', 'From a tendril-xds generation marker (its KV timestamp) to this replica pushing that generation', [], SECONDS_BUCKETS);
    metrics.figure('last_xds_push_lag_seconds', 'Lag of the last generation pushed behind its marker in tendril-xds', () => this.lastLag);
    metrics.figure('xds_push_lags_measured', 'Generations whose push lag was measured since start', () => this.measured);
  }

  /** Watches the marker key until stopped, re-watching after errors. */
  start(): void {
    void (async () => {
      while (!this.stopped) {
        try {
          const kv = await this.nats.bindBucket(BUCKETS.xds);
          if (this.stopped) return;
          this.watch = await kv.watch({ key: XDS_GENERATION_KEY, include: KvWatchInclude.UpdatesOnly });
          // the marker written before this replica watched: the latest, though its write time is not a push lag
          const current = await kv.get(XDS_GENERATION_KEY);
          if (current?.operation === 'PUT') this.seen(xdsGenerationCodec.decode(current.value).generation);
          for await (const entry of this.watch) {
            if (entry.operation !== 'PUT') continue;
            this.markerWritten(xdsGenerationCodec.decode(entry.value).generation, entry.created.getTime());
          }
        } catch (error) {
          if (!this.stopped) this.logger.warn(`watching ${BUCKETS.xds} ${XDS_GENERATION_KEY}: ${(error as Error).message}`);
        }
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }

  /** Called whenever `latest` moves. */
  onLatest(listener: () => void): void {
    this.latestListeners.push(listener);
  }

  private seen(generation: number): void {
    if (this.latest !== undefined && generation <= this.latest) return;
    this.latest = generation;
    for (const listener of this.latestListeners) listener();
  }

  markerWritten(generation: number, at: number): void {
    this.seen(generation);
    const served = this.served.get(generation);
    if (served === undefined) return this.remember(this.written, generation, at);
    this.served.delete(generation);
    this.record(served - at);
  }

  /** Called once the snapshot of `generation` went out to the streams. */
  pushed(generation: number, now = Date.now()): void {
    const written = this.written.get(generation);
    if (written === undefined) return this.remember(this.served, generation, now);
    this.written.delete(generation);
    this.record(now - written);
  }

  private record(milliseconds: number): void {
    // the KV timestamp is the server's clock: a skewed one must not make the lag negative
    this.lastLag = Math.max(0, milliseconds) / 1000;
    this.lags.observe(this.lastLag);
    this.measured++;
  }

  private remember(map: Map<number, number>, generation: number, at: number): void {
    map.set(generation, at);
    for (const old of map.keys()) {
      if (map.size <= KEEP) break;
      map.delete(old);
    }
  }
}
