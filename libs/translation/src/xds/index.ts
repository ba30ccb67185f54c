/**
 * IR -> xDS resources, one emitter per resource type, in dependency order: what a resource refers to
 * comes before it (clusters, endpoints, secrets, then listeners and routes).
 */
import type { XdsType } from '@tendril/contract';
import type { EnvoyConfigResourceType, MeshIR, ProxySelectorIR } from '@tendril/model';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from '../options.js';
import { desiredCluster, type Resource } from './cluster.js';
import { desiredClusterLoadAssignment } from './endpoint.js';
import { desiredListener } from './listener.js';
import { desiredRouteConfiguration } from './route.js';
import { desiredSecret } from './secret.js';

/** Builds the resource of one IR item, or returns the one built for that same item before. */
export type EmitOnce = <T>(node: object, build: () => T) => T;
const always: EmitOnce = (_node, build) => build();

export interface XdsEmitter {
  readonly type: XdsType;
  emit(ir: MeshIR, options?: TranslationOptions, once?: EmitOnce): EmittedResource[];
}

export interface EmittedResource {
  name: string;
  resource: Resource;
  /** Only these proxies get it; absent: every proxy. */
  nodeSelector?: ProxySelectorIR;
  /** Set for hand-written resources: the `tendril-objects` key of the object that holds them. */
  objectKey?: string;
}

/**
 * Hand-written Envoy resources (CiliumEnvoyConfig) as emitted: already proto3 JSON, so only their
 * proxy selection and the object they came from travel with them.
 */
function envoyConfigEmitter(type: EnvoyConfigResourceType): XdsEmitter {
  return {
    type,
    emit: (ir: MeshIR) =>
      ir.envoyConfigs
        .filter((item) => item.type === type)
        .map((item) => ({ name: item.name, resource: item.resource, objectKey: item.objectKey, ...(item.proxies ? { nodeSelector: item.proxies } : {}) })),
  };
}

export const XDS_EMITTERS: readonly XdsEmitter[] = [
  { type: 'cluster', emit: (ir, _options, once = always) => ir.clusters.map((cluster) => ({ name: cluster.name, resource: once(cluster, () => desiredCluster(cluster)) })) },
  {
    type: 'endpoint',
    emit: (ir, _options, once = always) => ir.endpoints.map((group) => ({ name: group.clusterName, resource: once(group, () => desiredClusterLoadAssignment(group)) })),
  },
  { type: 'secret', emit: (ir, _options, once = always) => ir.secrets.map((secret) => ({ name: secret.name, resource: once(secret, () => desiredSecret(secret)) })) },
  {
    type: 'listener',
    // The options reset the memo when they change (memo.ts), so a listener's resource may be reused.
    emit: (ir, options = DEFAULT_TRANSLATION_OPTIONS, once = always) =>
      ir.listeners.map((listener) => ({ name: listener.name, resource: once(listener, () => desiredListener(listener, options)) })),
  },
  { type: 'route', emit: (ir, _options, once = always) => ir.routes.map((route) => ({ name: route.name, resource: once(route, () => desiredRouteConfiguration(route)) })) },
  ...(['cluster', 'endpoint', 'secret', 'listener', 'route'] as const).map(envoyConfigEmitter),
];

/** Publishing order of xDS types: referenced before referring; removals go in reverse. */
export const XDS_TYPE_ORDER: readonly XdsType[] = ['cluster', 'endpoint', 'secret', 'listener', 'route'];

export type { Resource } from './cluster.js';
export { CLUSTER_FEATURES, desiredCluster, withLbPolicy, withUpstreamProtocol, withUpstreamTls, withOutlierDetection, toDuration } from './cluster.js';
export { desiredListener, withTlsInspector } from './listener.js';
export { desiredRouteConfiguration, toRoute } from './route.js';
export { ROUTE_FEATURES, type RouteFeature } from './route-features/index.js';
export { desiredSecret } from './secret.js';
export { desiredClusterLoadAssignment } from './endpoint.js';
