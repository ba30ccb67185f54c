/**
 * Names of generated resources: stable and readable, built here and nowhere else. System tests and
 * proxyless clients address resources by these names.
 */
import { fnv1a } from './allocate/stable-hash.js';

/** EDS cluster (and ClusterLoadAssignment) of one Service port: `<namespace>/<service>:<port>`. */
export function serviceClusterName(namespace: string, service: string, port: number): string {
  return `${namespace}/${service}:${port}`;
}

/** The LB Service entry of an Ingress load balancer: Cilium's names. */
export function ingressLoadBalancerName(mode: 'dedicated' | 'shared', ingressName: string): string {
  return mode === 'shared' ? 'cilium-ingress' : `cilium-ingress-${ingressName}`;
}

/** The node-proxy listener of one Ingress load balancer: `<namespace>/<lb service>/ingress`. */
export function ingressListenerName(namespace: string, loadBalancer: string): string {
  return `${namespace}/${loadBalancer}/ingress`;
}

/** RDS route configuration of an Ingress load balancer, for plaintext or TLS-terminated requests. */
export function ingressRouteName(namespace: string, loadBalancer: string, side: 'insecure' | 'secure'): string {
  return `${namespace}/${loadBalancer}/${side}`;
}

/** One route of an Ingress, named after the field it comes from: `<namespace>/<ingress>/spec.rules[0].http.paths[1]`. */
export function ingressRuleName(namespace: string, ingress: string, field: string): string {
  return `${namespace}/${ingress}/${field}`;
}

/** SDS secret of a kubernetes.io/tls Secret: `<namespace>/<secret>`. */
export function tlsSecretName(namespace: string, secret: string): string {
  return `${namespace}/${secret}`;
}

/** SDS validation context (client CA bundle) of a Gateway port's TLS listeners: `<namespace>/cilium-gateway-<gateway>/<port>/client-ca`. */
export function gatewayClientCaSecretName(namespace: string, gateway: string, port: number): string {
  return `${gatewayListenerName(namespace, gateway, port)}/client-ca`;
}

/** Listener and route configuration of a Service with L7 load balancing: `<namespace>/<service>/l7`. */
export function serviceL7Name(namespace: string, service: string): string {
  return `${namespace}/${service}/l7`;
}

/** What a proxyless gRPC client dials (`xds:///<this>`): its API listener and route configuration. */
export function proxylessTargetName(namespace: string, service: string, port: number): string {
  return `${service}.${namespace}.svc.cluster.local:${port}`;
}

/** The LB Service entry of a Gateway: Cilium's name, in the Gateway's namespace. */
export function gatewayLoadBalancerName(gateway: string): string {
  return `cilium-gateway-${gateway}`;
}

/** LB entry of a Gateway's TCP and UDP listeners (load-balanced in the kernel, beside its node-proxy entry). */
export function gatewayL4LoadBalancerName(gateway: string): string {
  return `${gatewayLoadBalancerName(gateway)}-l4`;
}

/** The node-proxy listener of one Gateway port: `<namespace>/cilium-gateway-<gateway>/<port>`. */
export function gatewayListenerName(namespace: string, gateway: string, port: number): string {
  return `${namespace}/${gatewayLoadBalancerName(gateway)}/${port}`;
}

/** RDS route configuration of one Gateway port's plaintext requests: `<listener>/http`. */
export function gatewayRouteName(namespace: string, gateway: string, port: number, side: 'http'): string {
  return `${gatewayListenerName(namespace, gateway, port)}/${side}`;
}

/** RDS route configuration of one HTTPS listener (TLS terminated): `<listener>/https/<Gateway listener name>`. */
export function gatewayHttpsRouteName(namespace: string, gateway: string, port: number, listener: string): string {
  return `${gatewayListenerName(namespace, gateway, port)}/https/${listener}`;
}

/** One route of a Gateway API route, named after the field it comes from: `<namespace>/HTTPRoute/<name>/spec.rules[0].matches[1]`. */
export function gatewayRuleName(namespace: string, kind: string, route: string, field: string): string {
  return `${namespace}/${kind}/${route}/${field}`;
}

/**
 * The cookie or header of a route rule's session when the rule names none: unique per rule, as the
 * Gateway API asks, and the same in every translation (`session-` and a hash of the rule's place).
 */
export function defaultSessionName(namespace: string, kind: string, route: string, rule: string): string {
  return `session-${fnv1a(`${namespace}/${kind}/${route}/${rule}`).toString(16).padStart(8, '0')}`;
}

/** Listener and route configuration of a Service with GAMMA routes (an HTTPRoute whose parent is the Service). */
export function gammaName(namespace: string, service: string): string {
  return `${namespace}/${service}/gamma`;
}

/** HTTP/2 twin of a Service port's cluster, for GRPCRoute backends whose Service port does not say h2c/grpc. */
export function serviceHttp2ClusterName(namespace: string, service: string, port: number): string {
  return `${serviceClusterName(namespace, service, port)}/h2`;
}

/**
 * A cluster without endpoints: the share of a weighted route whose backend is invalid goes there, so
 * that share fails (Envoy answers 503, no healthy upstream) while the valid shares keep theirs.
 */
export const INVALID_BACKEND_CLUSTER = 'tendril/invalid-backend';
