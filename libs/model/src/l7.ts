/**
 * Listeners, filter chains, route configurations (virtual hosts, routes, their matches and actions)
 * and TLS secrets: the L7 half of the IR. Ingress, L7 Service annotations and proxyless gRPC fill it
 * today; Gateway API uses the same shapes (matches on headers, query parameters and methods, weighted
 * backends, filters as header changes, redirects, rewrites and mirrors). Durations are milliseconds.
 */
import type { SourceObject } from './source.js';

/**
 * A socket listener (Envoy binds address:port) or an API listener (no socket: a proxyless gRPC client
 * asks for it by the name it dials, `<service>.<namespace>.svc.cluster.local:<port>`).
 */
export interface ListenerIR {
  /** Stable and readable, e.g. `default/basic-ingress/ingress`; built in translation's names.ts. */
  name: string;
  kind: 'socket' | 'api';
  /** socket only */
  address: string;
  /** socket only */
  port: number;
  /** Tried in order by their match; at least one. An API listener has exactly one HTTP chain. */
  filterChains: FilterChainIR[];
  source: SourceObject;
}

export interface FilterChainIR {
  /** Unique within its listener. */
  name: string;
  match: FilterChainMatchIR;
  /** Terminate TLS with these SDS secrets (their names); absent: plaintext, or TLS passed through. */
  tls?: { secretNames: string[]; clientValidation?: ClientValidationIR };
  /** What the chain does with the bytes: HTTP routing over RDS, or a TCP proxy. */
  action: HttpConnectionIR | TcpProxyIR;
}

/** Client certificates a TLS chain asks for: verified against a ValidationSecretIR, and required unless it accepts untrusted ones. */
export interface ClientValidationIR {
  /** Name of a ValidationSecretIR. */
  secretName: string;
  /** Refuse the handshake without a valid client certificate (false: request one, accept any or none). */
  required: boolean;
}

export interface FilterChainMatchIR {
  /** SNI names (wildcards as `*.example.com`); empty: any. */
  serverNames: string[];
  /** `tls` for TLS connections, `raw_buffer` for plaintext; absent: any. */
  transportProtocol?: 'tls' | 'raw_buffer';
}

export interface HttpConnectionIR {
  kind: 'http';
  /** Name of the RouteIR asked for over RDS. */
  routeName: string;
  /** Prefix of the HTTP connection manager's statistics. */
  statPrefix: string;
  /** Connection upgrades let through to the backends (e.g. `websocket`). */
  upgrades?: string[];
  /** Run Envoy's CORS filter (routes carry their policies in HttpRouteRuleIR.cors). */
  cors?: boolean;
  /** Run Envoy's stateful session filter (routes carry their settings in HttpRouteRuleIR.sessionPersistence). */
  sessions?: boolean;
  /** gRPC's proxyless client needs the router and nothing that touches the socket. */
}

export interface TcpProxyIR {
  kind: 'tcp';
  statPrefix: string;
  /** At least one; several split connections by weight (Gateway API TLSRoute/TCPRoute). */
  backends: WeightedClusterIR[];
}

/** An RDS RouteConfiguration. */
export interface RouteIR {
  name: string;
  virtualHosts: VirtualHostIR[];
  /** Pick virtual hosts by the Host header without its port (which still reaches the backend as sent). */
  ignorePortInHostMatching?: boolean;
  source: SourceObject;
}

export interface VirtualHostIR {
  /** Unique within its route configuration. */
  name: string;
  /** Host names (`*.example.com`, `*`), each in one virtual host of the configuration only. */
  domains: string[];
  /** Tried in order: the first match wins. */
  routes: HttpRouteRuleIR[];
  /** Plaintext requests are redirected to https (Ingress force-https). */
  requireTls?: boolean;
}

export type PathMatchIR =
  | { kind: 'exact'; value: string }
  /** Whole path segments: `/foo` matches `/foo` and `/foo/bar`, not `/foobar`. */
  | { kind: 'segment-prefix'; value: string }
  /** Any string prefix (what Envoy's `prefix` does). */
  | { kind: 'prefix'; value: string }
  /** An RE2 regular expression over the whole path. */
  | { kind: 'regex'; value: string };

export interface HeaderMatchIR {
  name: string;
  kind: 'exact' | 'regex' | 'present';
  value?: string;
  invert?: boolean;
}

