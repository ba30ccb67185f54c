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

const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(
        z
          .object({ key: z.string().min(1), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() })
          .strict()
          .superRefine((expression, context) => {
            const needsValues = expression.operator === 'In' || expression.operator === 'NotIn';
            const count = expression.values?.length ?? 0;
            if (needsValues && count === 0) context.addIssue({ code: 'custom', path: ['values'], message: `must be non-empty for operator ${expression.operator}` });
            if (!needsValues && count > 0) context.addIssue({ code: 'custom', path: ['values'], message: `must be empty for operator ${expression.operator}` });
          }),
      )
      .optional(),
  })
  .strict();

const networkPolicyPortSchema = z
  .object({
    protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
    port: z.union([z.number().int().min(1).max(65535), z.string().min(1)]).optional(),
    endPort: z.number().int().min(1).max(65535).optional(),
  })
  .strict()
  .superRefine((entry, context) => {
    if (entry.endPort === undefined) return;
    if (typeof entry.port !== 'number') context.addIssue({ code: 'custom', path: ['endPort'], message: 'may only be set with a numeric port' });
    else if (entry.endPort < entry.port) context.addIssue({ code: 'custom', path: ['endPort'], message: `must be at least port (${entry.port})` });
  });

const networkPolicyPeerSchema = z
  .object({
    podSelector: labelSelectorSchema.optional(),
    namespaceSelector: labelSelectorSchema.optional(),
    ipBlock: z.object({ cidr: z.string().min(1), except: z.array(z.string().min(1)).optional() }).strict().optional(),
  })
  .strict()
  .superRefine((peer, context) => {
    if (peer.ipBlock !== undefined && (peer.podSelector !== undefined || peer.namespaceSelector !== undefined)) {
      context.addIssue({ code: 'custom', path: ['ipBlock'], message: 'may not be combined with podSelector or namespaceSelector' });
    }
  });

/** NetworkPolicy (networking.k8s.io/v1), strictly; CIDRs are checked by the policy compiler, which names the field. */
export const networkPolicySchema = objectSchema({
  spec: z
    .object({
      podSelector: labelSelectorSchema,
      policyTypes: z.array(z.enum(['Ingress', 'Egress'])).optional(),
      ingress: z.array(z.object({ from: z.array(networkPolicyPeerSchema).optional(), ports: z.array(networkPolicyPortSchema).optional() }).strict()).optional(),
      egress: z.array(z.object({ to: z.array(networkPolicyPeerSchema).optional(), ports: z.array(networkPolicyPortSchema).optional() }).strict()).optional(),
    })
    .strict(),
});
