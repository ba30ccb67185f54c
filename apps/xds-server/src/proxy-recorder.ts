/**
 * What the xds-server tells the rest of the mesh about its proxies: ACK/NACK/connect/disconnect
 * events on `tendril.xds.proxy.<node>` and each proxy's state in KV `tendril-proxies`. Writes for one
 * node are chained so the bucket never goes back to an older state.
 */
import { Logger } from '@nestjs/common';
import { BUCKETS, type ProxyState, SUBJECTS, type XdsProxyEvent, nodeToken, proxyStateCodec, xdsProxyEventCodec } from '@tendril/contract';
import type { NatsClient } from '@tendril/platform';
import type { KV } from 'nats';

export class ProxyRecorder {
  private readonly logger = new Logger('proxies');
  private kv: Promise<KV> | undefined;
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly nats: NatsClient,
    private readonly replica: string,
  ) {}

  event(event: Omit<XdsProxyEvent, 'v' | 'replica' | 'at'>): void {
    if (!this.nats.connected) return;
    const message: XdsProxyEvent = { v: 1, replica: this.replica, at: new Date().toISOString(), ...event };
    try {
      this.nats.nc.publish(SUBJECTS.xdsProxy(event.nodeId), xdsProxyEventCodec.encode(message));
    } catch (error) {
      this.logger.warn(`event for ${event.nodeId}: ${(error as Error).message}`);
    }
  }

  state(state: Omit<ProxyState, 'v' | 'replica'>): void {
    const value = proxyStateCodec.encode({ v: 1, replica: this.replica, ...state });
    const key = nodeToken(state.nodeId);
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        this.kv ??= this.nats.bucket(BUCKETS.proxies);
        await (await this.kv).put(key, value);
      })
      .catch((error: Error) => {
        this.kv = undefined;
        this.logger.warn(`proxy state of ${state.nodeId}: ${error.message}`);
      })
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    this.chains.set(key, next);
  }

  /** Waits for queued state writes (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }
}