export interface RouteMatchIR {
  path: PathMatchIR;
  headers?: HeaderMatchIR[];
  queryParameters?: { name: string; kind: 'exact' | 'regex'; value: string }[];
  method?: string;
  /** Only gRPC requests (content-type application/grpc). */
  grpc?: boolean;
}

export interface HeaderModifierIR {
  /** Replace (or add when absent). */
  set: { name: string; value: string }[];
  /** Append to what is there. */
  add: { name: string; value: string }[];
  remove: string[];
}

export interface WeightedClusterIR {
  clusterName: string;
  /** Relative; 0 takes no traffic. */
  weight: number;
  /** Header changes for requests sent to this backend only (Gateway API backendRef filters). */
  requestHeaders?: HeaderModifierIR;
  responseHeaders?: HeaderModifierIR;
}

export interface RetryPolicyIR {
  /** Envoy retry conditions, e.g. `5xx`, `connect-failure`, `reset`. */
  retryOn: string[];
  numRetries: number;
  perTryTimeoutMs?: number;
  /** With retryOn `retriable-status-codes`: the status codes that are retried (Gateway API retry.codes). */
  retriableStatusCodes?: number[];
  /** Base interval of the exponential back-off between tries; absent: Envoy's 25 ms. */
  backoffMs?: number;
}

export interface RequestMirrorIR {
  clusterName: string;
  /** Share of requests mirrored, 0..100; absent: all. */
  percent?: number;
}

export interface ForwardActionIR {
  kind: 'forward';
  /** At least one; weights relative. */
  backends: WeightedClusterIR[];
  /** Whole request timeout; 0 disables it; absent: Envoy's default (15 s). */
  timeoutMs?: number;
  retry?: RetryPolicyIR;
  mirrors?: RequestMirrorIR[];
  /** Rewrite before forwarding: the matched prefix, or the whole path, and the Host header. */
  rewrite?: { pathPrefix?: string; fullPath?: string; hostname?: string };
}

export interface RedirectActionIR {
  kind: 'redirect';
  scheme?: 'http' | 'https';
  hostname?: string;
  port?: number;
  /** Replace the whole path, or only the matched prefix. */
  fullPath?: string;
  pathPrefix?: string;
  statusCode: 301 | 302 | 303 | 307 | 308;
}

export interface DirectResponseActionIR {
  kind: 'direct-response';
  status: number;
  body?: string;
}

export interface HttpRouteRuleIR {
  /** Unique within its virtual host; readable, for statistics and errors. */
  name: string;
  match: RouteMatchIR;
  action: ForwardActionIR | RedirectActionIR | DirectResponseActionIR;
  requestHeaders?: HeaderModifierIR;
  responseHeaders?: HeaderModifierIR;
  /** Cross-origin requests: Envoy answers preflights and adds the allow headers (needs HttpConnectionIR.cors). */
  cors?: CorsPolicyIR;
  /** Requests of one session go to the endpoint that served its first (needs HttpConnectionIR.sessions). */
  sessionPersistence?: SessionPersistenceIR;
}

/** Where a session remembers its endpoint: a cookie the proxy sets, or a header the client sends back. */
export type SessionPersistenceIR =
  | {
      kind: 'cookie';
      name: string;
      path: string;
      /** Max-Age of the cookie; absent: a session cookie, gone when the browser session ends. */
      ttlSeconds?: number;
    }
  | { kind: 'header'; name: string };

export interface CorsPolicyIR {
  /** Origins allowed, exactly or by an RE2 regex over the whole Origin. */
  allowOrigins: { kind: 'exact' | 'regex'; value: string }[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
}

/** A secret served over SDS: a TLS certificate with its key, or a CA bundle that verifies client certificates. */
export type SecretIR = CertificateSecretIR | ValidationSecretIR;

/** A TLS certificate and key (PEM). */
export interface CertificateSecretIR {
  name: string;
  certificateChain: string;
  privateKey: string;
  trustedCa?: undefined;
  source: SourceObject;
}

/** CA certificates (PEM bundle) that client certificates must chain to (a validation context). */
export interface ValidationSecretIR {
  name: string;
  trustedCa: string;
  /** Ask for a client certificate but accept any (or none): the handshake never fails on it. */
  acceptUntrusted?: boolean;
  certificateChain?: undefined;
  privateKey?: undefined;
  source: SourceObject;
}
