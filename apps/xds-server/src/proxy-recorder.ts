/**
 * What the xds-server tells the rest of the mesh about its proxies: ACK/NACK/connect/disconnect
 * events on `tendril.xds.proxy.<node>` and each proxy's state in KV `tendril-proxies`. Writes for one
 * node are chained so the bucket never goes back to an older state, and coalesced: a burst of changes
 * (thousands of proxies ACKing one push) costs at most two writes per node.
 */
import { Logger } from '@nestjs/common';
import { BUCKETS, type ProxyState, SUBJECTS, type XdsProxyEvent, nodeToken, proxyStateCodec, xdsProxyEventCodec } from '@tendril/contract';
import type { NatsClient } from '@tendril/platform';
import type { KV } from 'nats';

export class ProxyRecorder {
  private readonly logger = new Logger('proxies');
  private kv: Promise<KV> | undefined;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly latest = new Map<string, { nodeId: string; read: () => Omit<ProxyState, 'v' | 'replica'> }>();

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

  /**
   * Writes a proxy's state, read from `read` when the write happens; while a write for the node is in
   * flight only the latest reader waits.
   */
  state(nodeId: string, read: () => Omit<ProxyState, 'v' | 'replica'>): void {
    const key = nodeToken(nodeId);
    const queued = this.latest.has(key);
    this.latest.set(key, { nodeId, read });
    if (queued || this.chains.has(key)) return;
    this.chains.set(key, this.drain(key));
  }

  private async drain(key: string): Promise<void> {
    try {
      for (let next = this.latest.get(key); next; next = this.latest.get(key)) {
        this.latest.delete(key);
        try {
          this.kv ??= this.nats.bucket(BUCKETS.proxies);
          const kv = await this.kv;
          await kv.put(key, proxyStateCodec.encode({ v: 1, replica: this.replica, ...next.read() }));
        } catch (error) {
          this.kv = undefined;
          this.logger.warn(`proxy state of ${next.nodeId}: ${(error as Error).message}`);
        }
      }
    } finally {
      this.chains.delete(key);
    }
  }

  /** Waits for queued state writes (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }
}
