/**
 * Where a load balancer's address comes from: the Service Tendril owns for it (owned-objects.ts), as
 * Cilium's operator takes it. A Service of the same name that Tendril does not own lends nothing
 * (anyone may create a Service called `cilium-ingress-x`).
 */
import type { ServiceView } from '../kube/service.js';

/**
 * The address of the load balancer whose own Service is `service`: the first of its
 * status.loadBalancer.ingress IPs (the cloud's, MetalLB's or LB-IPAM's), or for a NodePort Service its
 * cluster IP (reached inside the cluster; outside, the node ports are the way in). Undefined until then.
 */
export function ownedAddress(service: ServiceView | undefined): string | undefined {
  if (!service?.managedByTendril) return undefined;
  if (service.type === 'LoadBalancer') return service.loadBalancerIPs[0];
  if (service.type === 'NodePort') return service.clusterIPs[0];
  return undefined;
}
