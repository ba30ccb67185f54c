/**
 * L7 traffic from Envoy's access logs: observations become Prometheus series in Hubble's HTTP shape
 * (requests by source, destination, method and status class; a duration histogram) and edges of the
 * service map. Addresses are named by service through a mirror of tendril-lb.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BUCKETS, isLbServiceKey, lbServiceCodec, type FlowEvent, type LbService } from '@tendril/contract';
import type { StreamAccessLogsMessage } from '@tendril/envoy';
import { KvMirror, Metrics, NatsClient } from '@tendril/platform';
import { LabelBudget, ServiceDirectory, ServiceMap, UNKNOWN, observeAccessLog, type ServiceMapSnapshot } from '@tendril/traffic';
import { METRICS_CONFIG, type MetricsConfig } from './config.js';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

@Injectable()
export class TrafficService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('traffic');
  private readonly directory = new ServiceDirectory();
  private readonly services: LabelBudget;
  readonly map: ServiceMap;
  private readonly lb: KvMirror<LbService | null>;
  private readonly requests;
  private readonly durations;
  private readonly tcpConnections;
  private readonly dropped;
  private observed = 0;

  constructor(
    @Inject(METRICS_CONFIG) config: MetricsConfig,
    @Inject(NatsClient) nats: NatsClient,
    @Inject(Metrics) metrics: Metrics,
  ) {
    this.services = new LabelBudget(config.maxServiceLabels);
    this.map = new ServiceMap(config.serviceMapWindowSeconds, config.maxServiceLabels * 10);
    // the generation marker is no service: held as null and left out
    this.lb = new KvMirror<LbService | null>(nats, { bucket: BUCKETS.lb, decode: (key, bytes) => (isLbServiceKey(key) ? lbServiceCodec.decode(bytes) : null), logger: this.logger });
    this.lb.onChange((changes) => {
      for (const change of changes) this.directory.set(change.key, change.op === 'put' ? (change.value ?? undefined) : undefined);
    });
    this.requests = metrics.counter('tendril_http_requests_total', 'HTTP requests seen in Envoy access logs', ['source', 'destination', 'method', 'status']);
    this.durations = metrics.histogram('tendril_http_request_duration_seconds', 'HTTP request duration from Envoy access logs', ['source', 'destination'], DURATION_BUCKETS);
    this.tcpConnections = metrics.counter('tendril_tcp_connections_total', 'TCP connections seen in Envoy access logs', ['source', 'destination', 'outcome']);
    this.dropped = metrics.counter('tendril_access_log_entries_dropped_total', 'Access log entries or messages dropped, by reason', ['reason']);
    metrics.figure('access_log_observations', 'Access log entries turned into observations', () => this.observed);
    metrics.figure('service_label_overflow', 'Observations whose service name exceeded the label budget', () => this.services.overflowed);
    metrics.figure('service_map_edges_dropped', 'Service map edges not kept because of the edge bound', () => this.map.droppedEdges);
  }

  onApplicationBootstrap(): void {
    // Names are an enrichment: without tendril-lb, sources are "unknown" and clusters still name destinations.
    void this.lb.start().catch((error: Error) => this.logger.warn(`${BUCKETS.lb} mirror: ${error.message}`));
  }

  /** One decoded StreamAccessLogsMessage. */
  observe(message: StreamAccessLogsMessage): void {
    const { observations, dropped } = observeAccessLog(message, this.directory);
    for (const { reason, count } of dropped) this.drop(reason, count);
    for (const observation of observations) {
      const source = this.services.label(observation.source);
      const destination = this.services.label(observation.destination);
      if (observation.protocol === 'http') {
        this.requests.inc({ source, destination, method: observation.method, status: observation.statusClass });
        this.durations.observe({ source, destination }, observation.durationSeconds);
      } else {
        this.tcpConnections.inc({ source, destination, outcome: observation.error ? 'error' : 'ok' });
      }
      this.map.record({ ...observation, source, destination });
      this.observed++;
    }
  }

  /** namespace/name of the service that has this address as a VIP or a backend. */
  serviceAt(address: string | undefined): string | undefined {
    return this.directory.serviceAt(address);
  }

  /**
   * An L4 flow from the datapath as a service map edge (source service -> the service dialled). A
   * flow sent to the node proxy is left to the proxy's access log, which sees the request itself.
   */
  recordFlow(flow: FlowEvent, at = Date.now()): void {
    if (flow.verdict === 'l7-redirect') return;
    const source = this.services.label(flow.sourceName ?? UNKNOWN);
    const destination = this.services.label(flow.serviceName ?? UNKNOWN);
    this.map.record({ source, destination, protocol: flow.protocol.toLowerCase(), error: flow.verdict === 'no-backend', durationSeconds: 0, at }, flow.count);
  }

  drop(reason: string, count = 1): void {
    this.dropped.inc({ reason }, count);
  }

  serviceMap(): ServiceMapSnapshot {
    return this.map.snapshot();
  }

  onModuleDestroy(): void {
    this.lb.stop();
  }
}
