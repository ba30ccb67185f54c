/** `tendril.flows.<node>`: L4 flow events from the datapath. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

const endpoint = z.object({ address: z.string(), port: z.number().int().min(0).max(65535) });

export const flowEventSchema = z.object({
  v: z.literal(1),
  node: z.string().min(1),
  at: z.string(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']),
  /** The VIP the client dialled. */
  service: endpoint,
  /** The backend the datapath chose (the proxy when redirected to L7). */
  backend: endpoint,
  /** namespace/name of the service, when known. */
  serviceName: z.string().optional(),
  /** The caller's address, when its socket had one at connect() (bound, or UDP after the first send). */
  source: z.object({ address: z.string() }).optional(),
  /** namespace/name of the service whose backend the source is (filled in by metrics from tendril-lb). */
  sourceName: z.string().optional(),
  verdict: z.enum(['translated', 'no-backend', 'l7-redirect']),
  count: z.number().int().positive(),
});
export type FlowEvent = z.infer<typeof flowEventSchema>;
export const flowEventCodec = jsonCodec('flow event', flowEventSchema);
