/**
 * What the xds-server tells the rest of the mesh about its proxies: ACK/NACK/connect/disconnect
 * events on `tendril.xds.proxy.<node>` and each proxy's state in KV `tendril-proxies`. A push to
 * thousands of streams is followed by thousands of ACKs, so both are batched: events are published
 * together a few milliseconds after the first (one socket write for a burst, in order); the states
 * they change are held for a short hold-off (from the last change, up to a ceiling from the first),
 * then written once per node, each read when its write happens (plain publishes closed by one
 * acknowledged put; a failed batch is tried again a second later). One batch is written at a time, so a node's state in the bucket never goes back to an older one.
 */
import { Logger } from '@nestjs/common';
import { BUCKETS, type ProxyState, SUBJECTS, type XdsProxyEvent, nodeToken, proxyStateCodec, xdsProxyEventCodec } from '@tendril/contract';
import type { NatsClient } from '@tendril/platform';
import type { KV } from 'nats';

export interface ProxyStateBatching {
  /** Quiet time after the last state change before a batch is written. */
  holdMs: number;
  /** The longest a state change waits, however many follow it. */
  maxHoldMs: number;
}

export const DEFAULT_PROXY_STATE_BATCHING: ProxyStateBatching = { holdMs: 50, maxHoldMs: 500 };

/** How long a failed batch of states waits before it is written again. */
const RETRY_MS = 1000;

/** How long an event waits for others to be published with. */
const EVENT_BATCH_MS = 5;

type Reader = { nodeId: string; read: () => Omit<ProxyState, 'v' | 'replica'> };

export class ProxyRecorder {
  private readonly logger = new Logger('proxies');
  private kv: Promise<KV> | undefined;
  /** States changed since the batch being written was taken, by node key. */
  private pending = new Map<string, Reader>();
  private pendingSince = 0;
  private lastChange = 0;
  /** After a failed batch: not before this time. */
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private events: XdsProxyEvent[] = [];
  private eventTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** State puts done since start. */
  writes = 0;

  constructor(
    private readonly nats: NatsClient,
    private readonly replica: string,
    private readonly batching: ProxyStateBatching = DEFAULT_PROXY_STATE_BATCHING,
  ) {}

  event(event: Omit<XdsProxyEvent, 'v' | 'replica' | 'at'>): void {
    if (!this.nats.connected) return;
    this.events.push({ v: 1, replica: this.replica, at: new Date().toISOString(), ...event });
    this.eventTimer ??= setTimeout(() => this.publishEvents(), EVENT_BATCH_MS);
  }

  private publishEvents(): void {
    clearTimeout(this.eventTimer);
    this.eventTimer = undefined;
    const events = this.events;
    this.events = [];
    if (!this.nats.connected) return;
    for (const message of events) {
      try {
        this.nats.nc.publish(SUBJECTS.xdsProxy(message.nodeId), xdsProxyEventCodec.encode(message));
      } catch (error) {
        this.logger.warn(`event for ${message.nodeId}: ${(error as Error).message}`);
      }
    }
  }

  /** Writes a proxy's state, read from `read` when the write happens, with the next batch. */
  state(nodeId: string, read: () => Omit<ProxyState, 'v' | 'replica'>): void {
    this.pending.set(nodeToken(nodeId), { nodeId, read });
    this.schedule();
  }

  /**
   * The hold-off: quiet time since the last change, within the ceiling from the first. A change only
   * notes its time (thousands come in a burst); the timer, when it fires early, waits out the rest.
   */
  private schedule(): void {
    this.lastChange = Date.now();
    if (this.timer) return;
    this.pendingSince = this.lastChange;
    this.arm(this.batching.holdMs);
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const due = Math.max(this.retryAt, Math.min(this.lastChange + this.batching.holdMs, this.pendingSince + this.batching.maxHoldMs));
      const wait = due - Date.now();
      if (wait > 0) this.arm(wait);
      else void this.writeBatch();
    }, delay);
  }

  /** Writes one batch; a batch already being written is waited for first (and the next one follows). */
  private writeBatch(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = [...this.pending];
    this.pending = new Map();
    this.writing = this.put(batch).finally(() => {
      this.writing = undefined;
      // what changed meanwhile goes with the next batch
      if (this.pending.size > 0 && !this.timer) {
        this.pendingSince = Date.now();
        this.arm(0);
      }
    });
    return this.writing;
  }

  /**
   * Writes a batch: every state but the last as a plain publish to the key's KV subject (nats.js
   * sends the lot in one socket write, where an acknowledged put costs a round trip and a captured
   * Error each), the last one as an acknowledged put. One connection delivers in order, so the
   * acknowledgement of the last says the stream has taken the ones before it; if it fails, the
   * whole batch is written again with the next one (unless a newer state of a node is pending).
   */
  private async put(batch: [string, Reader][]): Promise<void> {
    try {
      this.kv ??= this.nats.bucket(BUCKETS.proxies);
      const kv = await this.kv;
      const encode = ({ read }: Reader) => proxyStateCodec.encode({ v: 1, replica: this.replica, ...read() });
      for (let i = 0; i < batch.length - 1; i++) {
        const [key, reader] = batch[i]!;
        this.nats.nc.publish(`$KV.${BUCKETS.proxies}.${key}`, encode(reader));
      }
      const [lastKey, last] = batch[batch.length - 1]!;
      await kv.put(lastKey, encode(last));
      this.writes += batch.length;
    } catch (error) {
      this.kv = undefined;
      this.logger.warn(`proxy states of ${batch.length} node(s) (${batch[0]![1].nodeId}${batch.length > 1 ? ', ...' : ''}): ${(error as Error).message}; written again with the next batch`);
      for (const [key, reader] of batch) if (!this.pending.has(key)) this.pending.set(key, reader);
      this.retryAt = Date.now() + RETRY_MS;
    }
  }

  /** Publishes the events and writes every state changed so far, without the hold-offs (shutdown, tests). */
  async flush(): Promise<void> {
    this.publishEvents();
    // a batch in flight, then what is pending, then one more try of a batch that failed
    for (let round = 0; round < 3 && (this.writing || this.pending.size > 0); round++) {
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.writeBatch();
    }
  }
}
