/**
 * Envoy Listener resources from ListenerIR: socket listeners (filter chains matched by SNI and
 * transport, TLS terminated with SDS secrets, HTTP over RDS or a TCP proxy) and API listeners for
 * proxyless gRPC (an HttpConnectionManager with RDS and the router, nothing else). Socket listeners
 * log every request (HTTP) and connection (TCP) to the gRPC access log service (options.alsCluster);
 * API listeners do not: gRPC clients have no access log.
 */
import type { FilterChainIR, HttpConnectionIR, ListenerIR, TcpProxyIR } from '@tendril/model';
import type { Resource } from './cluster.js';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from '../options.js';
import { adsConfigSource, typed } from './config-source.js';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';
const CORS = 'envoy.extensions.filters.http.cors.v3.Cors';
const STATEFUL_SESSION = 'envoy.extensions.filters.http.stateful_session.v3.StatefulSession';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const TLS_INSPECTOR = 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
const DOWNSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const HTTP_GRPC_ACCESS_LOG = 'envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig';
const TCP_GRPC_ACCESS_LOG = 'envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig';

export function desiredListener(listener: ListenerIR, options: Pick<TranslationOptions, 'alsCluster'> = DEFAULT_TRANSLATION_OPTIONS): Resource {
  if (listener.kind === 'api') return { name: listener.name, apiListener: { apiListener: toConnectionManager(listener.filterChains[0]!.action as HttpConnectionIR) } };
  const accessLog = (kind: 'http' | 'tcp'): Resource => (options.alsCluster ? { accessLog: [grpcAccessLog(kind, listener.name, options.alsCluster)] } : {});
  const resource: Resource = {
    name: listener.name,
    address: { socketAddress: { address: listener.address, portValue: listener.port } },
    filterChains: listener.filterChains.map((chain) => toFilterChain(chain, accessLog(chain.action.kind))),
  };
  return withTlsInspector(resource, listener);
}

/** SNI and transport matching need the TLS inspector to look at the ClientHello first. */
export function withTlsInspector(resource: Resource, listener: ListenerIR): Resource {
  const inspects = listener.filterChains.some((chain) => chain.match.serverNames.length > 0 || chain.match.transportProtocol !== undefined);
  if (!inspects) return resource;
  return { ...resource, listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: typed(TLS_INSPECTOR) }] };
}

/** Envoy's gRPC access logger: entries stream to `cluster`, named after the listener. */
function grpcAccessLog(kind: 'http' | 'tcp', logName: string, cluster: string): Resource {
  return {
    name: `envoy.access_loggers.${kind}_grpc`,
    typedConfig: typed(kind === 'http' ? HTTP_GRPC_ACCESS_LOG : TCP_GRPC_ACCESS_LOG, {
      commonConfig: { logName, grpcService: { envoyGrpc: { clusterName: cluster } }, transportApiVersion: 'V3' },
    }),
  };
}

function toFilterChain(chain: FilterChainIR, accessLog: Resource): Resource {
  const out: Resource = { name: chain.name };
  const match: Resource = {};
  if (chain.match.serverNames.length) match['serverNames'] = [...chain.match.serverNames];
  if (chain.match.transportProtocol) match['transportProtocol'] = chain.match.transportProtocol;
  if (Object.keys(match).length) out['filterChainMatch'] = match;
  out['filters'] = [chain.action.kind === 'http'
    ? { name: 'envoy.filters.network.http_connection_manager', typedConfig: toConnectionManager(chain.action, accessLog) }
    : { name: 'envoy.filters.network.tcp_proxy', typedConfig: typed(TCP_PROXY, { statPrefix: chain.action.statPrefix, ...toTcpDestination(chain.action), ...accessLog }) }];
  if (chain.tls) {
    const commonTlsContext: Resource = {
      tlsCertificateSdsSecretConfigs: chain.tls.secretNames.map((name) => ({ name, sdsConfig: adsConfigSource() })),
      alpnProtocols: ['h2', 'http/1.1'],
    };
    const validation = chain.tls.clientValidation;
    // client certificates: asked for and checked against the SDS validation context; required unless it accepts untrusted ones
    if (validation) commonTlsContext['validationContextSdsSecretConfig'] = { name: validation.secretName, sdsConfig: adsConfigSource() };
    out['transportSocket'] = {
      name: 'envoy.transport_sockets.tls',
      typedConfig: typed(DOWNSTREAM_TLS, { commonTlsContext, ...(validation ? { requireClientCertificate: validation.required } : {}) }),
    };
  }
  return out;
}

function toTcpDestination(tcp: TcpProxyIR): Resource {
  const live = tcp.backends.filter((backend) => backend.weight > 0);
  if (live.length === 1) return { cluster: live[0]!.clusterName };
  return { weightedClusters: { clusters: live.map((backend) => ({ name: backend.clusterName, weight: backend.weight })) } };
}

function toConnectionManager(http: HttpConnectionIR, accessLog: Resource = {}): Resource {
  return typed(HCM, {
    statPrefix: http.statPrefix,
    rds: { routeConfigName: http.routeName, configSource: adsConfigSource() },
    httpFilters: [
      ...(http.cors ? [{ name: 'envoy.filters.http.cors', typedConfig: typed(CORS) }] : []),
      // no session state here: it does nothing but on routes whose per-route config gives one
      ...(http.sessions ? [{ name: 'envoy.filters.http.stateful_session', typedConfig: typed(STATEFUL_SESSION) }] : []),
      { name: 'envoy.filters.http.router', typedConfig: typed(ROUTER) },
    ],
    ...(http.upgrades?.length ? { upgradeConfigs: http.upgrades.map((upgradeType) => ({ upgradeType })) } : {}),
    ...accessLog,
  });
}
