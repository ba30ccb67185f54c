/** Where each mirrored kind lives in the API: group, the versions we accept (first served wins), plural. */
import { KINDS, type KindInfo } from '@tendril/kube';

export interface ApiKind extends KindInfo {
  group: string;
  versions: readonly string[];
  plural: string;
  /** Server-side filter: Secrets of type kubernetes.io/tls only. */
  fieldSelector?: string;
}

const GATEWAY_VERSIONS = ['v1', 'v1beta1', 'v1alpha2'];

const API: Record<string, { versions: readonly string[]; plural: string; fieldSelector?: string }> = {
  Service: { versions: ['v1'], plural: 'services' },
  EndpointSlice: { versions: ['v1'], plural: 'endpointslices' },
  Namespace: { versions: ['v1'], plural: 'namespaces' },
  Node: { versions: ['v1'], plural: 'nodes' },
  Pod: { versions: ['v1'], plural: 'pods' },
  NetworkPolicy: { versions: ['v1'], plural: 'networkpolicies' },
  Secret: { versions: ['v1'], plural: 'secrets', fieldSelector: 'type=kubernetes.io/tls' },
  // no selector can pick ConfigMaps by a data key: the watch sees them all, only those with ca.crt are mirrored (KindInfo.mirrors)
  ConfigMap: { versions: ['v1'], plural: 'configmaps' },
  Ingress: { versions: ['v1'], plural: 'ingresses' },
  IngressClass: { versions: ['v1'], plural: 'ingressclasses' },
  GatewayClass: { versions: GATEWAY_VERSIONS, plural: 'gatewayclasses' },
  Gateway: { versions: GATEWAY_VERSIONS, plural: 'gateways' },
  HTTPRoute: { versions: GATEWAY_VERSIONS, plural: 'httproutes' },
  GRPCRoute: { versions: GATEWAY_VERSIONS, plural: 'grpcroutes' },
  TLSRoute: { versions: GATEWAY_VERSIONS, plural: 'tlsroutes' },
  TCPRoute: { versions: GATEWAY_VERSIONS, plural: 'tcproutes' },
  UDPRoute: { versions: GATEWAY_VERSIONS, plural: 'udproutes' },
  BackendTLSPolicy: { versions: ['v1', 'v1alpha3'], plural: 'backendtlspolicies' },
  ListenerSet: { versions: ['v1', 'v1alpha1'], plural: 'listenersets' },
  ReferenceGrant: { versions: GATEWAY_VERSIONS, plural: 'referencegrants' },
  CiliumEnvoyConfig: { versions: ['v2'], plural: 'ciliumenvoyconfigs' },
  CiliumClusterwideEnvoyConfig: { versions: ['v2'], plural: 'ciliumclusterwideenvoyconfigs' },
  CiliumNetworkPolicy: { versions: ['v2'], plural: 'ciliumnetworkpolicies' },
  CiliumClusterwideNetworkPolicy: { versions: ['v2'], plural: 'ciliumclusterwidenetworkpolicies' },
};

// KINDS also knows names the API never serves (the seed's CiliumClusterEnvoyConfig): those are not watched
export const API_KINDS: readonly ApiKind[] = KINDS.flatMap((info) => {
  const api = API[info.kind];
  return api ? [{ ...info, group: info.groups[0]!, ...api }] : [];
});

/** The kinds whose status the watcher writes back. */
export const STATUS_KINDS = new Set(['gatewayclass', 'gateway', 'httproute', 'grpcroute', 'tlsroute', 'tcproute', 'udproute', 'backendtlspolicy', 'listenerset', 'ingress']);
