/** Reply of every service's `tendril.<service>.info` micro endpoint. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';
import { SERVICES } from '../names.js';

export const serviceInfoSchema = z.object({
  v: z.literal(1),
  service: z.enum(SERVICES),
  version: z.string(),
  instance: z.string(),
  ready: z.boolean(),
  readiness: z.record(z.string(), z.object({ ok: z.boolean(), reason: z.string() })),
  httpPort: z.number().int(),
  figures: z.record(z.string(), z.number()),
  /** Services with one active replica (a lease in tendril-leases): this instance's part. */
  role: z.enum(['active', 'standby']).optional(),
});
export type ServiceInfo = z.infer<typeof serviceInfoSchema>;
export const serviceInfoCodec = jsonCodec('service info', serviceInfoSchema);
