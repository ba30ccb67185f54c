/**
 * Recent L4 flows, bounded by count and age: what `hubble observe` shows. Each stored flow gets a
 * sequence number so a follower can resume after the last one it saw.
 */
import type { FlowEvent } from '@tendril/contract';

export interface StoredFlow extends FlowEvent {
  seq: number;
  /** Milliseconds since the epoch when this replica received it. */
  receivedAt: number;
}

export interface FlowQuery {
  /** namespace/name, or an address[:port] of the VIP or the backend. */
  service?: string;
  verdict?: string;
  /** Milliseconds since the epoch: only flows received at or after. */
  since?: number;
  /** Only flows with a larger sequence number. */
  afterSeq?: number;
  /** At most this many, the newest. */
  limit?: number;
}

export function matchesFlow(flow: StoredFlow, query: FlowQuery): boolean {
  if (query.verdict && flow.verdict !== query.verdict) return false;
  if (query.since !== undefined && flow.receivedAt < query.since) return false;
  if (query.afterSeq !== undefined && flow.seq <= query.afterSeq) return false;
  if (query.service) {
    const wanted = query.service;
    const at = (e: { address: string; port: number }) => wanted === e.address || wanted === `${e.address}:${e.port}`;
    if (flow.serviceName !== wanted && !at(flow.service) && !at(flow.backend)) return false;
  }
  return true;
}

export class FlowRing {
  private readonly slots: (StoredFlow | undefined)[];
  private next = 0;
  private seq = 0;
  private readonly listeners = new Set<(flow: StoredFlow) => void>();

  constructor(
    readonly capacity: number,
    private readonly maxAgeMs: number,
  ) {
    if (capacity < 1) throw new Error(`flow ring capacity ${capacity}: must be at least 1`);
    this.slots = new Array(capacity);
  }

  push(flow: FlowEvent, receivedAt = Date.now()): StoredFlow {
    const stored: StoredFlow = { ...flow, seq: ++this.seq, receivedAt };
    this.slots[this.next] = stored;
    this.next = (this.next + 1) % this.capacity;
    for (const listener of this.listeners) listener(stored);
    return stored;
  }

  /** Oldest first, within the age limit. */
  query(query: FlowQuery = {}, now = Date.now()): StoredFlow[] {
    const horizon = now - this.maxAgeMs;
    const out: StoredFlow[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const flow = this.slots[(this.next + i) % this.capacity];
      if (flow && flow.receivedAt >= horizon && matchesFlow(flow, query)) out.push(flow);
    }
    return query.limit !== undefined && out.length > query.limit ? out.slice(out.length - query.limit) : out;
  }

  /** Calls back for each flow pushed from now on; returns the unsubscribe. */
  follow(listener: (flow: StoredFlow) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.slots.filter((flow) => flow !== undefined).length;
  }

  get lastSeq(): number {
    return this.seq;
  }
}
