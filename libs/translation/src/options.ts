/** Settings of a translation that are the deployment's choice, not the objects'; defaults follow Cilium. */

export interface TranslationOptions {
  /** The IngressClass (and `kubernetes.io/ingress.class` value) taken. Cilium: `cilium`. */
  ingressClassName: string;
  /** LB mode of an Ingress without the loadbalancer-mode annotation. Cilium: dedicated. */
  ingressDefaultLbMode: 'dedicated' | 'shared';
  /** Namespace of the shared Ingress LB entry `cilium-ingress`. Cilium: its own namespace, kube-system. */
  ingressSharedNamespace: string;
  /**
   * Where an Ingress load balancer's address comes from when no Service of its name (e.g. a
   * `cilium-ingress-<name>` LoadBalancer Service with an address) exists: an IPv4 CIDR, one address per
   * LB entry picked by a hash of its name.
   */
  ingressCidr: string;
  /**
   * The node proxy's first port. The shared Ingress listener binds it; dedicated Ingress listeners
   * and L7 Services get ports above it (picked by a hash of their name, so they are stable), up to
   * proxyPort + proxyPortCount - 1. LB entries redirected to the proxy name their listener's port.
   */
  proxyPort: number;
  proxyPortCount: number;
  /**
   * Cluster (static, in the node proxy's bootstrap) of the gRPC access log service every socket
   * listener's HttpConnectionManager and TCP proxy log to; empty: no access logs. Proxyless gRPC
   * (API listeners) has no access log.
   */
  alsCluster: string;
  /** GatewayClass whose absence means Cilium's installed one (ours) is assumed (see gatewayClassAssumed). Cilium: `cilium`. */
  gatewayClassName: string;
  /**
   * Whether a GatewayClass named gatewayClassName that does not exist is taken as installed and ours.
   * A manifest folder has no Helm chart to install it, so standalone mode assumes it (the default);
   * in a cluster the class is installed (k8s/ ships it) and a Gateway is served only when its class
   * exists and names our controller, as Cilium does: k8s/ sets TENDRIL_GATEWAY_CLASS_ASSUMED=false.
   */
  gatewayClassAssumed: boolean;
  /** GatewayClasses with this spec.controllerName are ours. Cilium: `io.cilium/gateway-controller`. */
  gatewayControllerName: string;
  /**
   * Where a Gateway's address comes from when it has no spec.addresses and no `cilium-gateway-<name>`
   * Service with an address: an IPv4 CIDR, one address per Gateway picked by a hash of its name.
   */
  gatewayCidr: string;
}

export const DEFAULT_TRANSLATION_OPTIONS: TranslationOptions = {
  ingressClassName: 'cilium',
  ingressDefaultLbMode: 'dedicated',
  ingressSharedNamespace: 'kube-system',
  ingressCidr: '127.101.0.0/16',
  proxyPort: 10000,
  proxyPortCount: 1000,
  alsCluster: 'tendril-als',
  gatewayClassName: 'cilium',
  gatewayClassAssumed: true,
  gatewayControllerName: 'io.cilium/gateway-controller',
  gatewayCidr: '127.102.0.0/16',
};
