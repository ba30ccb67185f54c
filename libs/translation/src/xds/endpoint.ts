/** Envoy ClusterLoadAssignment resources (proto3 JSON) from the IR's endpoints, grouped by zone. */
import type { ClusterEndpointsIR, EndpointIR } from '@tendril/model';
import { compare } from '../problems.js';
import type { Resource } from './cluster.js';

export function desiredClusterLoadAssignment(group: ClusterEndpointsIR): Resource {
  const zones = new Map<string, EndpointIR[]>();
  for (const endpoint of group.endpoints) zones.set(endpoint.zone ?? '', [...(zones.get(endpoint.zone ?? '') ?? []), endpoint]);
  const localities = [...zones.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([zone, endpoints]) => ({
      // gRPC clients refuse a locality group whose locality is unset, even an empty one will do
      locality: zone ? { zone } : {},
      lbEndpoints: endpoints.map(toLbEndpoint),
      // gRPC clients drop localities without a weight; Envoy ignores it unless locality-weighted.
      loadBalancingWeight: endpoints.reduce((sum, endpoint) => sum + endpoint.weight, 0),
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
