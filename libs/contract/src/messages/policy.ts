/**
 * Network policy in NATS. `tendril-identities` (translator): numeric identities allocated by
 * compare-and-set, `id.<number>` -> identityClaimCodec and `labels.<sha256 of the identity key>` ->
 * identityAllocationCodec; a number or a label set is claimed by creating its key (which fails when it
 * exists), so two writers never hand out one number twice. `tendril-policy` (translator -> datapath,
 * cli): `identity.<number>`, `address.<prefix>`, `policy.<number>` and `error.<object>` entries, then
 * the marker `meta.generation`.
 */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';
import { escapeKeyPart, unescapeKeyPart } from '../keys.js';
import { ContractError } from '../errors.js';

/** Cilium's cluster identity layout: 16 bits per cluster, cluster id above them; 1-255 reserved. */
export const IDENTITY_CLUSTER_SHIFT = 16;
export const MIN_ALLOCATED_IDENTITY = 256;

/** The range numeric identities of a cluster are allocated from (cluster id 0: 256-65535; id N: N<<16 to (N+1)<<16 - 1). */
export function identityRange(clusterId: number): { min: number; max: number } {
  if (!Number.isInteger(clusterId) || clusterId < 0 || clusterId > 255) throw new ContractError(`cluster id ${clusterId} is not 0-255`);
  const base = clusterId << IDENTITY_CLUSTER_SHIFT;
  return { min: Math.max(base, MIN_ALLOCATED_IDENTITY), max: base + (1 << IDENTITY_CLUSTER_SHIFT) - 1 };
}

export const identityClaimSchema = z.object({ v: z.literal(1), key: z.string().min(1) });
export type IdentityClaim = z.infer<typeof identityClaimSchema>;
export const identityClaimCodec = jsonCodec('identity claim', identityClaimSchema);

export const identityAllocationSchema = z.object({ v: z.literal(1), id: z.number().int().positive(), key: z.string().min(1) });
export type IdentityAllocation = z.infer<typeof identityAllocationSchema>;
export const identityAllocationCodec = jsonCodec('identity allocation', identityAllocationSchema);

export const identityIdKey = (id: number) => `id.${id}`;
export const identityLabelsKey = (labelsHash: string) => `labels.${labelsHash}`;

const portRangeSchema = z.object({ protocol: z.enum(['TCP', 'UDP', 'SCTP', 'ANY']), from: z.number().int().min(0).max(65535), to: z.number().int().min(0).max(65535) });

export const policyRuleSchema = z.object({
  verdict: z.enum(['allow', 'deny']),
  /** numeric identities of the peers; 0 is any peer (as in Cilium's policy maps) */
  peers: z.array(z.number().int().nonnegative()),
  ports: z.array(portRangeSchema),
  /** `namespace/Kind/name` and the field of the rule */
  policy: z.string(),
  field: z.string(),
});
export type PolicyRuleEntry = z.infer<typeof policyRuleSchema>;

const directionSchema = z.object({
  enforced: z.boolean(),
  /** why the direction denies everything, when it does */
  failClosed: z.array(z.string()).optional(),
  rules: z.array(policyRuleSchema),
  policies: z.array(z.string()),
});

export const identityEntrySchema = z.object({ v: z.literal(1), id: z.number().int().positive(), key: z.string(), labels: z.array(z.string()) });
export type IdentityEntryValue = z.infer<typeof identityEntrySchema>;
export const identityEntryCodec = jsonCodec('identity', identityEntrySchema);

/** `uid`: the Pod's, for the datapath of its node to find the Pod's cgroup */
export const addressEntrySchema = z.object({ v: z.literal(1), prefix: z.string(), identity: z.number().int().positive(), owner: z.string().optional(), uid: z.string().optional(), node: z.string().optional() });
export type AddressEntryValue = z.infer<typeof addressEntrySchema>;
export const addressEntryCodec = jsonCodec('address', addressEntrySchema);

export const identityPolicySchema = z.object({ v: z.literal(1), identity: z.number().int().positive(), key: z.string(), ingress: directionSchema, egress: directionSchema });
export type IdentityPolicyValue = z.infer<typeof identityPolicySchema>;
export const identityPolicyCodec = jsonCodec('identity policy', identityPolicySchema);

export const policyErrorsSchema = z.object({
  v: z.literal(1),
  object: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string(), effect: z.enum(['refused', 'fail-closed', 'not-enforced']) })),
});
export type PolicyErrorsValue = z.infer<typeof policyErrorsSchema>;
export const policyErrorsCodec = jsonCodec('policy errors', policyErrorsSchema);

export const policyGenerationSchema = z.object({ v: z.literal(1), generation: z.number().int().nonnegative(), entries: z.number().int().nonnegative() });
export type PolicyGeneration = z.infer<typeof policyGenerationSchema>;
export const policyGenerationCodec = jsonCodec('policy generation', policyGenerationSchema);

export const POLICY_GENERATION_KEY = 'meta.generation';
export type PolicyEntryKind = 'identity' | 'address' | 'policy' | 'error';

/** `identity.<n>`, `policy.<n>`, `address.<prefix, escaped>`, `error.<object, escaped>`. */
export function policyKey(kind: PolicyEntryKind, name: string | number): string {
  return `${kind}.${typeof name === 'number' ? String(name) : escapeKeyPart(name, false)}`;
}

export function parsePolicyKey(key: string): { kind: PolicyEntryKind; name: string } {
  const dot = key.indexOf('.');
  const kind = key.slice(0, dot);
  if (dot < 0 || !['identity', 'address', 'policy', 'error'].includes(kind)) throw new ContractError(`policy key "${key}": unknown kind`);
  return { kind: kind as PolicyEntryKind, name: unescapeKeyPart(key.slice(dot + 1)) };
}
