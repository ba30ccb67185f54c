/**
 * The objects Tendril owns in the cluster, as Cilium's operator owns them: per Ingress load balancer
 * (one per dedicated Ingress, `cilium-ingress` for the shared ones) and per Gateway a Service of the
 * load balancer's name, without a selector, and an EndpointSlice of the same name whose endpoints are
 * the nodes (each node's InternalIP) on the node-proxy ports Tendril picked for that load balancer.
 * Traffic from outside a node (a cloud or MetalLB load balancer, a NodePort) then reaches the node
 * proxies, also where kube-proxy still handles Services.
 *
 * Decided here, purely, like every other output; the k8s-watcher applies them (server-side apply in
 * Kubernetes mode, straight into `tendril-objects` in standalone mode). Every object carries the label
 * `app.kubernetes.io/managed-by: tendril`: the watcher deletes only objects with it, and the standalone
 * manifest source leaves such keys alone. A dedicated Ingress's and a Gateway's Service and slice have
 * an ownerReference (controller, blockOwnerDeletion) to it, so the cluster's garbage collector removes
 * them with their owner even when Tendril is not running.
 */
import { objectKey, OWNED_MARK, type KubeObject } from '@tendril/contract';
import { compare } from '../problems.js';

/** The EndpointSlice label naming the slice's controller: not the EndpointSlice controller's own, so it leaves ours alone. */
export const ENDPOINT_SLICE_MANAGER = 'tendril.io/k8s-watcher';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/** One load balancer's Service as decided by the Ingress or Gateway feature. */
export interface OwnedLoadBalancer {
  namespace: string;
  /** The Service's (and slice's) name: the LB entry's name. */
  name: string;
  /** The Ingress or Gateway that owns it; absent for the shared Ingress load balancer (nothing owns it alone). */
  owner?: OwnerReference;
  type: 'LoadBalancer' | 'NodePort';
  loadBalancerClass?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ports: OwnedPort[];
}

export interface OwnedPort {
  name: string;
  port: number;
  nodePort?: number;
  /** The node-proxy port the node's Envoy listens on for this port (a TCP/UDP listener's: its own port). */
  proxyPort: number;
  /** TCP when absent. */
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** A node as the owned EndpointSlices need it. */
export interface OwnedNode {
  name: string;
  addresses: string[];
}

export interface OwnedOutput {
  /** The object's key in `tendril-owned` (and in `tendril-objects`, where the watcher mirrors it back). */
  key: string;
  object: KubeObject;
}

/** The InternalIP addresses of Node objects (a node without one is not an endpoint), sorted by name. */
export function readNodes(nodes: Iterable<{ name: string; object: Record<string, unknown> }>): OwnedNode[] {
  const out: OwnedNode[] = [];
  for (const { name, object } of nodes) {
    const status = object['status'] as { addresses?: unknown } | undefined;
    const listed = Array.isArray(status?.addresses) ? status.addresses : [];
    const addresses = listed
      .filter((entry): entry is { type: string; address: string } => typeof entry === 'object' && entry !== null && (entry as { type?: unknown }).type === 'InternalIP' && typeof (entry as { address?: unknown }).address === 'string')
      .map((entry) => entry.address);
    if (addresses.length) out.push({ name, addresses });
  }
  return out.sort((a, b) => compare(a.name, b.name));
}

/** The Services and EndpointSlices of `balancers`, sorted by key. */
export function ownedObjects(cluster: string, balancers: Iterable<OwnedLoadBalancer>, nodes: readonly OwnedNode[]): OwnedOutput[] {
  const out: OwnedOutput[] = [];
  for (const balancer of balancers) {
    out.push({ key: objectKey({ cluster, kind: 'service', namespace: balancer.namespace, name: balancer.name }), object: desiredService(balancer) });
    for (const [family, suffix] of [['IPv4', ''], ['IPv6', '-ipv6']] as const) {
      const slice = desiredEndpointSlice(balancer, nodes, family, suffix);
      // An IPv4 slice always (empty until nodes are known, so its ports are visible); IPv6 only with IPv6 nodes.
      if (slice) out.push({ key: objectKey({ cluster, kind: 'endpointslice', namespace: balancer.namespace, name: balancer.name + suffix }), object: slice });
    }
  }
  return out.sort((a, b) => compare(a.key, b.key));
}

function metadataOf(balancer: OwnedLoadBalancer, name: string, labels: Record<string, string>, annotations: Record<string, string>): KubeObject['metadata'] {
  const metadata: KubeObject['metadata'] = { name, namespace: balancer.namespace, labels: sorted({ ...labels, [OWNED_MARK.label]: OWNED_MARK.value }) };
  if (Object.keys(annotations).length) metadata.annotations = sorted(annotations);
  if (balancer.owner) metadata['ownerReferences'] = [{ ...balancer.owner, controller: true, blockOwnerDeletion: true }];
  return metadata;
}

/** The load balancer's Service: no selector (its endpoints are the slice below), ports 1:1 with the load balancer's. */
export function desiredService(balancer: OwnedLoadBalancer): KubeObject {
  const spec: Record<string, unknown> = {
    type: balancer.type,
    ports: balancer.ports.map((port) => ({ name: port.name, protocol: port.protocol ?? 'TCP', port: port.port, targetPort: port.proxyPort, ...(port.nodePort !== undefined ? { nodePort: port.nodePort } : {}) })),
  };
  if (balancer.loadBalancerClass !== undefined && balancer.type === 'LoadBalancer') spec['loadBalancerClass'] = balancer.loadBalancerClass;
  return { apiVersion: 'v1', kind: 'Service', metadata: metadataOf(balancer, balancer.name, balancer.labels, balancer.annotations), spec };
}

function desiredEndpointSlice(balancer: OwnedLoadBalancer, nodes: readonly OwnedNode[], family: 'IPv4' | 'IPv6', suffix: string): KubeObject | undefined {
  const endpoints = nodes.flatMap((node) => {
    const addresses = node.addresses.filter((address) => address.includes(':') === (family === 'IPv6'));
    return addresses.length ? [{ addresses, conditions: { ready: true, serving: true, terminating: false }, nodeName: node.name }] : [];
  });
  if (family === 'IPv6' && endpoints.length === 0) return undefined;
  const labels = { 'kubernetes.io/service-name': balancer.name, 'endpointslice.kubernetes.io/managed-by': ENDPOINT_SLICE_MANAGER };
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: metadataOf(balancer, balancer.name + suffix, labels, {}),
    addressType: family,
    endpoints,
    ports: balancer.ports.map((port) => ({ name: port.name, protocol: port.protocol ?? 'TCP', port: port.proxyPort })),
  };
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compare(a, b)));
}
