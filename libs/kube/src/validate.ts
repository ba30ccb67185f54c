/**
 * Validation of one object as the API server would do it: known kinds get a strict schema, the
 * others (Gateway API, Cilium CRDs: validated by their own issues' translators) only the envelope.
 */
import { z } from 'zod';
import { configMapSchema, endpointSliceSchema, namespaceSchema, podSchema, secretSchema, serviceSchema } from './schemas/core.js';
import { ingressClassSchema, ingressSchema, networkPolicySchema } from './schemas/networking.js';
import { metadataSchema } from './schemas/common.js';
import { gatewayClassSchema, gatewaySchema, grpcRouteSchema, httpRouteSchema, referenceGrantSchema, tlsRouteSchema } from './schemas/gateway.js';

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
  GatewayClass: gatewayClassSchema,
  Gateway: gatewaySchema,
  HTTPRoute: httpRouteSchema,
  GRPCRoute: grpcRouteSchema,
  TLSRoute: tlsRouteSchema,
  ReferenceGrant: referenceGrantSchema,
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

/** Every problem of the object, each naming its field; empty when valid. */
export function validateObject(object: Record<string, unknown>): string[] {
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
