/**
 * What the Ingress and Gateway features decide about the Services they own (owned-objects.ts), from
 * the objects as Cilium's operator reads them:
 * - Ingress: type from `ingress.cilium.io/service-type` (LoadBalancer, or NodePort), node ports from
 *   `insecure-node-port` / `secure-node-port`, `loadbalancer-class`; annotations whose key starts with
 *   one of Cilium's default `ingress-lb-annotation-prefixes` (service.beta.kubernetes.io,
 *   service.kubernetes.io, cloud.google.com) are copied to the Service; label `cilium.io/ingress`.
 *   The shared load balancer `cilium-ingress` is a LoadBalancer Service without an owner.
 * - Gateway: a LoadBalancer Service labelled `io.cilium.gateway/owning-gateway` and
 *   `gateway.networking.k8s.io/gateway-name`, with `spec.infrastructure.labels` and `.annotations`,
 *   one port per distinct listener port (`port-<n>`); spec.addresses become the LB-IPAM request
 *   `lbipam.cilium.io/ips`.
 */
import { LB_IPAM_IPS_ANNOTATION } from '@tendril/contract';
import type { OwnedLoadBalancer, OwnedPort, OwnerReference } from './owned-objects.js';

export const INGRESS_LB_ANNOTATION_PREFIXES = ['service.beta.kubernetes.io', 'service.kubernetes.io', 'cloud.google.com'];

interface Meta {
  uid?: string;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

function metaOf(object: object): Meta {
  return ((object as { metadata?: Meta }).metadata ?? {}) as Meta;
}

function ownerOf(object: object, apiVersion: string, kind: string, name: string): OwnerReference | undefined {
  const uid = metaOf(object).uid;
  // An owner without a uid cannot be referenced: the API server would refuse the reference.
  return typeof uid === 'string' && uid !== '' ? { apiVersion, kind, name, uid } : undefined;
}

function strings(record: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record ?? {})) if (typeof value === 'string') out[key] = value;
  return out;
}

/** What the Service of an Ingress load balancer is made from (the ingress feature's LoadBalancer). */
export interface IngressBalancer {
  namespace: string;
  name: string;
  ingresses: readonly { object: object; view: { source: { name: string } }; settings: { mode: 'dedicated' | 'shared'; serviceType: 'LoadBalancer' | 'NodePort'; insecureNodePort?: number; secureNodePort?: number } }[];
}

/** The Service of an Ingress load balancer served on node-proxy port `proxyPort`. */
export function ingressOwnedService(balancer: IngressBalancer, proxyPort: number, loadBalancerClass: string | undefined): OwnedLoadBalancer {
  const first = balancer.ingresses[0]!;
  const settings = first.settings;
  const ports: OwnedPort[] = [
    { name: 'http', port: 80, proxyPort, ...(settings.insecureNodePort !== undefined ? { nodePort: settings.insecureNodePort } : {}) },
    { name: 'https', port: 443, proxyPort, ...(settings.secureNodePort !== undefined ? { nodePort: settings.secureNodePort } : {}) },
  ];
  const labels = { 'cilium.io/ingress': 'true' };
  if (settings.mode === 'shared') return { namespace: balancer.namespace, name: balancer.name, type: 'LoadBalancer', labels, annotations: {}, ports };
  const annotations = Object.fromEntries(Object.entries(strings(metaOf(first.object).annotations)).filter(([key]) => INGRESS_LB_ANNOTATION_PREFIXES.some((prefix) => key.startsWith(prefix))));
  const owner = ownerOf(first.object, 'networking.k8s.io/v1', 'Ingress', first.view.source.name);
  return {
    namespace: balancer.namespace,
    name: balancer.name,
    ...(owner ? { owner } : {}),
    type: settings.serviceType,
    ...(loadBalancerClass !== undefined ? { loadBalancerClass } : {}),
    labels,
    annotations,
    ports,
  };
}

/**
 * The Service of a Gateway, with the node-proxy port of each of its served ports, and its TCP and UDP
 * listeners' ports (`tcp-<n>`, `udp-<n>`, the same port on the nodes: the eBPF datapath balances
 * them, no node proxy listens for them).
 */
export function gatewayOwnedService(
  gateway: { object: object; apiVersion: string; namespace: string; name: string; serviceName: string; requested: string[] },
  proxyPorts: Map<number, number | undefined>,
  l4Ports: readonly { port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[] = [],
): OwnedLoadBalancer | undefined {
  const ports: OwnedPort[] = [];
  for (const [port, proxyPort] of [...proxyPorts].sort(([a], [b]) => a - b)) if (proxyPort !== undefined) ports.push({ name: `port-${port}`, port, proxyPort });
  for (const { port, protocol } of l4Ports) ports.push({ name: `${protocol.toLowerCase()}-${port}`, port, proxyPort: port, protocol });
  if (ports.length === 0) return undefined;
  const infrastructure = ((gateway.object as { spec?: { infrastructure?: { labels?: Record<string, unknown>; annotations?: Record<string, unknown> } } }).spec?.infrastructure ?? {});
  const owner = ownerOf(gateway.object, gateway.apiVersion, 'Gateway', gateway.name);
  return {
    namespace: gateway.namespace,
    name: gateway.serviceName,
    ...(owner ? { owner } : {}),
    type: 'LoadBalancer',
    labels: { ...strings(infrastructure.labels), 'io.cilium.gateway/owning-gateway': gateway.name, 'gateway.networking.k8s.io/gateway-name': gateway.name },
    // spec.addresses asked of LB-IPAM the way Cilium asks it
    annotations: { ...strings(infrastructure.annotations), ...(gateway.requested.length ? { [LB_IPAM_IPS_ANNOTATION]: gateway.requested.join(',') } : {}) },
    ports,
  };
}
