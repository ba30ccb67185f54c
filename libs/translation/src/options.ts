/** Settings of a translation that are the deployment's choice, not the objects'; defaults follow Cilium. */

export interface TranslationOptions {
  /** The IngressClass (and `kubernetes.io/ingress.class` value) taken. Cilium: `cilium`. */
  ingressClassName: string;
  /** LB mode of an Ingress without the loadbalancer-mode annotation. Cilium: dedicated. */
  ingressDefaultLbMode: 'dedicated' | 'shared';
  /** Namespace of the shared Ingress LB entry `cilium-ingress`. Cilium: its own namespace, kube-system. */
  ingressSharedNamespace: string;
  /**
   * The range Ingress load balancers get addresses from where no cloud does (the standalone
   * k8s-watcher's LB-IPAM pool, TENDRIL_INGRESS_CIDR). Translation never picks from it: an address is
   * always the owned Service's (owned/addresses.ts); tests stand for the LB provider with it.
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
   * The range Gateway load balancers get addresses from where no cloud does (the standalone
   * k8s-watcher's LB-IPAM pool, TENDRIL_GATEWAY_CIDR); spec.addresses outside it cannot be served.
   * Translation never picks from it (see ingressCidr).
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
