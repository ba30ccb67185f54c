/** Envoy Cluster resources (proto3 JSON) from ClusterIR: the whole resource plus composable tweaks. */
import type { ClusterIR, LbPolicy } from '@tendril/model';

export type Resource = Record<string, unknown>;

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const UPSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
/** The system's CA bundle as Envoy's images (Debian and Ubuntu based) hold it: BackendTLSPolicy wellKnownCACertificates System. */
export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
const POLICY_TYPES: Partial<Record<LbPolicy, [string, string]>> = {
  LEAST_REQUEST: ['envoy.load_balancing_policies.least_request', 'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest'],
  RANDOM: ['envoy.load_balancing_policies.random', 'envoy.extensions.load_balancing_policies.random.v3.Random'],
  MAGLEV: ['envoy.load_balancing_policies.maglev', 'envoy.extensions.load_balancing_policies.maglev.v3.Maglev'],
};
const ROUND_ROBIN: [string, string] = ['envoy.load_balancing_policies.round_robin', 'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin'];

/** Tweaks applied to every cluster, in this order. */
export const CLUSTER_FEATURES: readonly ((resource: Resource, cluster: ClusterIR) => Resource)[] = [
  withLbPolicy,
  withUpstreamProtocol,
  withUpstreamTls,
  withOutlierDetection,
];

export function desiredCluster(cluster: ClusterIR): Resource {
  return CLUSTER_FEATURES.reduce((resource, feature) => feature(resource, cluster), baseCluster(cluster));
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

/**
 * ROUND_ROBIN and RING_HASH as the legacy enum, which every client knows. The others as
 * load_balancing_policy, followed by round_robin: proxyless gRPC (@grpc/grpc-js-xds) NACKs a legacy
 * LEAST_REQUEST, RANDOM or MAGLEV, but takes the first policy of the list it knows, while Envoy takes
 * the first it knows too, i.e. the one asked for.
 */
export function withLbPolicy(resource: Resource, cluster: ClusterIR): Resource {
  const policy = POLICY_TYPES[cluster.lbPolicy];
  if (!policy) return { ...resource, lbPolicy: cluster.lbPolicy };
  const entry = ([name, type]: [string, string]) => ({ typedExtensionConfig: { name, typedConfig: { '@type': `type.googleapis.com/${type}` } } });
  return { ...resource, loadBalancingPolicy: { policies: [entry(policy), entry(ROUND_ROBIN)] } };
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

export function withUpstreamTls(resource: Resource, cluster: ClusterIR): Resource {
  if (!cluster.upstreamTls) return resource;
  const context: Resource = { '@type': `type.googleapis.com/${UPSTREAM_TLS}` };
  if (cluster.upstreamTls.sni) context['sni'] = cluster.upstreamTls.sni;
  const validation = cluster.upstreamTls.validation;
  if (validation) {
    context['commonTlsContext'] = {
      validationContext: {
        trustedCa: validation.trustedCa.kind === 'pem' ? { inlineString: validation.trustedCa.pem } : { filename: SYSTEM_CA_FILE },
        matchTypedSubjectAltNames: validation.subjectAltNames.map((name) => ({ sanType: name.kind, matcher: { exact: name.value } })),
      },
    };
  }
  return { ...resource, transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: context } };
}

export function withOutlierDetection(resource: Resource, cluster: ClusterIR): Resource {
  const detection = cluster.outlierDetection;
  if (!detection) return resource;
  return {
    ...resource,
    outlierDetection: {
      // the proto field name: proto3 JSON accepts it everywhere, while protobufjs has no "consecutive5xx"
      consecutive_5xx: detection.consecutive5xx,
      interval: toDuration(detection.intervalMs),
      baseEjectionTime: toDuration(detection.baseEjectionTimeMs),
      maxEjectionPercent: detection.maxEjectionPercent,
    },
  };
}

/** google.protobuf.Duration in proto3 JSON: seconds with up to nine decimals and an `s`. */
export function toDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  const rest = milliseconds % 1000;
  return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, '0')}s`;
}
