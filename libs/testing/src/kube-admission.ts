/**
 * What a real kube-apiserver does to an object between the request and storage, as far as the test
 * API server reproduces it: validation of the built-in kinds it knows rules for, and, for custom
 * resources, pruning of unknown fields and defaulting from the CRD's structural schema.
 *
 * Reproduced (each a real behaviour, named where it happens):
 * - EndpointSlice addresses of type IPv4/IPv6 that are loopback, unspecified, link-local or
 *   link-local multicast are refused with 422 Invalid naming the field (Kubernetes'
 *   ValidateNonSpecialIP, applied by the discovery.k8s.io validation);
 * - custom resources: fields the schema does not declare are dropped (pruning), unless the schema
 *   says `x-kubernetes-preserve-unknown-fields` or gives `additionalProperties`; `default`s are
 *   applied where a field is missing and its parent object exists; `apiVersion`, `kind` and
 *   `metadata` at the root are never pruned.
 * Not reproduced (assumptions a test must not rely on):
 * - the rest of built-in validation and defaulting (a Service gets no ClusterIP, type or protocol
 *   defaults here; unknown fields of built-in kinds are kept where a real server drops them);
 * - OpenAPI validation of custom resources (types, enums, patterns, limits) and CEL rules: an object
 *   the real server would refuse is stored here;
 * - the exact wording of a real server's messages beyond the ones written below (taken from
 *   Kubernetes' validation; not checked against a running server here).
 */

/** An OpenAPI v3 schema as a CRD version carries it (`schema.openAPIV3Schema`), the parts that prune and default. */
export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema | boolean;
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [key: string]: unknown;
}

/** One field a real server refuses, as in a Status' `details.causes`. */
export interface InvalidCause {
  field: string;
  value: unknown;
  message: string;
}

/** 422 Invalid: what the server answers (HTTP) or the test hook throws. */
export class KubeInvalidError extends Error {
  override readonly name = 'KubeInvalidError';
  constructor(
    readonly kind: string,
    readonly group: string,
    readonly objectName: string,
    readonly causes: InvalidCause[],
  ) {
    const qualified = group ? `${kind}.${group}` : kind;
    super(`${qualified} "${objectName}" is invalid: ${causes.map((c) => `${c.field}: Invalid value: ${JSON.stringify(c.value)}: ${c.message}`).join(', ')}`);
  }

  /** The Status body a real server sends with 422. */
  status(): object {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: 'Invalid',
      details: {
        name: this.objectName,
        group: this.group,
        kind: this.kind,
        causes: this.causes.map((c) => ({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(c.value)}: ${c.message}`, field: c.field })),
      },
      code: 422,
    };
  }
}

type Json = Record<string, unknown>;

/** Validation rules of built-in kinds, by `group/kind`: each returns the refused fields. */
const VALIDATORS: Record<string, (object: Json) => InvalidCause[]> = {
  'discovery.k8s.io/EndpointSlice': validateEndpointSlice,
};

/** The fields a real server refuses in this object of a built-in kind (none for kinds without rules here). */
export function validateBuiltIn(group: string, kind: string, object: Json): InvalidCause[] {
  return VALIDATORS[`${group}/${kind}`]?.(object) ?? [];
}

function validateEndpointSlice(object: Json): InvalidCause[] {
  const addressType = object['addressType'];
  if (addressType !== 'IPv4' && addressType !== 'IPv6') return []; // FQDN addresses are names
  const causes: InvalidCause[] = [];
  const endpoints = Array.isArray(object['endpoints']) ? (object['endpoints'] as Json[]) : [];
  endpoints.forEach((endpoint, i) => {
    const addresses = Array.isArray(endpoint['addresses']) ? (endpoint['addresses'] as unknown[]) : [];
    addresses.forEach((address, j) => {
      const problem = specialAddress(String(address), addressType);
      if (problem) causes.push({ field: `endpoints[${i}].addresses[${j}]`, value: address, message: problem });
    });
  });
  return causes;
}

/** Kubernetes' ValidateNonSpecialIP: why an endpoint may not have this address, or undefined. */
function specialAddress(address: string, family: 'IPv4' | 'IPv6'): string | undefined {
  if (family === 'IPv4') {
    const octets = address.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return 'must be a valid IPv4 address';
    if (octets.every((o) => o === 0)) return 'may not be unspecified (0.0.0.0)';
    if (octets[0] === 127) return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
    if (octets[0] === 169 && octets[1] === 254) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
    if (octets[0] === 224 && octets[1] === 0 && octets[2] === 0) return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
    return undefined;
  }
  const lower = address.toLowerCase();
  if (!lower.includes(':')) return 'must be a valid IPv6 address';
  if (lower === '::') return 'may not be unspecified (::)';
  if (lower === '::1') return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
  if (/^fe[89ab]/.test(lower)) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if (lower.startsWith('ff02:')) return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
  return undefined;
}

/** Prunes unknown fields and applies defaults to a custom resource, in place, as a real server stores it. */
export function pruneAndDefault(object: Json, schema: StructuralSchema): Json {
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
    const property = schema.properties?.[key];
    if (property) object[key] = normalize(value, property);
    else if (!keepsUnknown(schema)) delete object[key];
  }
  applyDefaults(object, schema);
  return object;
}

function keepsUnknown(schema: StructuralSchema): boolean {
  return schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true;
}

function normalize(value: unknown, schema: StructuralSchema): unknown {
  if (Array.isArray(value)) return schema.items ? value.map((item) => normalize(item, schema.items!)) : value;
  if (!value || typeof value !== 'object') return value;
  const record = value as Json;
  if (schema['x-kubernetes-embedded-resource']) {
    // an embedded object keeps its TypeMeta and metadata as the root does
    return pruneAndDefault(record, schema);
  }
  for (const [key, child] of Object.entries(record)) {
    const property = schema.properties?.[key];
    if (property) record[key] = normalize(child, property);
    else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') record[key] = normalize(child, schema.additionalProperties);
    else if (!keepsUnknown(schema) && (schema.properties || schema.type === 'object')) delete record[key];
  }
  applyDefaults(record, schema);
  return record;
}

function applyDefaults(record: Json, schema: StructuralSchema): void {
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (record[key] === undefined && property.default !== undefined) record[key] = structuredClone(property.default);
  }
}
