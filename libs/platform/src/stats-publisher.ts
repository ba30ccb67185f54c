/** Publishes a service's figures to `tendril.stats.<service>` every few seconds. */
import { SUBJECTS, serviceStatsCodec, type ServiceName } from '@tendril/contract';
import type { NatsClient } from './nats.js';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';

export class StatsPublisher {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly nats: NatsClient,
    private readonly metrics: Metrics,
    private readonly readiness: Readiness,
    private readonly service: ServiceName,
    private readonly instance: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.publish(), this.intervalMs);
    this.timer.unref();
  }

  publish(): void {
    if (!this.nats.connected) return;
    const message = serviceStatsCodec.encode({
      v: 1,
      service: this.service,
      instance: this.instance,
      at: new Date().toISOString(),
      ready: this.readiness.ready,
      figures: this.metrics.readFigures(),
    });
    this.nats.nc.publish(SUBJECTS.stats(this.service), message);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
