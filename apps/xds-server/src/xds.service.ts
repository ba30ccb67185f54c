/** Wires the snapshot source, the ADS server and the proxy recorder into the service's lifecycle. */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, type PlatformConfig, Readiness } from '@tendril/platform';
import { AdsServer } from './ads-server.js';
import { XDS_SERVER_CONFIG, type XdsServerConfig } from './config.js';
import { GenerationLag } from './generation-lag.js';
import { ProxyRecorder } from './proxy-recorder.js';
import { SnapshotSource } from './snapshot-source.js';

@Injectable()
export class XdsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('xds-server');
  readonly source: SnapshotSource;
  readonly recorder: ProxyRecorder;
  readonly ads: AdsServer;
  private readonly lag: GenerationLag;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(PLATFORM_CONFIG) platform: PlatformConfig,
    @Inject(XDS_SERVER_CONFIG) private readonly config: XdsServerConfig,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
  ) {
    this.source = new SnapshotSource(nats, readiness.register('xds-snapshot', 'first consistent snapshot not loaded yet'), {
      holdMs: config.debounceMs,
      maxMs: config.debounceMaxMs,
    });
    this.recorder = new ProxyRecorder(nats, platform.instance);
    this.ads = new AdsServer(this.source, this.recorder, platform.instance, config.tls);
    metrics.figure('proxies_connected', 'Proxies with an open ADS stream to this replica', () => this.ads.connected);
    metrics.figure('resources_served', 'Resources in the snapshot being served', () => this.source.current?.count ?? 0);
    metrics.figure('xds_acks', 'ACKs received since start', () => this.ads.counters.acks);
    metrics.figure('xds_nacks', 'NACKs received since start', () => this.ads.counters.nacks);
    metrics.figure('xds_responses', 'Responses written on all streams since start', () => this.ads.counters.responses);
    metrics.figure('xds_secrets_refused', 'Secrets asked for by a node that may not have them (node id not proven, or no listener or cluster of its refers to them), answered as not found', () => this.ads.counters.secretsRefused);
    metrics.figure('xds_snapshots_incremental', 'Snapshots built from the changed keys alone', () => this.source.builds.incremental);
    metrics.figure('generation', 'Generation of the snapshot being served', () => this.source.current?.generation ?? -1);
    micro.endpoint('dump', () => new TextEncoder().encode(JSON.stringify(this.dump())));
    // after the ADS server's listener: measured once the pushes are written
    this.lag = new GenerationLag(nats, metrics);
    const generationCheck = readiness.register('generation', "the translator's latest generation not loaded yet");
    // available to push = the snapshot holds the newest generation marker the translator wrote
    const judge = () => {
      const served = this.source.current?.generation;
      const latest = this.lag.latest;
      if (served === undefined) return generationCheck.fail(latest === undefined ? 'no snapshot loaded yet' : `no snapshot loaded yet; the translator published generation ${latest}`);
      if (latest === undefined || served >= latest) return generationCheck.pass(`serving generation ${served}`);
      const waiting = this.source.waitingFor;
      generationCheck.fail(`${latest - served} generation${latest - served === 1 ? '' : 's'} behind: serving ${served}, the translator published ${latest}${waiting ? ` (${waiting})` : ''}`);
    };
    this.source.onSnapshot((snapshot) => {
      this.lag.pushed(snapshot.generation);
      judge();
    });
    this.lag.onLatest(judge);
    metrics.figure('generation_latest', 'The newest generation marker the translator wrote to tendril-xds, as this replica saw it (-1: none)', () => this.lag.latest ?? -1);
    metrics.figure('generation_lag', "Generations the snapshot served is behind the translator's latest (0: up to date)", () =>
      this.lag.latest === undefined ? 0 : Math.max(0, this.lag.latest - (this.source.current?.generation ?? 0)),
    );
  }

  dump(): object {
    return {
      snapshot: this.source.current?.summary() ?? null,
      waitingFor: this.source.waitingFor,
      proxies: this.ads.proxies(),
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ads.listen(this.config.grpcHost, this.config.grpcPort);
    this.lag.start();
    void this.nats
      .connect()
      .then(() => this.source.start())
      .catch((error: Error) => this.logger.error(`start-up failed: ${error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    this.lag.stop();
    await this.ads.close();
    await this.recorder.flush();
    this.source.stop();
  }
}
