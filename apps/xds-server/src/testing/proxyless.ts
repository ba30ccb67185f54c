/**
 * Test support for real proxyless gRPC clients (@grpc/grpc-js-xds): a raw-bytes Echo service for
 * backends and clients, the API listener such a client looks up, and its xDS bootstrap.
 */
import type * as grpc from '@grpc/grpc-js';
import type { XdsType } from '@tendril/contract';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
/** tendril.test.Echo/Say, requests and replies as raw bytes. */
export const echoService = {
  Say: { path: '/tendril.test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
} satisfies grpc.ServiceDefinition;

/** The API listener xds:///<name> resolves to: RDS over ADS (this route configuration) and the router filter. */
export function apiListener(name: string, routeConfigName: string, statPrefix = name): [XdsType, object] {
  return [
    'listener',
    {
      name,
      apiListener: {
        apiListener: {
          '@type': HCM,
          statPrefix,
          rds: { routeConfigName, configSource: { ads: {}, resourceApiVersion: 'V3' } },
          httpFilters: [{ name: 'router', typedConfig: { '@type': ROUTER } }],
        },
      },
    },
  ];
}

/** Points this process's xds:/// channels at an xDS server (plaintext) as this node, and registers the resolver. */
export async function registerProxyless(serverUri: string, nodeId: string): Promise<void> {
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
    xds_servers: [{ server_uri: serverUri, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'tests', locality: {} },
  });
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
}
