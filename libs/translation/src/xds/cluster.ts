/** Envoy Cluster resources (proto3 JSON) from ClusterIR: the whole resource plus composable tweaks. */
import type { ClusterIR } from '@tendril/model';

export type Resource = Record<string, unknown>;

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function desiredCluster(cluster: ClusterIR): Resource {
  return withUpstreamProtocol(withLbPolicy(baseCluster(cluster), cluster), cluster);
}

function baseCluster(cluster: ClusterIR): Resource {
  return {
    name: cluster.name,
    type: 'EDS',
    // Endpoints come over the same ADS stream, named like the cluster.
    edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } },
    connectTimeout: toDuration(cluster.connectTimeoutMs),
  };
}

export function withLbPolicy(resource: Resource, cluster: ClusterIR): Resource {
  return { ...resource, lbPolicy: cluster.lbPolicy };
}

/** gRPC and h2c backends need HTTP/2 on the upstream connection. */
export function withUpstreamProtocol(resource: Resource, cluster: ClusterIR): Resource {
  if (cluster.protocol === 'HTTP1') return resource;
  return {
    ...resource,
    typedExtensionProtocolOptions: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        explicitHttpConfig: { http2ProtocolOptions: {} },
      },
    },
  };
}

/** google.protobuf.Duration in proto3 JSON: seconds with up to nine decimals and an `s`. */
export function toDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  const rest = milliseconds % 1000;
  return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, '0')}s`;
}
