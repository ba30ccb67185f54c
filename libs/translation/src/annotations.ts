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
} as const;

export const LB_POLICY_VALUES: Record<string, LbPolicy> = {
  'round-robin': 'ROUND_ROBIN',
  round_robin: 'ROUND_ROBIN',
  'least-request': 'LEAST_REQUEST',
  least_request: 'LEAST_REQUEST',
  'weighted-least-request': 'LEAST_REQUEST',
  random: 'RANDOM',
  maglev: 'MAGLEV',
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
