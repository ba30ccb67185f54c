/** Reply of `tendril.translator.history` (request `{"last": N}`): one record per published generation, newest first. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

export const generationRecordSchema = z.object({
  generation: z.number().int().nonnegative(),
  publishedAt: z.string(),
  inputDigest: z.string(),
  objects: z.number().int().nonnegative(),
  counts: z.record(z.string(), z.number()),
  /** `<xds type> <name>`, `lb <namespace>/<name>` or `status <object key>` */
  added: z.array(z.string()),
  changed: z.array(z.string()),
  removed: z.array(z.string()),
  errors: z.array(z.object({ object: z.string(), message: z.string() }).loose()),
});
export type GenerationRecordMessage = z.infer<typeof generationRecordSchema>;
export const configHistoryCodec = jsonCodec('config history', z.array(generationRecordSchema));
