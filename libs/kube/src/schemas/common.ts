/** Pieces shared by the object schemas. Unknown fields are refused, as `kubectl apply --validate=strict` does. */
import { z } from 'zod';

export const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, -)').max(63);
export const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a DNS subdomain (lower-case letters, digits, -, .)');

export const metadataSchema = z
  .object({
    name: dnsSubdomain,
    namespace: dnsLabel.optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const port = z.number().int().min(1).max(65535);
export const protocol = z.enum(['TCP', 'UDP', 'SCTP']);
/** An int-or-string field such as targetPort. */
export const intOrString = z.union([z.number().int(), z.string().min(1)]);

/** The fields every object has; `status` is the controllers' business and passes through. */
export function objectSchema<S extends z.ZodRawShape>(shape: S) {
  return z
    .object({ apiVersion: z.string(), kind: z.string(), metadata: metadataSchema, status: z.unknown().optional(), ...shape })
    .strict();
}
