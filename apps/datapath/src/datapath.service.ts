/**
 * The agent: installs the programs, mirrors KV tendril-lb and programs each change incrementally.
 * Ready when the programs are attached, the initial contents of the bucket are in the maps, and the
 * maps hold the translator's latest generation: the bucket's generation marker, written after each
 * publish's entries, is what the agent has applied once it applied everything before it; the marker
 * the bucket holds now is read every few seconds, so a watch that falls behind shows as a lag.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { BUCKETS, LB_GENERATION_KEY, SUBJECTS, flowEventCodec, isLbServiceKey, lbGenerationCodec, lbServiceCodec, type LbGeneration, type LbService } from '@tendril/contract';
import { KvMirror, Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type MirrorChange, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import type { KV } from 'nats';
import { Gauge } from 'prom-client';
import { DATAPATH_CONFIG, type DatapathConfig } from './config.js';
import { HealthCheckServers } from './health-check.js';
import { LbProgrammer } from './lb-programmer.js';
import { PolicyProgrammer } from './policy-programmer.js';

const RETRY_MS = 2000;
/** How often the marker the bucket holds is read (what the applied one is compared with). */
const MARKER_CHECK_MS = 2000;

type LbEntry = LbService | LbGeneration;
const sameMarker = (a?: LbGeneration, b?: LbGeneration) => a?.generation === b?.generation && a?.digest === b?.digest;

