/**
 * Prometheus metrics of one service: Node's defaults plus the service's own figures. A figure is a
 * number the service reports both on /metrics (as tendril_<name>) and to the metrics service over
 * NATS (tendril.stats.<service>).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const FIGURE_NAME = /^[a-z][a-z0-9_]*$/;

export class Metrics {
  readonly registry = new Registry();
  private readonly figures = new Map<string, () => number>();

  constructor(service: string, instance: string) {
    this.registry.setDefaultLabels({ service, instance });
    collectDefaultMetrics({ register: this.registry });
  }

  /** A number read when scraped or reported, e.g. the size of a map. */
  figure(name: string, help: string, read: () => number): void {
    if (!FIGURE_NAME.test(name)) throw new Error(`figure name "${name}" must be snake_case`);
    if (this.figures.has(name)) throw new Error(`figure "${name}" registered twice`);
    this.figures.set(name, read);
    new Gauge({
      name: `tendril_${name}`,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** Current value of every figure, for tendril.stats.<service>. */
  readFigures(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, read] of [...this.figures].sort(([a], [b]) => a.localeCompare(b))) {
      const value = read();
      if (Number.isFinite(value)) out[name] = value;
    }
    return out;
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) });
  }
}
