/** The Kubernetes kinds Tendril mirrors: API group, scope and the lower-case kind of the contract's keys. */
import type { ObjectKind } from '@tendril/contract';

export interface KindInfo {
  kind: string;
  groups: readonly string[];
  key: ObjectKind;
  namespaced: boolean;
  /** Set when this entry is another spelling of that kind (manifests only: no API server serves it, so never watch it). */
  aliasOf?: string;
  /**
   * Objects of this kind Tendril reads at all; absent: every object. The watcher mirrors only these,
   * so a cluster's many unrelated objects of a common kind (ConfigMaps) stay out of tendril-objects.
   */
  mirrors?: (object: Record<string, unknown>) => boolean;
  /**
   * The part of an object of this kind that Tendril keeps; absent: all of it (managedFields aside).
   * A Node changes every few seconds (heartbeats, images, resourceVersion) in ways no mesh output
   * reads: only its name, uid, labels and addresses are mirrored, so those changes never reach NATS.
   */
  form?: (object: Record<string, unknown>) => Record<string, unknown>;
}

/** A Node as Tendril mirrors it: identity, labels and addresses (what the owned EndpointSlices need). */
export function nodeForm(object: Record<string, unknown>): Record<string, unknown> {
  const metadata = (object['metadata'] ?? {}) as Record<string, unknown>;
  const status = (object['status'] ?? {}) as Record<string, unknown>;
  const kept: Record<string, unknown> = { name: metadata['name'] };
  if (metadata['uid'] !== undefined) kept['uid'] = metadata['uid'];
  if (metadata['labels'] !== undefined) kept['labels'] = metadata['labels'];
  const form: Record<string, unknown> = { apiVersion: object['apiVersion'] ?? 'v1', kind: 'Node', metadata: kept };
  if (Array.isArray(status['addresses'])) form['status'] = { addresses: status['addresses'] };
  return form;
}

/**
 * A Pod as Tendril mirrors it: what network policy reads (namespace, labels, addresses, node, service
 * account, host networking, named container ports) and nothing else. A Pod's status changes with every probe and container
 * restart; those changes never reach NATS. `status.phase` is kept so a finished Pod's addresses can be
 * released (its IP goes back to the node's pool and may belong to another Pod soon).
 */
export function podForm(object: Record<string, unknown>): Record<string, unknown> {
  const metadata = (object['metadata'] ?? {}) as Record<string, unknown>;
  const spec = (object['spec'] ?? {}) as Record<string, unknown>;
  const status = (object['status'] ?? {}) as Record<string, unknown>;
  const keptMetadata: Record<string, unknown> = { name: metadata['name'] };
  for (const field of ['namespace', 'uid', 'labels']) if (metadata[field] !== undefined) keptMetadata[field] = metadata[field];
  const keptSpec: Record<string, unknown> = {};
  for (const field of ['nodeName', 'serviceAccountName', 'hostNetwork']) if (spec[field] !== undefined) keptSpec[field] = spec[field];
  // named container ports: a policy may name a port (`port: http`) that each Pod maps to its own number
  const containers = (Array.isArray(spec['containers']) ? spec['containers'] : []).flatMap((container: Record<string, unknown>) => {
    const ports = (Array.isArray(container['ports']) ? container['ports'] : []).filter((port: Record<string, unknown>) => typeof port['name'] === 'string');
    return ports.length === 0 ? [] : [{ name: container['name'], ports: ports.map((port: Record<string, unknown>) => ({ name: port['name'], containerPort: port['containerPort'], protocol: port['protocol'] ?? 'TCP' })) }];
  });
  if (containers.length > 0) keptSpec['containers'] = containers;
  const keptStatus: Record<string, unknown> = {};
  for (const field of ['phase', 'podIP', 'podIPs', 'hostIP']) if (status[field] !== undefined) keptStatus[field] = status[field];
  const form: Record<string, unknown> = { apiVersion: object['apiVersion'] ?? 'v1', kind: 'Pod', metadata: keptMetadata, spec: keptSpec };
  if (Object.keys(keptStatus).length > 0) form['status'] = keptStatus;
  return form;
}

/** The key of a CA bundle in a ConfigMap (Gateway frontend client-certificate validation, BackendTLSPolicy). */
export const CA_CERTIFICATE_KEY = 'ca.crt';

