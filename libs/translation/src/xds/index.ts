/**
 * IR -> xDS resources, one emitter per resource type, in dependency order: what a resource refers to
 * comes before it (clusters, endpoints, secrets, then listeners and routes). Listeners, routes and
 * secrets are not produced yet; their emitters slot in here.
 */
import type { XdsType } from '@tendril/contract';
import type { MeshIR } from '@tendril/model';
import { desiredCluster, type Resource } from './cluster.js';
import { desiredClusterLoadAssignment } from './endpoint.js';

export interface XdsEmitter {
  readonly type: XdsType;
  emit(ir: MeshIR): { name: string; resource: Resource }[];
}

export const XDS_EMITTERS: readonly XdsEmitter[] = [
  { type: 'cluster', emit: (ir) => ir.clusters.map((cluster) => ({ name: cluster.name, resource: desiredCluster(cluster) })) },
  { type: 'endpoint', emit: (ir) => ir.endpoints.map((group) => ({ name: group.clusterName, resource: desiredClusterLoadAssignment(group) })) },
];

/** Publishing order of xDS types: referenced before referring; removals go in reverse. */
export const XDS_TYPE_ORDER: readonly XdsType[] = ['cluster', 'endpoint', 'secret', 'listener', 'route'];

export type { Resource } from './cluster.js';
export { desiredCluster, withLbPolicy, withUpstreamProtocol, toDuration } from './cluster.js';
export { desiredClusterLoadAssignment } from './endpoint.js';
