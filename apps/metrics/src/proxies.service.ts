/** Proxy sync status from KV tendril-proxies (written by the xds-server replicas), for /api/proxies. */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { BUCKETS, proxyStateCodec, type ProxyState } from '@tendril/contract';
import { KvMirror, Metrics, NatsClient } from '@tendril/platform';
import { proxyStatus, type ProxyStatus } from '@tendril/traffic';

@Injectable()
export class ProxiesService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('proxies');
  private readonly mirror: KvMirror<ProxyState>;

  constructor(@Inject(NatsClient) nats: NatsClient, @Inject(Metrics) metrics: Metrics) {
    this.mirror = new KvMirror(nats, { bucket: BUCKETS.proxies, decode: (_key, bytes) => proxyStateCodec.decode(bytes), logger: this.logger });
    const statuses = () => this.statuses();
    // read on scrape: the mirror is the state
    new Gauge({
      name: 'tendril_proxy_sync_status',
      help: 'Connected proxies per xDS type and sync status (SYNCED, NACK, STALE, NOT SENT)',
      labelNames: ['type', 'status'] as const,
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const proxy of statuses()) if (proxy.connected) for (const type of proxy.types) this.inc({ type: type.type, status: type.status });
      },
    });
    metrics.figure('proxies_known', 'Proxies in tendril-proxies', () => this.mirror.size);
  }

  onApplicationBootstrap(): void {
    // The xds-server creates the bucket; until it has, the list is empty.
    void this.mirror.start().catch((error: Error) => this.logger.warn(`${BUCKETS.proxies} mirror: ${error.message}`));
  }

  statuses(): ProxyStatus[] {
    return this.mirror
      .values()
      .map(([, state]) => proxyStatus(state))
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  onModuleDestroy(): void {
    this.mirror.stop();
  }
}
