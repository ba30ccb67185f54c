/**
 * Sync status of each proxy and xDS type from its tendril-proxies record, as `istioctl proxy-status`
 * shows it: SYNCED (the last response was ACKed), NACK (rejected, with Envoy's error), STALE (sent,
 * not yet acknowledged), NOT SENT (subscribed, nothing sent yet).
 */
import { xdsTypeOfUrl, type ProxyState, type ProxyTypeState } from '@tendril/contract';

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

/**
 * One type's status. NACK only while the NACKed response is the last one sent: a newer push answers
 * for itself (the xds-server clears lastNack on the next ACK).
 */
export function typeSyncStatus(type: ProxyTypeState): SyncStatus {
  if (type.lastNonce === '') return 'NOT SENT';
  if (type.lastNack && type.lastNack.nonce === type.lastNonce) return 'NACK';
  if (type.versionAcked === '' || type.awaitingAck) return 'STALE';
  return 'SYNCED';
}

export function proxyStatus(state: ProxyState): ProxyStatus {
  const types = state.types.map((type): ProxyTypeStatus => {
    const message = type.typeUrl.slice(type.typeUrl.lastIndexOf('/') + 1);
    const base = { typeUrl: type.typeUrl, type: xdsTypeOfUrl(type.typeUrl) ?? message.slice(message.lastIndexOf('.') + 1), versionAcked: type.versionAcked };
    const status = typeSyncStatus(type);
    return status === 'NACK' ? { ...base, status, error: type.lastNack!.error } : { ...base, status };
  });
  types.sort((a, b) => a.type.localeCompare(b.type));
  return { nodeId: state.nodeId, nodeCluster: state.nodeCluster, replica: state.replica, connected: state.connected, connectedAt: state.connectedAt, types };
}
