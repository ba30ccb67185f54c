/**
 * What the other services report: their figures arrive on tendril.stats.<service> and are shown on
 * this service's /metrics as tendril_mesh_<figure>{service, instance}; xDS proxy events are counted as
 * they pass (L4 flows: see FlowsService). An instance that stops reporting disappears after a few intervals.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'nats';
import { Gauge } from 'prom-client';
import { SUBJECTS, serviceStatsCodec, xdsProxyEventCodec, type ServiceName, type ServiceStats } from '@tendril/contract';
import { Metrics, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';

interface Reported {
  stats: ServiceStats;
  receivedAt: number;
}

@Injectable()
export class MeshFigures implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('mesh-figures');
  private readonly reported = new Map<string, Reported>();
  private readonly gauges = new Map<string, Gauge<'reporter' | 'reporter_instance'>>();
  private readonly subscriptions: Subscription[] = [];
  private readonly subscribed: ReadinessCheck;
  private statsReceived = 0;
  private readonly proxyEvents;
  private readonly badMessages;

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Readiness) readiness: Readiness,
  ) {
    this.subscribed = readiness.register('initial-sync', 'not subscribed to reports yet');
    metrics.figure('stats_received', 'Figure reports received from Tendril services', () => this.statsReceived);
    metrics.figure('services_reporting', 'Service instances that reported recently', () => this.live().length);
    this.proxyEvents = metrics.counter('tendril_xds_proxy_events_total', 'xDS proxy events (connect, disconnect, ack, nack)', ['event']);
    this.badMessages = metrics.counter('tendril_metrics_bad_messages_total', 'Messages that did not follow the contract', ['subject']);
  }

  onApplicationBootstrap(): void {
    void this.nats.connect().then(() => this.subscribe());
  }

  private subscribe(): void {
    const nc = this.nats.nc;
    this.subscriptions.push(
      nc.subscribe(SUBJECTS.statsAll, { callback: (error, msg) => !error && this.onStats(msg.subject, msg.data) }),
      nc.subscribe(SUBJECTS.xdsProxyAll, {
        callback: (error, msg) => {
          if (error) return;
          try {
            this.proxyEvents.inc({ event: xdsProxyEventCodec.decode(msg.data).event });
          } catch (failure) {
            this.bad(msg.subject, failure as Error);
          }
        },
      }),
    );
    this.subscribed.pass('subscribed to tendril.stats.>, tendril.xds.proxy.>');
  }

  private onStats(subject: string, data: Uint8Array): void {
    let stats: ServiceStats;
    try {
      stats = serviceStatsCodec.decode(data);
    } catch (error) {
      this.bad(subject, error as Error);
      return;
    }
    this.statsReceived++;
    this.reported.set(`${stats.service}/${stats.instance}`, { stats, receivedAt: Date.now() });
    for (const name of Object.keys(stats.figures)) this.gaugeFor(name);
  }

  /** Counts and logs a message that broke the contract. */
  bad(subject: string, error: Error): void {
    this.badMessages.inc({ subject: subject.split('.').slice(0, 3).join('.') });
    this.logger.warn(`${subject}: ${error.message}`);
  }

  /** Reports newer than three intervals. */
  private live(): Reported[] {
    const horizon = Date.now() - 3 * this.config.statsIntervalMs - 1000;
    for (const [key, report] of this.reported) if (report.receivedAt < horizon) this.reported.delete(key);
    return [...this.reported.values()];
  }

  /** Instances of a service that reported recently (this one included, once it has reported). */
  instancesOf(service: ServiceName): number {
    return this.live().filter(({ stats }) => stats.service === service).length;
  }

  private gaugeFor(figure: string): void {
    if (this.gauges.has(figure)) return;
    // Labels other than service/instance: those two are this process's default labels.
    const live = () => this.live();
    const gauge = new Gauge({
      name: `tendril_mesh_${figure}`,
      help: `Figure "${figure}" as reported by Tendril services over NATS`,
      labelNames: ['reporter', 'reporter_instance'] as const,
      registers: [this.metrics.registry],
      collect() {
        this.reset();
        for (const { stats } of live()) {
          const value = stats.figures[figure];
          if (value !== undefined) this.set({ reporter: stats.service, reporter_instance: stats.instance }, value);
        }
      },
    });
    this.gauges.set(figure, gauge);
  }

  onModuleDestroy(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }
}
