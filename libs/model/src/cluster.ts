/** An upstream cluster: a named set of endpoints Envoy (or a proxyless gRPC client) balances over. */
import type { SourceObject } from './source.js';

/** RING_HASH and MAGLEV hash on the request (Envoy's defaults: hash of nothing, i.e. random). */
export const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'] as const;
export type LbPolicy = (typeof LB_POLICIES)[number];

/** What the upstream speaks: HTTP2 and GRPC both mean an HTTP/2 upstream connection. */
export const UPSTREAM_PROTOCOLS = ['HTTP1', 'HTTP2', 'GRPC'] as const;
export type UpstreamProtocol = (typeof UPSTREAM_PROTOCOLS)[number];

export interface ClusterIR {
  /** Unique, stable and readable; the EDS resource of the same name holds its endpoints. */
  name: string;
  /** How endpoints are found; only EDS over ADS for now (endpoints come from the same snapshot). */
  discovery: 'EDS';
  connectTimeoutMs: number;
  lbPolicy: LbPolicy;
  protocol: UpstreamProtocol;
  /** Originate TLS to the endpoints; sni is sent as server name. */
  upstreamTls?: { sni?: string; validation?: UpstreamValidationIR };
  /** Eject endpoints that keep failing. */
  outlierDetection?: OutlierDetectionIR;
  source: SourceObject;
}

/**
 * How the endpoints' certificates are checked (Gateway API BackendTLSPolicy): issued by `trustedCa`
 * (PEM) or by the proxy's system roots, and carrying one of `subjectAltNames`.
 */
export interface UpstreamValidationIR {
  trustedCa: { kind: 'pem'; pem: string } | { kind: 'system' };
  /** At least one. */
  subjectAltNames: { kind: 'DNS' | 'URI'; value: string }[];
}

export interface OutlierDetectionIR {
  consecutive5xx: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  /** 0..100 */
  maxEjectionPercent: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
