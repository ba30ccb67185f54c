/** KV `tendril-status` value: the desired `.status` of one object, as the translator computed it. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

export const conditionSchema = z.object({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1),
  message: z.string(),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string().optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

export const objectStatusSchema = z.object({
  v: z.literal(1),
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  namespace: z.string().optional(),
  name: z.string().min(1),
  observedGeneration: z.number().int().optional(),
  /** The status subresource to write, exactly as the API expects it. */
  status: z.record(z.string(), z.unknown()),
});
export type ObjectStatus = z.infer<typeof objectStatusSchema>;
export const objectStatusCodec = jsonCodec('object status', objectStatusSchema);
