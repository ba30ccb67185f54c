/**
 * `tendril-leases/<service>`: who is the active replica of a service that runs one writer with hot
 * standbys. Every write is a compare-and-set on the key's revision; the holder rewrites it every few
 * seconds, and a standby that sees the revision unchanged for `durationMs` of its own clock takes it over.
 */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

export const leaseSchema = z.object({
  v: z.literal(1),
  /** The holding instance (the platform's per-process instance id). */
  holder: z.string().min(1),
  /** How long the lease lasts without a renewal, as the holder promises to honour it. */
  durationMs: z.number().int().positive(),
  /** When the holder acquired it and last renewed it (its wall clock; for people, not for expiry). */
  acquiredAt: z.string(),
  renewedAt: z.string(),
});
export type Lease = z.infer<typeof leaseSchema>;
export const leaseCodec = jsonCodec('lease', leaseSchema);