/** ConfigMaps are mirrored only when they hold a CA bundle (`ca.crt` in data or binaryData): the others are no mesh input. */
export function holdsCaCertificate(object: Record<string, unknown>): boolean {
  const has = (field: unknown) => typeof field === 'object' && field !== null && typeof (field as Record<string, unknown>)[CA_CERTIFICATE_KEY] === 'string';
  return has(object['data']) || has(object['binaryData']);
}

const GATEWAY = ['gateway.networking.k8s.io'];
const CILIUM = ['cilium.io'];

export const KINDS: readonly KindInfo[] = [
  { kind: 'Service', groups: [''], key: 'service', namespaced: true },
  { kind: 'EndpointSlice', groups: ['discovery.k8s.io'], key: 'endpointslice', namespaced: true },
  { kind: 'Ingress', groups: ['networking.k8s.io'], key: 'ingress', namespaced: true },
  { kind: 'IngressClass', groups: ['networking.k8s.io'], key: 'ingressclass', namespaced: false },
  { kind: 'Secret', groups: [''], key: 'secret', namespaced: true },
  { kind: 'Namespace', groups: [''], key: 'namespace', namespaced: false },
  { kind: 'Node', groups: [''], key: 'node', namespaced: false, form: nodeForm },
  { kind: 'Pod', groups: [''], key: 'pod', namespaced: true, form: podForm },
  { kind: 'NetworkPolicy', groups: ['networking.k8s.io'], key: 'networkpolicy', namespaced: true },
  { kind: 'ConfigMap', groups: [''], key: 'configmap', namespaced: true, mirrors: holdsCaCertificate },
  { kind: 'GatewayClass', groups: GATEWAY, key: 'gatewayclass', namespaced: false },
  { kind: 'Gateway', groups: GATEWAY, key: 'gateway', namespaced: true },
  { kind: 'HTTPRoute', groups: GATEWAY, key: 'httproute', namespaced: true },
  { kind: 'GRPCRoute', groups: GATEWAY, key: 'grpcroute', namespaced: true },
  { kind: 'TLSRoute', groups: GATEWAY, key: 'tlsroute', namespaced: true },
  { kind: 'TCPRoute', groups: GATEWAY, key: 'tcproute', namespaced: true },
  { kind: 'UDPRoute', groups: GATEWAY, key: 'udproute', namespaced: true },
  { kind: 'BackendTLSPolicy', groups: GATEWAY, key: 'backendtlspolicy', namespaced: true },
  { kind: 'ListenerSet', groups: GATEWAY, key: 'listenerset', namespaced: true },
  { kind: 'ReferenceGrant', groups: GATEWAY, key: 'referencegrant', namespaced: true },
  { kind: 'CiliumEnvoyConfig', groups: CILIUM, key: 'ciliumenvoyconfig', namespaced: true },
  { kind: 'CiliumClusterwideEnvoyConfig', groups: CILIUM, key: 'ciliumclusterwideenvoyconfig', namespaced: false },
  { kind: 'CiliumNetworkPolicy', groups: CILIUM, key: 'ciliumnetworkpolicy', namespaced: true },
  { kind: 'CiliumClusterwideNetworkPolicy', groups: CILIUM, key: 'ciliumclusterwidenetworkpolicy', namespaced: false },
  // the seed's spelling; the translator accepts it under the same key
  { kind: 'CiliumClusterEnvoyConfig', groups: CILIUM, key: 'ciliumclusterwideenvoyconfig', namespaced: false, aliasOf: 'CiliumClusterwideEnvoyConfig' },
];

/** API group of an apiVersion: '' for the core group (`v1`). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** The form of an object that Tendril mirrors (see KindInfo.form). */
export function mirroredForm<T extends Record<string, unknown>>(info: KindInfo, object: T): T {
  return info.form ? (info.form(object) as T) : object;
}

/** Whether Tendril mirrors this object of a known kind (see KindInfo.mirrors). */
export function isMirroredObject(info: KindInfo, object: Record<string, unknown>): boolean {
  return info.mirrors ? info.mirrors(object) : true;
}

export function kindInfo(apiVersion: string, kind: string): KindInfo | undefined {
  const group = apiGroup(apiVersion);
  return KINDS.find((info) => info.kind === kind && info.groups.includes(group));
}
