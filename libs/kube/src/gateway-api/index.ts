/**
 * The Gateway API kinds as an API server with the Gateway API CRDs serves them, for either release
 * channel: for each kind the versions served and the structural schema (with CEL rules) of each.
 * The experimental channel is a superset: more fields (retry, sessionPersistence, ExternalAuth,
 * useDefaultGateways...), a few stricter rules, and the v1alpha2 routes.
 */
import type { StructuralSchema } from '../structural/schema.js';
import { GATEWAY_GROUP } from './common.js';
import { gatewayClassSchema, gatewaySchema, listenerSetSchema } from './gateway.js';
import { backendTlsPolicySchema, referenceGrantSchema } from './policies.js';
import { grpcRouteSchema, httpRouteSchema, layer4RouteSchema, tlsRouteSchema } from './routes.js';

export type GatewayApiChannel = 'standard' | 'experimental';
export const GATEWAY_API_CHANNELS: readonly GatewayApiChannel[] = ['standard', 'experimental'];

export interface GatewayApiKind {
  kind: string;
  /** Each version an API server serves for this kind, with its schema. */
  versions: Readonly<Record<string, StructuralSchema>>;
}

function kindsOf(channel: GatewayApiChannel): GatewayApiKind[] {
  const experimental = channel === 'experimental';
  const same = (versions: string[], schema: StructuralSchema) => Object.fromEntries(versions.map((version) => [version, schema]));
  const tls = tlsRouteSchema(experimental);
  const tcp = layer4RouteSchema(experimental);
  return [
    { kind: 'GatewayClass', versions: same(['v1', 'v1beta1'], gatewayClassSchema) },
    { kind: 'Gateway', versions: same(['v1', 'v1beta1'], gatewaySchema(experimental)) },
    { kind: 'HTTPRoute', versions: same(['v1', 'v1beta1'], httpRouteSchema(experimental)) },
    { kind: 'GRPCRoute', versions: same(['v1'], grpcRouteSchema(experimental)) },
    { kind: 'TLSRoute', versions: experimental ? { v1: tls, v1alpha3: tls, v1alpha2: tlsRouteSchema(true, true) } : { v1: tls } },
    { kind: 'TCPRoute', versions: experimental ? { v1: tcp, v1alpha2: layer4RouteSchema(true, true) } : { v1: tcp } },
    { kind: 'UDPRoute', versions: experimental ? { v1: tcp, v1alpha2: layer4RouteSchema(true, true) } : { v1: tcp } },
    { kind: 'ReferenceGrant', versions: same(['v1', 'v1beta1'], referenceGrantSchema) },
    { kind: 'BackendTLSPolicy', versions: same(experimental ? ['v1', 'v1alpha3'] : ['v1'], backendTlsPolicySchema) },
    { kind: 'ListenerSet', versions: same(['v1'], listenerSetSchema) },
  ];
}

const KINDS: Record<GatewayApiChannel, GatewayApiKind[]> = { standard: kindsOf('standard'), experimental: kindsOf('experimental') };

/** The kind's entry when `apiVersion` is in the Gateway API group (whatever the version). */
export function gatewayApiKind(apiVersion: string, kind: string, channel: GatewayApiChannel): GatewayApiKind | undefined {
  if (!apiVersion.startsWith(`${GATEWAY_GROUP}/`)) return undefined;
  return KINDS[channel].find((entry) => entry.kind === kind);
}

export function gatewayApiKinds(channel: GatewayApiChannel): readonly GatewayApiKind[] {
  return KINDS[channel];
}

export { GATEWAY_GROUP };
