/**
 * Optional OTLP export: this service's Prometheus registry (its own series and every service's figures)
 * sent as OTLP/HTTP JSON (ExportMetricsServiceRequest) to TENDRIL_OTLP_ENDPOINT every
 * TENDRIL_OTLP_INTERVAL_MS. Counters become cumulative monotonic sums, gauges gauges, histograms
 * explicit-bucket histograms (Prometheus's cumulative buckets turned into per-bucket counts).
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';
import { envInt, envString, Metrics, PLATFORM_CONFIG, type PlatformConfig } from '@tendril/platform';

type Attribute = { key: string; value: { stringValue: string } };
type PromMetric = MetricObjectWithValues<MetricValue<string> | MetricValueWithName<string>>;

const attributes = (labels: Record<string, string | number | undefined>): Attribute[] =>
  Object.entries(labels)
    .filter(([key, value]) => key !== 'le' && value !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value: { stringValue: String(value) } }));

/** One Prometheus metric (from registry.getMetricsAsJSON()) as an OTLP metric, or undefined if empty. */
export function toOtlpMetric(metric: PromMetric, timeUnixNano: string, startTimeUnixNano: string): Record<string, unknown> | undefined {
  const base = { name: metric.name, description: metric.help };
  const values = metric.values as MetricValueWithName<string>[];
  if (values.length === 0) return undefined;
  const point = (value: MetricValueWithName<string>) => ({ attributes: attributes(value.labels), asDouble: value.value, timeUnixNano, startTimeUnixNano });
  switch (String(metric.type)) {
    case 'counter':
      return { ...base, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: values.map(point) } };
    case 'gauge':
      return { ...base, gauge: { dataPoints: values.map(point) } };
    case 'histogram': {
      const series = new Map<string, { labels: Record<string, string | number | undefined>; bounds: [number, number][]; sum: number; count: number }>();
      for (const value of values) {
        const key = JSON.stringify(attributes(value.labels));
        const entry = series.get(key) ?? { labels: value.labels, bounds: [], sum: 0, count: 0 };
        series.set(key, entry);
        if (value.metricName?.endsWith('_bucket')) entry.bounds.push([value.labels['le'] === '+Inf' ? Infinity : Number(value.labels['le']), value.value]);
        else if (value.metricName?.endsWith('_sum')) entry.sum = value.value;
        else if (value.metricName?.endsWith('_count')) entry.count = value.value;
      }
      const dataPoints = [...series.values()].map((entry) => {
        const sorted = entry.bounds.sort(([a], [b]) => a - b);
        const bucketCounts = sorted.map(([, cumulative], i) => String(cumulative - (i === 0 ? 0 : sorted[i - 1]![1])));
        return { attributes: attributes(entry.labels), count: String(entry.count), sum: entry.sum, bucketCounts, explicitBounds: sorted.filter(([le]) => le !== Infinity).map(([le]) => le), timeUnixNano, startTimeUnixNano };
      });
      return { ...base, histogram: { aggregationTemporality: 2, dataPoints } };
    }
    default:
      return undefined;
  }
}

@Injectable()
export class OtlpExporter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('otlp');
  /** TENDRIL_OTLP_ENDPOINT: e.g. http://collector:4318/v1/metrics; empty: no export. */
  private readonly endpoint = envString('TENDRIL_OTLP_ENDPOINT', '');
  /** TENDRIL_OTLP_INTERVAL_MS */
  private readonly intervalMs = envInt('TENDRIL_OTLP_INTERVAL_MS', 15000, 100);
  private readonly startTimeUnixNano = `${BigInt(Date.now()) * 1_000_000n}`;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private exports = 0;

  constructor(
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
  ) {
    metrics.figure('otlp_exports', 'OTLP metric exports accepted by the collector', () => this.exports);
    metrics.figure('otlp_export_failures', 'OTLP metric exports that failed', () => this.failures);
  }

  onApplicationBootstrap(): void {
    if (this.endpoint === '') return;
    this.logger.log(`exporting metrics to ${this.endpoint} every ${this.intervalMs} ms`);
    this.timer = setInterval(() => void this.export(), this.intervalMs);
  }

  async export(): Promise<void> {
    const timeUnixNano = `${BigInt(Date.now()) * 1_000_000n}`;
    const metrics = (await this.metrics.registry.getMetricsAsJSON()).map((metric) => toOtlpMetric(metric as PromMetric, timeUnixNano, this.startTimeUnixNano)).filter((m) => m !== undefined);
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: attributes({ 'service.name': 'tendril-metrics', 'service.instance.id': this.platform.instance, 'service.version': this.platform.version }) },
          scopeMetrics: [{ scope: { name: 'tendril' }, metrics }],
        },
      ],
    };
    try {
      const response = await fetch(this.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.exports++;
    } catch (error) {
      this.failures++;
      if (this.failures === 1 || this.failures % 20 === 0) this.logger.warn(`OTLP export to ${this.endpoint}: ${(error as Error).message} (${this.failures} failures)`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
  }
}
