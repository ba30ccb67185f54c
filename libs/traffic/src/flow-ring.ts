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
  /** namespace/name (of the destination or the source), or an address[:port] of the VIP or the backend. */
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
    if (flow.serviceName !== wanted && flow.sourceName !== wanted && !at(flow.service) && !at(flow.backend)) return false;
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

const VERDICTS = new Set(['translated', 'no-backend', 'l7-redirect']);
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A flow query's parameters, as they come in a URL or a request, were not understood. */
export class FlowQueryError extends Error {
  override readonly name = 'FlowQueryError';
}

/**
 * `service`, `verdict`, `since` (an ISO time, or an age such as 30s, 5m, 2h), `limit` -> FlowQuery.
 * Unknown verdicts and unreadable times are errors, not empty answers.
 */
export function parseFlowQuery(params: Record<string, unknown>, now = Date.now()): FlowQuery {
  const text = (name: string) => {
    const value = params[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') throw new FlowQueryError(`${name}: expected one value`);
    return String(value);
  };
  const query: FlowQuery = {};
  const service = text('service');
  if (service) query.service = service;
  const verdict = text('verdict');
  if (verdict) {
    if (!VERDICTS.has(verdict)) throw new FlowQueryError(`verdict=${verdict}: expected one of ${[...VERDICTS].join(', ')}`);
    query.verdict = verdict;
  }
  const since = text('since');
  if (since) {
    const age = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(since);
    const at = age ? now - Number(age[1]) * UNITS[age[2]!]! : Date.parse(since);
    if (!Number.isFinite(at)) throw new FlowQueryError(`since=${since}: expected an ISO time or an age such as 30s, 5m, 2h`);
    query.since = at;
  }
  const limit = text('limit');
  if (limit) {
    const value = Number(limit);
    if (!Number.isInteger(value) || value < 1) throw new FlowQueryError(`limit=${limit}: expected a positive integer`);
    query.limit = value;
  }
  return query;
}
