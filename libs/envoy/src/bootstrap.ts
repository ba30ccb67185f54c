/**
 * The node proxy's Envoy bootstrap: everything dynamic over ADS from the xds-server, access logs over
 * gRPC to the metrics service, the admin interface on loopback. The Kubernetes DaemonSet's ConfigMap
 * (k8s/base/envoy-bootstrap.yaml) is this with the in-cluster addresses (a test keeps them equal);
 * `tendril envoy bootstrap --node N` prints it for one node, and `npm start` runs Envoy with it.
 */

export interface BootstrapAddress {
  host: string;
  port: number;
}

export interface BootstrapOptions {
  /** The node id the proxy announces (the xds-server serves per node). */
  node: string;
  /** xds-server's ADS port (default 127.0.0.1:18000). */
  xds?: BootstrapAddress;
  /** metrics' access log service (default 127.0.0.1:18001). */
  als?: BootstrapAddress;
  /** Admin interface port on 127.0.0.1 (default 9901). */
  adminPort?: number;
}

/** Cluster name of the node proxies (Envoy's --service-cluster in the DaemonSet). */
export const NODE_PROXY_CLUSTER = 'tendril-node-proxy';

function grpcCluster(name: string, address: BootstrapAddress): Record<string, unknown> {
  return {
    name,
    // a name (the in-cluster Service) is resolved; an IP address needs no resolution
    type: /^[0-9.]+$|:/.test(address.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '5s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: address.host, port_value: address.port } } } }] }],
    },
  };
}

/** The bootstrap as Envoy's proto3 JSON (also valid YAML input to `envoy -c`). */
export function nodeBootstrap(options: BootstrapOptions): Record<string, unknown> {
  if (!options.node) throw new Error('a node name is required');
  return {
    node: { id: options.node, cluster: NODE_PROXY_CLUSTER },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: options.adminPort ?? 9901 } } },
    dynamic_resources: {
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'tendril-xds' } }] },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [grpcCluster('tendril-xds', options.xds ?? { host: '127.0.0.1', port: 18000 }), grpcCluster('tendril-als', options.als ?? { host: '127.0.0.1', port: 18001 })],
    },
  };
}

/** `host:port` -> an address; throws with the text on anything else. */
export function parseBootstrapAddress(text: string): BootstrapAddress {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) throw new Error(`"${text}" is not host:port`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
