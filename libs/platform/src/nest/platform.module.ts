/**
 * The Nest module every service imports once: config, NATS, readiness, metrics, the micro service
 * registration, the stats publisher, and the /healthz /readyz /metrics controller.
 */
import { Controller, Get, Global, Inject, Injectable, Logger, Module, Optional, Res, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Response } from 'express';
import type { ServiceName } from '@tendril/contract';
import { PLATFORM_VERSION, readPlatformConfig, type PlatformConfig } from '../config.js';
import { KvLease, readLeaseTiming } from '../lease.js';
import { Metrics } from '../metrics.js';
import { MicroRegistration } from '../micro.js';
import { NatsClient } from '../nats.js';
import { Readiness } from '../readiness.js';
import { StatsPublisher } from '../stats-publisher.js';

export const PLATFORM_CONFIG = Symbol('PLATFORM_CONFIG');

export interface PlatformModuleOptions {
  service: ServiceName;
  description: string;
  /**
   * One active replica, the others hot standbys: a lease in tendril-leases (key = service name),
   * provided as KvLease; the role shows in /readyz (check `lease`), in $SRV.INFO/STATS and as figure lease_active.
   */
  lease?: boolean;
}

@Controller()
class HealthController {
  constructor(
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('readyz')
  readyz(@Res() response: Response): void {
    const body = { ready: this.readiness.ready, reason: this.readiness.reason, checks: this.readiness.snapshot() };
    response.status(body.ready ? 200 : 503).json(body);
  }

  @Get('metrics')
  async metricsText(@Res() response: Response): Promise<void> {
    response.setHeader('Content-Type', this.metrics.registry.contentType);
    response.send(await this.metrics.registry.metrics());
  }
}

@Injectable()
class PlatformLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('platform');
  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(MicroRegistration) private readonly micro: MicroRegistration,
    @Inject(StatsPublisher) private readonly stats: StatsPublisher,
    @Optional() @Inject(KvLease) private readonly lease?: KvLease,
  ) {}

  onApplicationBootstrap(): void {
    void this.nats
      .connect()
      .then(() => this.micro.start())
      .then(() => this.stats.start())
      .then(() => this.lease?.start())
      .catch((error: Error) => this.logger.error(`NATS start-up failed: ${error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    // released first, so a standby takes over at its next look instead of after the TTL
    await this.lease?.stop();
    this.stats.stop();
    await this.micro.stop().catch(() => undefined);
    await this.nats.drain();
    this.logger.log('NATS drained');
  }
}

@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    const config = readPlatformConfig(options.service);
    const readiness = new Readiness();
    const metrics = new Metrics(config.service, config.instance);
    const nats = new NatsClient({
      url: config.natsUrl,
      ...(config.natsUser ? { user: config.natsUser, password: config.natsPassword ?? '' } : {}),
      ...(config.natsTls ? { tls: config.natsTls } : {}),
      name: `tendril-${config.service}/${config.instance}`,
      kvReplicas: config.kvReplicas,
      chunkSweep: config.chunkSweep,
      logger: new Logger('nats'),
      readiness: readiness.register('nats', 'not connected yet'),
    });
    metrics.figure('nats_connected', 'Whether the NATS connection is up (1) or not (0)', () => (nats.connected ? 1 : 0));
    let lease: KvLease | undefined;
    if (options.lease) {
      const leaseCheck = readiness.register('lease', 'standby: looking for the lease');
      lease = new KvLease(nats, { name: config.service, holder: config.instance, ...readLeaseTiming(), logger: new Logger('lease') });
      // a standby is ready: it is warm and takes over by itself; the reason says which one it is
      lease.onChange((state) => leaseCheck.pass(state.reason));
      metrics.figure('lease_active', 'Whether this replica holds the lease and writes (1) or is a standby (0)', () => (lease!.active ? 1 : 0));
    }
    const micro = new MicroRegistration(nats, {
      service: config.service,
      version: PLATFORM_VERSION,
      description: options.description,
      instance: config.instance,
      logger: new Logger('micro'),
      ...(lease ? { lease } : {}),
      info: () => ({
        v: 1,
        service: config.service,
        version: PLATFORM_VERSION,
        instance: config.instance,
        ready: readiness.ready,
        readiness: readiness.snapshot(),
        httpPort: config.httpPort,
        figures: metrics.readFigures(),
        ...(lease ? { role: lease.role } : {}),
      }),
    });
    const stats = new StatsPublisher(nats, metrics, readiness, config.service, config.instance, config.statsIntervalMs);
    return {
      module: PlatformModule,
      controllers: [HealthController],
      providers: [
        { provide: PLATFORM_CONFIG, useValue: config satisfies PlatformConfig },
        { provide: Readiness, useValue: readiness },
        { provide: Metrics, useValue: metrics },
        { provide: NatsClient, useValue: nats },
        { provide: MicroRegistration, useValue: micro },
        { provide: StatsPublisher, useValue: stats },
        ...(lease ? [{ provide: KvLease, useValue: lease }] : []),
        PlatformLifecycle,
      ],
      exports: [PLATFORM_CONFIG, Readiness, Metrics, NatsClient, MicroRegistration, StatsPublisher, ...(lease ? [KvLease] : [])],
    };
  }
}
