/** Ingress and IngressClass (networking.k8s.io/v1), strictly. */
import { z } from 'zod';
import { objectSchema } from './common.js';

const backendSchema = z
  .object({
    service: z
      .object({
        name: z.string().min(1),
        port: z.object({ name: z.string().min(1).optional(), number: z.number().int().min(1).max(65535).optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    resource: z.object({ apiGroup: z.string().optional(), kind: z.string().min(1), name: z.string().min(1) }).strict().optional(),
  })
  .strict()
  .refine((backend) => (backend.service === undefined) !== (backend.resource === undefined), 'exactly one of service or resource is required');

const pathSchema = z
  .object({
    path: z.string().optional(),
    pathType: z.enum(['Exact', 'Prefix', 'ImplementationSpecific']),
    backend: backendSchema,
  })
  .strict()
  .superRefine((path, context) => {
    if (path.pathType !== 'ImplementationSpecific' && path.path === undefined) {
      context.addIssue({ code: 'custom', path: ['path'], message: `required when pathType is ${path.pathType}` });
    } else if (path.path !== undefined && path.pathType !== 'ImplementationSpecific' && !path.path.startsWith('/')) {
      context.addIssue({ code: 'custom', path: ['path'], message: 'must be an absolute path' });
    }
  });

export const ingressSchema = objectSchema({
  spec: z
    .object({
      ingressClassName: z.string().optional(),
      defaultBackend: backendSchema.optional(),
      tls: z.array(z.object({ hosts: z.array(z.string()).optional(), secretName: z.string().optional() }).strict()).optional(),
      rules: z
        .array(
          z
            .object({
              host: z.string().optional(),
              http: z.object({ paths: z.array(pathSchema).min(1) }).strict().optional(),
            })
            .strict(),
        )
        .optional(),
    })
    .strict()
    .optional(),
});

export const ingressClassSchema = objectSchema({
  spec: z
    .object({
      controller: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
    })
    .strict()
    .optional(),
});
