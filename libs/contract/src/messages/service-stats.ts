/** `tendril.stats.<service>`: the figures each service instance reports every few seconds. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';
import { SERVICES } from '../names.js';

export const serviceStatsSchema = z.object({
  v: z.literal(1),
  service: z.enum(SERVICES),
  /** Unique per process (host/pid/start), so replicas are told apart. */
  instance: z.string().min(1),
  at: z.string(),
  ready: z.boolean(),
  /** Figure name (snake_case, no prefix) -> value, e.g. objects_seen, resources_written. */
  figures: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.number()),
});
export type ServiceStats = z.infer<typeof serviceStatsSchema>;
export const serviceStatsCodec = jsonCodec('service stats', serviceStatsSchema);
