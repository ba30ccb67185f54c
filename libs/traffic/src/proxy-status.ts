/**
 * Sync status of each proxy and xDS type from its tendril-proxies record, as `istioctl proxy-status`
 * shows it: SYNCED (the last response was ACKed), NACK (rejected, with Envoy's error), STALE (sent,
 * not yet acknowledged), NOT SENT (subscribed, nothing sent yet).
 */
import type { ProxyState } from '@tendril/contract';

export type SyncStatus = 'SYNCED' | 'NACK' | 'STALE' | 'NOT SENT';

export interface ProxyTypeStatus {
  typeUrl: string;
  /** The short name: listener, route, cluster, endpoint, secret, or the type URL's last part. */
  type: string;
  status: SyncStatus;
  versionAcked: string;
  error?: string;
}

export interface ProxyStatus {
  nodeId: string;
  nodeCluster: string;
  replica: string;
  connected: boolean;
  connectedAt: string;
  types: ProxyTypeStatus[];
}

const SHORT: Record<string, string> = {
  'envoy.config.listener.v3.Listener': 'listener',
  'envoy.config.route.v3.RouteConfiguration': 'route',
  'envoy.config.cluster.v3.Cluster': 'cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment': 'endpoint',
  'envoy.extensions.transport_sockets.tls.v3.Secret': 'secret',
};

export function proxyStatus(state: ProxyState): ProxyStatus {
  const types = state.types.map((type): ProxyTypeStatus => {
    const message = type.typeUrl.slice(type.typeUrl.lastIndexOf('/') + 1);
    const base = { typeUrl: type.typeUrl, type: SHORT[message] ?? message.slice(message.lastIndexOf('.') + 1), versionAcked: type.versionAcked };
    if (type.lastNack) return { ...base, status: 'NACK', error: type.lastNack.error };
    if (type.lastNonce === '') return { ...base, status: 'NOT SENT' };
    if (type.versionAcked === '' || type.awaitingAck) return { ...base, status: 'STALE' };
    return { ...base, status: 'SYNCED' };
  });
  types.sort((a, b) => a.type.localeCompare(b.type));
  return { nodeId: state.nodeId, nodeCluster: state.nodeCluster, replica: state.replica, connected: state.connected, connectedAt: state.connectedAt, types };
}
