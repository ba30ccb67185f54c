/**
 * IR -> xDS resources, one emitter per resource type, in dependency order: what a resource refers to
 * comes before it (clusters, endpoints, secrets, then listeners and routes).
 */
import type { XdsType } from '@tendril/contract';
import type { MeshIR, ProxySelectorIR } from '@tendril/model';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from '../options.js';
import { desiredCluster, type Resource } from './cluster.js';
import { desiredClusterLoadAssignment } from './endpoint.js';
import { desiredListener } from './listener.js';
import { desiredRouteConfiguration } from './route.js';
import { desiredSecret } from './secret.js';
import { ENVOY_CONFIG_EMITTERS } from './envoy-config.js';

export interface XdsEmitter {
  readonly type: XdsType;
  emit(ir: MeshIR, options?: TranslationOptions): EmittedResource[];
}

export interface EmittedResource {
  name: string;
  resource: Resource;
  /** Only these proxies get it; absent: every proxy. */
  nodeSelector?: ProxySelectorIR;
  /** Set for hand-written resources: the `tendril-objects` key of the object that holds them. */
  objectKey?: string;
}

export const XDS_EMITTERS: readonly XdsEmitter[] = [
  { type: 'cluster', emit: (ir) => ir.clusters.map((cluster) => ({ name: cluster.name, resource: desiredCluster(cluster) })) },
  { type: 'endpoint', emit: (ir) => ir.endpoints.map((group) => ({ name: group.clusterName, resource: desiredClusterLoadAssignment(group) })) },
  { type: 'secret', emit: (ir) => ir.secrets.map((secret) => ({ name: secret.name, resource: desiredSecret(secret) })) },
  { type: 'listener', emit: (ir, options = DEFAULT_TRANSLATION_OPTIONS) => ir.listeners.map((listener) => ({ name: listener.name, resource: desiredListener(listener, options) })) },
  { type: 'route', emit: (ir) => ir.routes.map((route) => ({ name: route.name, resource: desiredRouteConfiguration(route) })) },
  ...ENVOY_CONFIG_EMITTERS,
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
