/**
 * The agent: installs the programs, mirrors KV tendril-lb and programs each change incrementally.
 * Ready when the programs are attached and the initial contents of the bucket are in the maps.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { BUCKETS, SUBJECTS, flowEventCodec, lbServiceCodec, type LbService } from '@tendril/contract';
import { KvMirror, Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type MirrorChange, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { Gauge } from 'prom-client';
import { DATAPATH_CONFIG, type DatapathConfig } from './config.js';
import { LbProgrammer } from './lb-programmer.js';

const RETRY_MS = 2000;

@Injectable()
export class DatapathService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('datapath');
  private readonly programmer: LbProgrammer;
  private readonly mirror: KvMirror<LbService>;
  private readonly programsCheck: ReadinessCheck;
  private readonly syncCheck: ReadinessCheck;
  private synced = false;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private flowTimer?: NodeJS.Timeout;
  private reconcileTimer?: NodeJS.Timeout;
  private driftRepairs = 0;
  private flowsPublished = 0;

  constructor(
    @Inject(DATAPATH_CONFIG) private readonly config: DatapathConfig,
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
  ) {
    this.programmer = new LbProgrammer(config, this.logger);
    this.programsCheck = readiness.register('programs', `not attached to ${config.cgroupPath} yet`);
    this.syncCheck = readiness.register('lb-sync', `initial sync of ${BUCKETS.lb} not applied yet`);
    this.mirror = new KvMirror(nats, {
      bucket: BUCKETS.lb,
      decode: (_key, bytes) => lbServiceCodec.decode(bytes),
      logger: this.logger,
      onWaiting: (reason) => this.syncCheck.fail(`waiting for bucket ${BUCKETS.lb}: ${reason}`),
    });
    this.mirror.onChange((changes) => this.onChanges(changes));
    metrics.figure('map_entries', 'Entries in the LB maps (services and backend slots), counted in the kernel', () => this.programmer.mapEntries());
    metrics.figure('services_programmed', 'Frontends (VIP, port, protocol) programmed in the kernel', () => this.programmer.serviceCount);
    metrics.figure('backends_programmed', 'Backend slots programmed in the kernel', () => this.programmer.backendCount);
    metrics.figure('sync_errors', 'Map writes that failed and forced a full reconcile', () => this.programmer.errors);
    metrics.figure('drift_repairs', 'Map writes made by the periodic reconcile (entries that had drifted from tendril-lb)', () => this.driftRepairs);
    metrics.figure('flow_events_published', 'Flow event messages published on tendril.flows.<node>', () => this.flowsPublished);
    const programmer = this.programmer;
    new Gauge({
      name: 'tendril_datapath_connections',
      help: 'Connections the kernel balanced, per frontend and backend (refused: no backend; l7-proxy: sent to the node proxy), from per-CPU counters',
      labelNames: ['lb_service', 'frontend', 'backend'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const count of programmer.connectionCounts()) this.set({ lb_service: count.service ?? '', frontend: count.frontend, backend: count.backend }, count.connections);
      },
    });
    micro.endpoint('counters', () => new TextEncoder().encode(JSON.stringify({ v: 1, connections: this.programmer.connectionCounts() })));
    const dump = () => new TextEncoder().encode(JSON.stringify({ v: 1, node: this.platform.nodeName, services: this.programmer.dump() }));
    micro.endpoint('dump', dump);
    // the same, from this node only: `tendril services --node <name>` asks here
    micro.endpoint('dump-node', dump, SUBJECTS.nodeEndpoint('datapath', 'dump', this.platform.nodeName));
  }

  onApplicationBootstrap(): void {
    void this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.flowTimer) clearInterval(this.flowTimer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.mirror.stop();
    this.programmer.close();
  }

  private async start(): Promise<void> {
    try {
      this.programmer.install();
      this.programsCheck.pass(`attached to ${this.config.cgroupPath}`);
      if (this.config.flowIntervalMs > 0 && !this.flowTimer) {
        this.flowTimer = setInterval(() => this.publishFlows(), this.config.flowIntervalMs);
        this.flowTimer.unref();
      }
    } catch (error) {
      this.programmer.errors++;
      this.programsCheck.fail((error as Error).message);
      this.logger.error(`installing the programs failed: ${(error as Error).message}`);
      if (!this.stopped) this.retry = setTimeout(() => void this.start(), RETRY_MS);
      return;
    }
    try {
      await this.mirror.start();
    } catch (error) {
      this.logger.error(`mirroring ${BUCKETS.lb} failed: ${(error as Error).message}`);
      return;
    }
    this.fullSync('initial sync');
    if (this.config.reconcileIntervalMs > 0 && !this.reconcileTimer) {
      this.reconcileTimer = setInterval(() => {
        if (this.synced) this.fullSync('periodic reconcile');
      }, this.config.reconcileIntervalMs);
      this.reconcileTimer.unref();
    }
  }

  private fullSync(why: string): void {
    if (this.stopped) return;
    try {
      const written = this.programmer.reconcile(this.mirror.values());
      this.synced = true;
      this.syncCheck.pass(`${this.programmer.serviceCount} frontends programmed`);
      const periodic = why === 'periodic reconcile';
      if (periodic) this.driftRepairs += written;
      if (!periodic || written > 0) this.logger.log(`${why}: ${this.mirror.size} services, ${written} map writes`);
    } catch (error) {
      this.programmer.errors++;
      this.syncCheck.fail(`${why} failed: ${(error as Error).message}`);
      this.logger.error(`${why} failed: ${(error as Error).message}`);
      this.retry = setTimeout(() => this.fullSync('retry'), RETRY_MS);
    }
  }

  private publishFlows(): void {
    try {
      const subject = SUBJECTS.flows(this.platform.nodeName);
      for (const event of this.programmer.takeFlows(this.platform.nodeName)) {
        if (!this.nats.connected) continue;
        this.nats.nc.publish(subject, flowEventCodec.encode(event));
        this.flowsPublished++;
      }
    } catch (error) {
      this.logger.warn(`publishing flows failed: ${(error as Error).message}`);
    }
  }

  private onChanges(changes: MirrorChange<LbService>[]): void {
    // Before the initial sync, fullSync() reads the whole mirror anyway.
    if (!this.synced || this.stopped) return;
    try {
      this.programmer.apply(
        changes.map((change) => ({ key: change.key, service: change.op === 'put' ? change.value : undefined })),
        () => this.mirror.values(),
      );
    } catch (error) {
      this.programmer.errors++;
      this.synced = false;
      this.syncCheck.fail(`reconcile failed: ${(error as Error).message}`);
      this.retry = setTimeout(() => this.fullSync('retry'), RETRY_MS);
    }
  }
}
