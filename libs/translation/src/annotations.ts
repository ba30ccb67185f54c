/**
 * The annotations Tendril honours, spelled as Cilium users already write them, and how their values
 * read. An unknown value is an error on that annotation; the default applies meanwhile.
 */
import type { L4Algorithm, LbPolicy, UpstreamProtocol } from '@tendril/model';

export const ANNOTATIONS = {
  /** L7 protocol of the backends: grpc, http2 (h2c), http1. */
  lbProtocol: 'io.cilium/lb-protocol',
  /** Envoy load-balancing policy (the seed's spelling). */
  lbMode: 'io.cilium/lb-mode',
  /** Envoy load-balancing policy (current Cilium spelling). */
  lbL7Algorithm: 'service.cilium.io/lb-l7-algorithm',
  /** Datapath (L4) algorithm: random or maglev. */
  lbAlgorithm: 'service.cilium.io/lb-algorithm',
  /** Merge endpoints of same-named global Services in every cluster. */
  globalService: 'io.cilium/global-service',
  globalServiceNew: 'service.cilium.io/global',
  /** Cilium's switch for L7 load balancing of a Service through the node proxy: `enabled`. */
  lbL7: 'service.cilium.io/lb-l7',
  /** Share this cluster's endpoints of a global Service with the others (default true). */
  globalShared: 'service.cilium.io/shared',
  /** Which clusters' endpoints a global Service prefers: local, remote, none (default). */
  globalAffinity: 'service.cilium.io/affinity',
} as const;

/**
 * Ingress annotations, each also read as `io.cilium.ingress/<name>` (Cilium's older spelling); the
 * `ingress.cilium.io/` spelling wins when both are set.
 */
export const INGRESS_ANNOTATIONS = {
  /** dedicated (own listener and LB entry) or shared (one for every shared Ingress). */
  loadBalancerMode: 'loadbalancer-mode',
  /** Type of the LB entry: LoadBalancer (default) or NodePort. */
  serviceType: 'service-type',
  /** Node port for plaintext HTTP (80) on the LB entry. */
  insecureNodePort: 'insecure-node-port',
  /** Node port for HTTPS (443) on the LB entry. */
  secureNodePort: 'secure-node-port',
  /** enabled: TLS is not terminated; connections go by SNI to the rule's backend (TCP proxy). */
  tlsPassthrough: 'tls-passthrough',
  /** enabled: plaintext requests for hosts with TLS are redirected to https. */
  forceHttps: 'force-https',
  /** spec.loadBalancerClass of the load balancer's Service (LoadBalancer type only). */
  loadBalancerClass: 'loadbalancer-class',
  /** Whole-request timeout of every route, as a duration (`30s`, `1m`, `0` for none). */
  requestTimeout: 'request-timeout',
} as const;

export const INGRESS_ANNOTATION_PREFIXES = ['ingress.cilium.io/', 'io.cilium.ingress/'] as const;

/** The annotation choosing an Ingress's class; it wins over spec.ingressClassName. */
export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** Go's time.ParseDuration subset Kubernetes users write: `1h2m3.5s`, `500ms`, `0`. Milliseconds, or undefined. */
export function parseDurationMs(text: string): number | undefined {
  if (text === '0') return 0;
  const units: Record<string, number> = { h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * units[match[2]!]!;
    index = part.lastIndex;
  }
  return index === 0 ? undefined : Math.round(total);
}

export const LB_POLICY_VALUES: Record<string, LbPolicy> = {
  'round-robin': 'ROUND_ROBIN',
  round_robin: 'ROUND_ROBIN',
  'least-request': 'LEAST_REQUEST',
  least_request: 'LEAST_REQUEST',
  'weighted-least-request': 'LEAST_REQUEST',
  random: 'RANDOM',
  maglev: 'MAGLEV',
  'ring-hash': 'RING_HASH',
  ring_hash: 'RING_HASH',
};

export const PROTOCOL_VALUES: Record<string, UpstreamProtocol> = {
  grpc: 'GRPC',
  http2: 'HTTP2',
  h2c: 'HTTP2',
  http1: 'HTTP1',
  http: 'HTTP1',
};

/** appProtocol values that mean an HTTP/2 upstream; any other appProtocol is left to HTTP/1.1. */
export const APP_PROTOCOLS: Record<string, UpstreamProtocol> = {
  grpc: 'GRPC',
  h2c: 'HTTP2',
  'kubernetes.io/h2c': 'HTTP2',
};

export const L4_ALGORITHM_VALUES: Record<string, L4Algorithm> = { random: 'random', maglev: 'maglev' };

export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
