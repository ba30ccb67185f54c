/** KV `tendril-objects` value: a Kubernetes object as JSON, managedFields dropped. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

export const objectMetaSchema = z
  .object({
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.number().int().optional(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const kubeObjectSchema = z
  .object({
    apiVersion: z.string().min(1),
    kind: z.string().min(1),
    metadata: objectMetaSchema,
  })
  .loose();

export type KubeObject = z.infer<typeof kubeObjectSchema>;
export const kubeObjectCodec = jsonCodec('kube object', kubeObjectSchema);

/** Drops what the watcher never mirrors (managedFields) without touching anything else. */
export function withoutManagedFields<T extends { metadata?: unknown }>(object: T): T {
  const metadata = object.metadata as Record<string, unknown> | undefined;
  if (!metadata || !('managedFields' in metadata)) return object;
  const { managedFields: _dropped, ...rest } = metadata;
  return { ...object, metadata: rest };
}
