/**
 * Validation of one object as the API server would do it. Gateway API kinds: as an API server with the
 * Gateway API CRDs (of a release channel) does, by the structural-schema and CEL engine in structural/
 * with our schemas in gateway-api/: pruning, defaults, OpenAPI checks, list types, CEL rules. Core and
 * networking kinds: a strict zod schema (unknown fields refused, as `kubectl apply --validate=strict`).
 * Other kinds (Cilium CRDs): the envelope only.
 */
import { z } from 'zod';
import { gatewayApiKind, GATEWAY_GROUP, type GatewayApiChannel } from './gateway-api/index.js';
import { validateStructural } from './structural/validator.js';
import { configMapSchema, endpointSliceSchema, namespaceSchema, podSchema, secretSchema, serviceSchema } from './schemas/core.js';
import { ingressClassSchema, ingressSchema, networkPolicySchema } from './schemas/networking.js';
import { metadataSchema } from './schemas/common.js';

const loose = z.object({ apiVersion: z.string(), kind: z.string(), metadata: metadataSchema }).loose();

const SCHEMAS: Record<string, z.ZodType> = {
  Service: serviceSchema,
  EndpointSlice: endpointSliceSchema,
  Secret: secretSchema,
  ConfigMap: configMapSchema,
  Namespace: namespaceSchema,
  Pod: podSchema,
  NetworkPolicy: networkPolicySchema,
  Ingress: ingressSchema,
  IngressClass: ingressClassSchema,
};

/** `spec.rules[0].http.paths[0].backend` from zod's path array. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** The channel standalone mode plays when none is configured: the superset, so no experimental field Tendril implements is pruned. */
export const DEFAULT_GATEWAY_API_CHANNEL: GatewayApiChannel = 'experimental';

export interface Admission {
  /** The object as the API server would store it (Gateway API kinds: pruned and defaulted). */
  object: Record<string, unknown>;
  /** Every refusal, each naming its field; empty when accepted. */
  problems: string[];
  /** Fields dropped as unknown (an API server drops them; kubectl warns). */
  pruned: string[];
  /** Set when the object's version is one only older releases of its CRD served: the version it was checked as. */
  checkedAs?: string;
}

/** What an API server would do with this object on create (or, given `old`, on update). */
export function admitObject(object: Record<string, unknown>, channel: GatewayApiChannel = DEFAULT_GATEWAY_API_CHANNEL, old?: Record<string, unknown>): Admission {
  const apiVersion = String(object['apiVersion']);
  if (apiVersion.startsWith(`${GATEWAY_GROUP}/`)) return admitGatewayApi(object, apiVersion, channel, old);
  return { object, problems: validateObject(object), pruned: [] };
}

function admitGatewayApi(object: Record<string, unknown>, apiVersion: string, channel: GatewayApiChannel, old?: Record<string, unknown>): Admission {
  const envelope = envelopeProblems(object);
  const kind = String(object['kind']);
  const version = apiVersion.slice(GATEWAY_GROUP.length + 1);
  const entry = gatewayApiKind(apiVersion, kind, channel);
  // a version earlier releases served (Cilium's examples use HTTPRoute v1alpha2) is checked as the newest
  const legacy = entry && !entry.versions[version] && LEGACY_VERSIONS.includes(version);
  const schema = legacy ? entry.versions['v1'] : entry?.versions[version];
  if (!schema) {
    return { object, problems: [...envelope, `no matches for kind "${kind}" in version "${apiVersion}" (Gateway API ${channel} channel)`], pruned: [] };
  }
  const result = validateStructural(schema, object, old);
  return { object: result.object, problems: [...envelope, ...result.errors], pruned: result.pruned, ...(legacy ? { checkedAs: `${GATEWAY_GROUP}/v1` } : {}) };
}

/** Versions of Gateway API kinds that releases before today's served (v0.x to v1.x). */
const LEGACY_VERSIONS = ['v1alpha2', 'v1alpha3', 'v1beta1'];

/** apiVersion, kind and metadata as every object must have them. */
function envelopeProblems(object: Record<string, unknown>): string[] {
  const result = loose.safeParse(object);
  return result.success ? [] : result.error.issues.map((issue) => `${fieldPath(issue.path) || '(object)'}: ${issue.message}`);
}

/** Every problem of the object, each naming its field; empty when valid. */
export function validateObject(object: Record<string, unknown>, channel: GatewayApiChannel = DEFAULT_GATEWAY_API_CHANNEL): string[] {
  if (String(object['apiVersion']).startsWith(`${GATEWAY_GROUP}/`)) return admitObject(object, channel).problems;
  const schema = SCHEMAS[String(object['kind'])] ?? loose;
  const result = schema.safeParse(object);
  if (result.success) return [];
  const problems: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(`${fieldPath([...issue.path, key])}: unknown field`);
    } else {
      const missing = issue.path.length > 0 && valueAt(object, issue.path) === undefined && issue.code !== 'custom';
      problems.push(`${fieldPath(issue.path) || '(object)'}: ${missing ? 'required' : issue.message}`);
    }
  }
  return problems.sort();
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}
