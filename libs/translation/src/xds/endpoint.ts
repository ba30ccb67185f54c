/** Envoy ClusterLoadAssignment resources (proto3 JSON) from the IR's endpoints, grouped by zone. */
import type { ClusterEndpointsIR, EndpointIR } from '@tendril/model';
import { compare } from '../problems.js';
import type { Resource } from './cluster.js';

export function desiredClusterLoadAssignment(group: ClusterEndpointsIR): Resource {
  // One group per priority and zone, preferred priority first.
  const groups = new Map<string, { priority: number; zone: string; endpoints: EndpointIR[] }>();
  for (const endpoint of group.endpoints) {
    const priority = endpoint.priority ?? 0;
    const zone = endpoint.zone ?? '';
    const id = `${String(priority).padStart(3, '0')}|${zone}`;
    const entry = groups.get(id) ?? { priority, zone, endpoints: [] };
    entry.endpoints.push(endpoint);
    groups.set(id, entry);
  }
  const localities = [...groups.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([, { priority, zone, endpoints }]) => ({
      // gRPC clients refuse a locality group whose locality is unset, even an empty one will do
      locality: zone ? { zone } : {},
      lbEndpoints: endpoints.map(toLbEndpoint),
      // gRPC clients drop localities without a weight; Envoy ignores it unless locality-weighted.
      loadBalancingWeight: endpoints.reduce((sum, endpoint) => sum + endpoint.weight, 0),
      ...(priority > 0 ? { priority } : {}),
    }));
  return { clusterName: group.clusterName, endpoints: localities };
}

function toLbEndpoint(endpoint: EndpointIR): Resource {
  return {
    endpoint: { address: { socketAddress: { address: endpoint.address, portValue: endpoint.port } } },
    healthStatus: endpoint.health === 'terminating' ? 'DRAINING' : 'HEALTHY',
    loadBalancingWeight: endpoint.weight,
  };
}