@Injectable()
export class DatapathService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('datapath');
  private readonly programmer: LbProgrammer;
  private readonly policy?: PolicyProgrammer;
  /** Health check node ports (externalTrafficPolicy Local), when north-south is on. */
  private readonly health?: HealthCheckServers;
  private policyStarted = false;
  private readonly mirror: KvMirror<LbEntry>;
  private readonly programsCheck: ReadinessCheck;
  private readonly syncCheck: ReadinessCheck;
  private readonly generationCheck: ReadinessCheck;
  /** The marker whose entries (and all before them) are in the maps. */
  private applied?: LbGeneration;
  /** The newest marker known to be in the bucket (from the watch, or read directly). */
  private latest?: LbGeneration;
  /** Since when (ms) the maps have been behind `latest`. */
  private behindSince?: number;
  private markerTimer?: NodeJS.Timeout;
  private lbBucket?: KV;
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
    this.programmer = new LbProgrammer({ ...config, nodeName: platform.nodeName }, this.logger);
    if (config.northSouth) {
      this.health = new HealthCheckServers(platform.nodeName, config.northSouth.netnsPath, new Logger('health-check'));
      metrics.figure('health_check_ports', 'Health check node ports served (Services with externalTrafficPolicy Local)', () => this.health?.size ?? 0);
    }
    if (config.policyObjectPath !== 'none') {
      this.policy = new PolicyProgrammer(nats, { policyObjectPath: config.policyObjectPath, pinPath: config.pinPath, cgroupPath: config.cgroupPath, nodeName: platform.nodeName, rescanMs: config.policyRescanMs }, new Logger('policy'));
      metrics.figure('policy_endpoints', 'Workloads on this node under network policy (cgroups programmed)', () => this.policy?.endpoints ?? 0);
      metrics.figure('policy_rules', 'Allow and deny rule entries programmed for the workloads on this node', () => this.policy?.rules ?? 0);
      metrics.figure('policy_errors', 'Failures programming network policy', () => this.policy?.errors ?? 0);
    }
    this.programsCheck = readiness.register('programs', `not attached to ${config.cgroupPath} yet`);
    this.syncCheck = readiness.register('lb-sync', `initial sync of ${BUCKETS.lb} not applied yet`);
    this.generationCheck = readiness.register('generation', `the translator's latest generation not applied yet`);
    this.mirror = new KvMirror<LbEntry>(nats, {
      bucket: BUCKETS.lb,
      decode: (key, bytes) => (isLbServiceKey(key) ? lbServiceCodec.decode(bytes) : lbGenerationCodec.decode(bytes)),
      logger: this.logger,
      onWaiting: (reason) => this.syncCheck.fail(`waiting for bucket ${BUCKETS.lb}: ${reason}`),
    });
    this.mirror.onChange((changes) => this.onChanges(changes));
    metrics.figure('map_entries', 'Entries in the LB maps (services and backend slots), counted in the kernel', () => this.programmer.mapEntries());
    metrics.figure('services_programmed', 'Frontends (VIP, port, protocol) programmed in the kernel', () => this.programmer.serviceCount);
    metrics.figure('backends_programmed', 'Backend slots programmed in the kernel', () => this.programmer.backendCount);
    metrics.figure('generation_applied', 'The tendril-lb generation whose entries are in the maps (-1: none yet)', () => this.applied?.generation ?? -1);
    metrics.figure('generation_lag', "Generations the maps are behind the translator's latest in tendril-lb (0: up to date)", () => this.lag());
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
    if (this.markerTimer) clearInterval(this.markerTimer);
    this.mirror.stop();
    this.policy?.stop();
    this.health?.close();
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
    // after the load balancer's programs: connect() is judged against the backend it chose
    if (this.policy && !this.policyStarted) {
      this.policyStarted = true;
      void this.policy.start().catch((error: Error) => {
        this.policy!.errors++;
        this.logger.error(`network policy not enforced: ${error.message}`);
      });
    }
    try {
      await this.mirror.start();
    } catch (error) {
      this.logger.error(`mirroring ${BUCKETS.lb} failed: ${(error as Error).message}`);
      return;
    }
    this.fullSync('initial sync');
    if (!this.markerTimer) {
      this.markerTimer = setInterval(() => void this.readMarker(), MARKER_CHECK_MS);
      this.markerTimer.unref();
      void this.readMarker();
    }
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
      const marker = this.mirror.get(LB_GENERATION_KEY) as LbGeneration | undefined;
      const services = this.services();
      const written = this.programmer.reconcile(services);
      this.health?.reset(services);
      this.synced = true;
      if (marker) this.markApplied(marker);
      else this.judgeGeneration();
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

  /** Every entry before `marker` in the bucket is in the maps. */
  private markApplied(marker: LbGeneration): void {
    this.applied = marker;
    if (!this.latest || marker.generation >= this.latest.generation) this.latest = marker;
    this.judgeGeneration();
  }

  /** Reads the marker the bucket holds now: a watch that fell behind (or stalled) shows as a lag. */
  private async readMarker(): Promise<void> {
    if (this.stopped || !this.nats.connected) return;
    try {
      this.lbBucket ??= await this.nats.bindBucket(BUCKETS.lb);
      const entry = await this.lbBucket.get(LB_GENERATION_KEY);
      if (entry?.operation !== 'PUT') return this.judgeGeneration();
      const marker = lbGenerationCodec.decode(entry.value);
      if (!this.latest || marker.generation > this.latest.generation || (marker.generation === this.latest.generation && !sameMarker(marker, this.applied))) this.latest = marker;
      this.judgeGeneration();
    } catch (error) {
      this.logger.warn(`reading ${BUCKETS.lb} ${LB_GENERATION_KEY}: ${(error as Error).message}`);
    }
  }

  private lag(): number {
    if (!this.latest || sameMarker(this.latest, this.applied)) return 0;
    return Math.max(1, this.latest.generation - (this.applied?.generation ?? 0));
  }

  private judgeGeneration(): void {
    if (!this.synced) return this.generationCheck.fail('initial sync not applied yet');
    if (!this.latest) {
      this.behindSince = undefined;
      return this.generationCheck.pass(`no generation marker in ${BUCKETS.lb} (nothing published yet, or by an older translator)`);
    }
    const lag = this.lag();
    if (lag === 0) {
      this.behindSince = undefined;
      return this.generationCheck.pass(`generation ${this.applied!.generation} in the maps (${this.applied!.count} services)`);
    }
    this.behindSince ??= Date.now();
    const held = this.applied ? `generation ${this.applied.generation}` : 'no generation';
    this.generationCheck.fail(`${lag} generation${lag === 1 ? '' : 's'} behind: the maps hold ${held}, the translator published ${this.latest.generation} (behind for ${Math.round((Date.now() - this.behindSince) / 1000)} s)`);
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

  /** The services the mirror holds (the marker left out). */
  private services(): [string, LbService][] {
    return this.mirror.values().filter(([key]) => isLbServiceKey(key)) as [string, LbService][];
  }

  private onChanges(changes: MirrorChange<LbEntry>[]): void {
    // Before the initial sync, fullSync() reads the whole mirror anyway.
    if (!this.synced || this.stopped) return;
    let marker: LbGeneration | undefined;
    const services = [];
    for (const change of changes) {
      if (!isLbServiceKey(change.key)) {
        if (change.op === 'put') marker = change.value as LbGeneration;
        continue;
      }
      services.push({ key: change.key, service: change.op === 'put' ? (change.value as LbService) : undefined });
    }
    try {
      if (services.length) this.programmer.apply(services, () => this.services());
      if (services.length) this.health?.apply(services);
      if (marker) this.markApplied(marker);
    } catch (error) {
      this.programmer.errors++;
      this.synced = false;
      this.syncCheck.fail(`reconcile failed: ${(error as Error).message}`);
      this.retry = setTimeout(() => this.fullSync('retry'), RETRY_MS);
    }
  }
}
