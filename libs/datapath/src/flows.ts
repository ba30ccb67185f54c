/**
 * Flow events: the ring buffer yields one record per connect(); NATS gets one message per
 * (source, service, backend, protocol, verdict) and interval, with a count, so a busy node does not
 * publish a message per connection.
 */
import { parseLbKey, type FlowEvent } from '@tendril/contract';
import { frontendId } from './service-ids.js';
import type { Lb4FlowEvent } from './maps.js';

export class FlowAggregator {
  private readonly pending = new Map<string, { event: Lb4FlowEvent; count: number }>();

  add(event: Lb4FlowEvent): void {
    const id = `${event.source ?? ''}>${event.service.address}:${event.service.port}/${event.protocol}>${event.backend.address}:${event.backend.port}/${event.verdict}`;
    const held = this.pending.get(id);
    if (held) held.count++;
    else this.pending.set(id, { event, count: 1 });
  }

  get size(): number {
    return this.pending.size;
  }

  /** The messages for everything added since the last flush; `ownerOf` names a frontend's KV key. */
  flush(node: string, at: Date, ownerOf: (frontend: string) => string | undefined): FlowEvent[] {
    const out: FlowEvent[] = [];
    for (const { event, count } of this.pending.values()) {
      const owner = ownerOf(frontendId({ address: event.service.address, port: event.service.port, protocol: event.protocol }));
      let serviceName: string | undefined;
      try {
        if (owner) {
          const ref = parseLbKey(owner);
          serviceName = `${ref.namespace}/${ref.name}`;
        }
      } catch {
        serviceName = undefined;
      }
      out.push({
        v: 1,
        node,
        at: at.toISOString(),
        protocol: event.protocol,
        ...(event.source ? { source: { address: event.source } } : {}),
        service: event.service,
        backend: event.backend,
        ...(serviceName ? { serviceName } : {}),
        verdict: event.verdict,
        count,
      });
    }
    this.pending.clear();
    return out;
  }
}
