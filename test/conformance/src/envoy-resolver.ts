/**
 * What Envoy would do with one request, read from the configuration Tendril generated, with no
 * Envoy running: the Gateway's `tendril-lb` entry gives the node-proxy port of a frontend port, the
 * Listener on that port and its filter chain give the HTTP connection manager (or TCP proxy), RDS
 * gives the RouteConfiguration, and Envoy's documented rules pick the virtual host, the route and
 * what the route does to the request and the response.
 *
 * Every rule below names the Envoy documentation it follows. Where Envoy has more behaviour than the
 * rule modelled here (runtime fractions, formatters in header values, filters other than the router),
 * the resolution says so in `notes`, so a reader never takes a guess for a fact.
 *
 * Envoy documentation followed (v3 API, https://www.envoyproxy.io/docs/envoy/latest/):
 * - configuration/http/http_conn_man/route_matching: virtual host by Host/:authority, then the first
 *   route in order (not the most specific);
 * - api-v3/config/route/v3/route_components.proto: VirtualHost.domains search order, RouteMatch (prefix,
 *   path, safe_regex, path_separated_prefix, case_sensitive, headers, query_parameters, grpc),
 *   HeaderMatcher, RouteAction (weighted_clusters, prefix_rewrite, regex_rewrite, host_rewrite_literal,
 *   timeout default 15 s, retry_policy, request_mirror_policies, upgrade_configs), RedirectAction,
 *   DirectResponseAction;
 * - api-v3/config/route/v3/route.proto: RouteConfiguration.most_specific_header_mutations_wins,
 *   ignore_port_in_host_matching; configuration/http/http_conn_man/headers (custom request/response
 *   headers: most specific level first, remove before add); api-v3/config/core/v3/base.proto
 *   HeaderValueOption.append_action;
 * - api-v3/config/listener/v3/listener_components.proto: FilterChainMatch order and specificity;
 * - api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto:
 *   strip_any_host_port, strip_matching_host_port (they rewrite the Host header the upstream gets too:
 *   `example:443` reaches the upstream as `example`), upgrade_configs, rds / route_config;
 * - Envoy's redirects: a host_redirect without port_redirect drops the request's port.
 */
import type { LbService } from '@tendril/contract';
import { Headers } from './headers.js';

type Plain = Record<string, unknown>;

/** The decoded xDS resources (proto3 JSON, as @tendril/envoy decodeResource returns them) and LB entries. */
export interface EnvoyConfig {
  listeners: Plain[];
  routes: Map<string, Plain>;
  clusters: Map<string, Plain>;
  endpoints: Map<string, Plain>;
  secrets: Map<string, Plain>;
  /** `tendril-lb` entries by `<namespace>/<name>`. */
  lb: Map<string, LbService>;
}

export interface ProxyRequest {
  /** `<namespace>/<name>` of the LB entry the client connects to (a Gateway's `cilium-gateway-<name>`). */
  service: string;
  /** The frontend port the client dials. */
  port: number;
  /** Present for TLS connections: the SNI and ALPN the client offers. */
  tls?: { serverName?: string; alpn?: string[] };
  method: string;
  /** Path plus raw query, as sent. */
  path: string;
  authority: string;
  headers: Headers;
}

export interface Endpoint {
  address: string;
  port: number;
  weight: number;
}

/** One upstream a request can go to, with the request as that upstream receives it. */
export interface UpstreamTarget {
  cluster: string;
  /** Share of requests (0..1) this target gets. */
  share: number;
  /** undefined when the cluster does not exist (Envoy answers 503). */
  endpoints?: Endpoint[];
  /** Cluster speaks HTTP/2 to its endpoints. */
  http2: boolean;
  request: { method: string; path: string; authority: string; headers: Headers };
  /** Applies the route's response header changes to a backend's response headers (most specific first). */
  finalizeResponse(headers: Headers): Headers;
}

export interface TlsSummary {
  /** Names of the SDS secrets (or "inline") holding the served certificate(s). */
  certificateSecrets: string[];
  /** Inline or SDS-resolved certificate chains (PEM), in order. */
  certificateChains: string[];
  requireClientCertificate: boolean;
  /** Names of validation-context secrets (client CA), if any. */
  validationSecrets: string[];
}

export interface Resolution {
  /** Each decision on the way, readable: which LB entry, listener, filter chain, route config, vhost, route. */
  trace: string[];
  notes: string[];
  /** No HTTP response at all: refused (nothing listens), reset (no filter chain / TLS refused). */
  connection?: 'refused' | 'reset';
  /** TLS summary of the chosen filter chain (https requests). */
  tls?: TlsSummary;
  /** Status of a response Envoy makes itself (404 no route, redirect, direct response, 503 no cluster). */
  status?: number;
  /** Headers of a response Envoy makes itself (Location for redirects). */
  responseHeaders?: Headers;
  location?: string;
  /** Set when the request is forwarded: the weighted targets. */
  upstreams?: UpstreamTarget[];
  /** Clusters that get a copy of the request, with the percentage they get. */
  mirrors?: { cluster: string; percent: number; endpoints?: Endpoint[] }[];
  /** Route timeout in ms (null: disabled), per-try timeout in ms. */
  timeoutMs?: number | null;
  retry?: RetrySummary;
  /** The route entry chosen (its name or index), for messages. */
  route?: string;
  /** What Envoy's CORS filter does with the request, when the HCM runs it before the router (see corsDecision). */
  cors?: CorsDecision;
  /** Upgrade types the HCM accepts for this route (upgrade_configs, a route's own entries override). */
  upgrades?: string[];
  /** TCP proxy of the chain (TLS passthrough): its weighted targets. */
  tcpUpstreams?: { cluster: string; share: number; endpoints?: Endpoint[] }[];
}

export interface RetrySummary {
  retryOn: string[];
  numRetries: number;
  retriableStatusCodes: number[];
  perTryTimeoutMs?: number;
}

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
/** HTTP filters whose effect the resolver models (the router; the CORS filter: corsDecision). */
const MODELLED_HTTP_FILTERS = new Set(['envoy.filters.http.router', 'envoy.filters.http.cors']);
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

const asArray = <T = Plain>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
const asObject = (value: unknown): Plain | undefined => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Plain) : undefined);
const typeOf = (any: Plain | undefined): string => String(any?.['@type'] ?? '').replace(/^.*\//, '');

/** "1.5s" (proto3 JSON Duration) -> milliseconds. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Connection: LB entry -> node-proxy port -> Listener -> filter chain

/**
 * The LB entry's frontend on the dialled port, redirected to the node proxy: `l7Proxy.frontendPorts[port]`
 * when listed, else `l7Proxy.port` (libs/contract lb-service: "a frontend port listed in frontendPorts
 * goes to its own proxy port").
 */
export function proxyPortOf(config: EnvoyConfig, service: string, port: number, trace: string[]): number | undefined {
  const entry = config.lb.get(service);
  if (!entry) {
    trace.push(`no tendril-lb entry ${service}`);
    return undefined;
  }
  if (!entry.frontends.some((f) => f.port === port && f.protocol === 'TCP')) {
    trace.push(`tendril-lb ${service} has no TCP frontend on port ${port} (frontends: ${entry.frontends.map((f) => `${f.address}:${f.port}`).join(', ') || 'none'})`);
    return undefined;
  }
  if (!entry.l7Proxy) {
    trace.push(`tendril-lb ${service} is not redirected to the node proxy (l7Proxy null)`);
    return undefined;
  }
  const proxyPort = entry.l7Proxy.frontendPorts?.[String(port)] ?? entry.l7Proxy.port;
  trace.push(`tendril-lb ${service}: frontend port ${port} -> node proxy port ${proxyPort}`);
  return proxyPort;
}

export function listenerOnPort(config: EnvoyConfig, port: number): Plain | undefined {
  return config.listeners.find((l) => asObject(asObject(l['address'])?.['socketAddress'])?.['portValue'] === port);
}

interface ConnectionFacts {
  destinationPort: number;
  serverName?: string;
  transportProtocol: 'tls' | 'raw_buffer';
  applicationProtocols: string[];
}

/**
 * Filter chain selection as FilterChainMatch documents it (listener_components.proto): criteria are
 * checked in the order destination port, destination IP, server name, transport protocol, application
 * protocols; at each step the most specific value among chains that match wins — for server names the
 * exact name, then the longest `*.suffix` wildcard, then chains without server_names — and chains that
 * lack the criterion are the fallback. No chain left: `default_filter_chain`, else the connection is closed.
 */
export function selectFilterChain(listener: Plain, facts: ConnectionFacts): Plain | undefined {
  let candidates = asArray(listener['filterChains']);
  const matchOf = (chain: Plain) => asObject(chain['filterChainMatch']) ?? {};

  // 1. destination port: chains naming this port beat chains with none
  const withPort = candidates.filter((c) => matchOf(c)['destinationPort'] === facts.destinationPort);
  candidates = withPort.length ? withPort : candidates.filter((c) => matchOf(c)['destinationPort'] === undefined);
  // 2. destination IP (prefix_ranges): not modelled; chains with ranges are only kept when nothing else is left
  const noRanges = candidates.filter((c) => asArray(matchOf(c)['prefixRanges']).length === 0);
  if (noRanges.length) candidates = noRanges;
  // 3. server name: exact, then longest wildcard, then chains without server_names
  candidates = bestServerNameChains(candidates, facts.serverName, matchOf);
  // 4. transport protocol: chains naming it beat chains without
  const withTransport = candidates.filter((c) => matchOf(c)['transportProtocol'] === facts.transportProtocol);
  candidates = withTransport.length ? withTransport : candidates.filter((c) => !matchOf(c)['transportProtocol']);
  // 5. application protocols: a chain naming one of the offered protocols beats chains without
  const withAlpn = candidates.filter((c) => asArray<string>(matchOf(c)['applicationProtocols']).some((p) => facts.applicationProtocols.includes(p)));
  candidates = withAlpn.length ? withAlpn : candidates.filter((c) => asArray(matchOf(c)['applicationProtocols']).length === 0);
  return candidates[0] ?? asObject(listener['defaultFilterChain']);
}

function bestServerNameChains(chains: Plain[], serverName: string | undefined, matchOf: (c: Plain) => Plain): Plain[] {
  const names = (c: Plain) => asArray<string>(matchOf(c)['serverNames']).map((n) => n.toLowerCase());
  if (serverName) {
    const sni = serverName.toLowerCase();
    const exact = chains.filter((c) => names(c).includes(sni));
    if (exact.length) return exact;
    // wildcards: *.example.com, then *.com (most specific first)
    const labels = sni.split('.');
    for (let i = 1; i < labels.length; i++) {
      const wildcard = `*.${labels.slice(i).join('.')}`;
      const hit = chains.filter((c) => names(c).includes(wildcard));
      if (hit.length) return hit;
    }
  }
  return chains.filter((c) => names(c).length === 0);
}

function tlsSummary(chain: Plain, config: EnvoyConfig): TlsSummary | undefined {
  const socket = asObject(chain['transportSocket']);
  const context = asObject(socket?.['typedConfig']);
  if (!context || !typeOf(context).endsWith('DownstreamTlsContext')) return undefined;
  const common = asObject(context['commonTlsContext']) ?? {};
  const sds = asArray(common['tlsCertificateSdsSecretConfigs']).map((s) => String(s['name']));
  const inline = asArray(common['tlsCertificates']);
  const chains = [
    ...sds.map((name) => inlineBytes(asObject(asObject(config.secrets.get(name)?.['tlsCertificate'])?.['certificateChain']))),
    ...inline.map((c) => inlineBytes(asObject(c['certificateChain']))),
  ].filter((c): c is string => c !== undefined);
  const validation = [
    asObject(common['validationContextSdsSecretConfig'])?.['name'],
    asObject(asObject(common['combinedValidationContext'])?.['validationContextSdsSecretConfig'])?.['name'],
  ].filter((n): n is string => typeof n === 'string');
  return {
    certificateSecrets: [...sds, ...inline.map(() => 'inline')],
    certificateChains: chains,
    requireClientCertificate: context['requireClientCertificate'] === true,
    validationSecrets: validation,
  };
}

function inlineBytes(source: Plain | undefined): string | undefined {
  if (!source) return undefined;
  if (typeof source['inlineString'] === 'string') return source['inlineString'];
  if (typeof source['inlineBytes'] === 'string') return Buffer.from(source['inlineBytes'], 'base64').toString('utf8');
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// HTTP: HCM -> RouteConfiguration -> virtual host -> route

/**
 * Virtual host by authority, in the order VirtualHost.domains documents (route_components.proto):
 * exact domain, then suffix wildcards (`*.foo.com`, `*-bar.foo.com`; longest first), then prefix
 * wildcards (`foo.*`; longest first), then `*`. A wildcard never matches the empty string. Matching
 * ignores case. The port stays part of the authority unless the HCM strips it (strip_any_host_port,
 * strip_matching_host_port) or the route configuration sets ignore_port_in_host_matching.
 */
export function selectVirtualHost(virtualHosts: Plain[], authority: string): Plain | undefined {
  const host = authority.toLowerCase();
  const domainsOf = (vh: Plain) => asArray<string>(vh['domains']).map((d) => d.toLowerCase());
  const exact = virtualHosts.find((vh) => domainsOf(vh).includes(host));
  if (exact) return exact;
  let best: { vh: Plain; length: number } | undefined;
  for (const vh of virtualHosts) {
    for (const domain of domainsOf(vh)) {
      if (domain.length > 1 && domain.startsWith('*')) {
        const suffix = domain.slice(1);
        if (host.length > suffix.length && host.endsWith(suffix) && (!best || domain.length > best.length)) best = { vh, length: domain.length };
      }
    }
  }
  if (best) return best.vh;
  for (const vh of virtualHosts) {
    for (const domain of domainsOf(vh)) {
      if (domain.length > 1 && domain.endsWith('*')) {
        const prefix = domain.slice(0, -1);
        if (host.length > prefix.length && host.startsWith(prefix) && (!best || domain.length > best.length)) best = { vh, length: domain.length };
      }
    }
  }
  if (best) return best.vh;
  return virtualHosts.find((vh) => domainsOf(vh).includes('*'));
}

/** RE2 patterns as JavaScript regular expressions (the subset translators emit: no \C, no possessive). */
export function re2(pattern: string, flags = ''): RegExp {
  // RE2 spells named groups (?P<name>...); JavaScript (?<name>...)
  return new RegExp(pattern.replace(/\(\?P</g, '(?<'), flags);
}

const fullMatch = (pattern: string, value: string, ignoreCase = false) => re2(`^(?:${pattern})$`, ignoreCase ? 'i' : '').test(value);

/**
 * StringMatcher (type/matcher/v3/string.proto): exact, prefix, suffix, contains, safe_regex (whole
 * value must match), with ignore_case for all but safe_regex.
 */
export function stringMatches(matcher: Plain, value: string): boolean {
  const ignoreCase = matcher['ignoreCase'] === true;
  const norm = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  if (typeof matcher['exact'] === 'string') return norm(value) === norm(matcher['exact']);
  if (typeof matcher['prefix'] === 'string') return norm(value).startsWith(norm(matcher['prefix']));
  if (typeof matcher['suffix'] === 'string') return norm(value).endsWith(norm(matcher['suffix']));
  if (typeof matcher['contains'] === 'string') return norm(value).includes(norm(matcher['contains']));
  const regex = asObject(matcher['safeRegex']);
  if (regex) return fullMatch(String(regex['regex']), value);
  return false;
}

/**
 * HeaderMatcher (route_components.proto; Envoy's header utility): the header's values joined with ","
 * are compared. An absent header (unless treat_missing_header_as_empty) matches only `present_match:
 * false`, and with invert_match it matches everything but a present_match. Otherwise the value matcher's
 * result, flipped by invert_match. Pseudo-headers (`:method`, `:authority`, `:path`, `:scheme`) are the
 * request line's values.
 */
export function headerMatches(matcher: Plain, value: string | undefined): boolean {
  const invert = matcher['invertMatch'] === true;
  const isPresentMatch = matcher['presentMatch'] !== undefined;
  if (value === undefined && matcher['treatMissingHeaderAsEmpty'] !== true) {
    return invert ? !isPresentMatch : isPresentMatch && matcher['presentMatch'] === false;
  }
  const result = isPresentMatch ? matcher['presentMatch'] === true : evaluate(matcher, value ?? '');
  return result !== invert;
}

function evaluate(matcher: Plain, value: string): boolean {
  const stringMatch = asObject(matcher['stringMatch']);
  if (stringMatch) return stringMatches(stringMatch, value);
  if (typeof matcher['exactMatch'] === 'string') return value === matcher['exactMatch'];
  if (typeof matcher['prefixMatch'] === 'string') return value.startsWith(matcher['prefixMatch']);
  if (typeof matcher['suffixMatch'] === 'string') return value.endsWith(matcher['suffixMatch']);
  if (typeof matcher['containsMatch'] === 'string') return value.includes(matcher['containsMatch']);
  const regex = asObject(matcher['safeRegexMatch']);
  if (regex) return fullMatch(String(regex['regex']), value);
  const range = asObject(matcher['rangeMatch']);
  if (range) {
    const n = Number(value);
    return Number.isInteger(n) && n >= Number(range['start']) && n < Number(range['end']);
  }
  // no value matcher: presence alone
  return true;
}

export interface ParsedPath {
  path: string;
  query: string;
  params: [string, string][];
}

export function splitPath(raw: string): ParsedPath {
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const params: [string, string][] = [];
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    params.push(eq < 0 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))]);
  }
  return { path, query, params };
}

interface RequestView {
  method: string;
  path: ParsedPath;
  authority: string;
  scheme: string;
  headers: Headers;
}

function pseudoOrHeader(request: RequestView, name: string): string | undefined {
  switch (name.toLowerCase()) {
    case ':method':
      return request.method;
    case ':authority':
    case 'host':
      return request.authority;
    case ':path':
      return request.path.query ? `${request.path.path}?${request.path.query}` : request.path.path;
    case ':scheme':
      return request.scheme;
    default:
      return request.headers.get(name);
  }
}

/**
 * RouteMatch (route_components.proto): one path specifier — prefix, path (exact), safe_regex (the
 * whole path without query must match), path_separated_prefix (the prefix followed by end, `/`, `?`
 * or `#`) — compared case-sensitively unless case_sensitive is false; then every header matcher, every
 * query parameter matcher (first value of the parameter; present_match for presence), and `grpc`
 * (content-type application/grpc...). Returns the length of the matched path prefix for prefix_rewrite.
 */
export function routeMatches(match: Plain, request: RequestView): { matched: string } | undefined {
  const caseSensitive = match['caseSensitive'] !== false;
  const norm = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const path = request.path.path;
  let matched: string | undefined;
  if (typeof match['prefix'] === 'string') {
    if (norm(path).startsWith(norm(match['prefix']))) matched = path.slice(0, match['prefix'].length);
  } else if (typeof match['path'] === 'string') {
    if (norm(path) === norm(match['path'])) matched = path;
  } else if (asObject(match['safeRegex'])) {
    if (fullMatch(String(asObject(match['safeRegex'])!['regex']), path)) matched = path;
  } else if (typeof match['pathSeparatedPrefix'] === 'string') {
    const prefix = match['pathSeparatedPrefix'];
    if (norm(path).startsWith(norm(prefix)) && (path.length === prefix.length || path[prefix.length] === '/')) matched = path.slice(0, prefix.length);
  } else if (asObject(match['pathMatchPolicy'])) {
    return undefined; // uri templates are not modelled; no match rather than a guess
  } else {
    return undefined;
  }
  if (matched === undefined) return undefined;
  for (const header of asArray(match['headers'])) {
    if (!headerMatches(header, pseudoOrHeader(request, String(header['name'])))) return undefined;
  }
  for (const query of asArray(match['queryParameters'])) {
    const found = request.path.params.find(([name]) => name === query['name']);
    if (query['presentMatch'] === true) {
      if (!found) return undefined;
      continue;
    }
    if (!found) return undefined;
    const stringMatch = asObject(query['stringMatch']);
    if (stringMatch && !stringMatches(stringMatch, found[1])) return undefined;
  }
  if (asObject(match['grpc'])) {
    if (!(request.headers.get('content-type') ?? '').startsWith('application/grpc')) return undefined;
  }
  return { matched };
}

// ---------------------------------------------------------------------------------------------
// Actions: header mutations, rewrites, redirects

/**
 * HeaderValueOption (core/v3/base.proto): append_action APPEND_IF_EXISTS_OR_ADD (the default) adds a
 * value, ADD_IF_ABSENT only when the header is absent, OVERWRITE_IF_EXISTS_OR_ADD replaces or adds,
 * OVERWRITE_IF_EXISTS replaces only an existing one; the deprecated `append` (true: append, false:
 * overwrite) applies when append_action is unset. An empty value is skipped unless keep_empty_value.
 * Header-manipulation docs: each level removes its headers_to_remove before adding ("remove before add").
 */
export function applyHeaderMutations(headers: Headers, toAdd: unknown, toRemove: unknown): void {
  for (const name of asArray<string>(toRemove)) headers.remove(name);
  for (const option of asArray(toAdd)) {
    const header = asObject(option['header']) ?? {};
    const name = String(header['key'] ?? '');
    const raw = typeof header['value'] === 'string' ? header['value'] : header['rawValue'] ? Buffer.from(String(header['rawValue']), 'base64').toString('utf8') : '';
    // Envoy's custom headers (configuration/http/http_conn_man/headers, "Custom request/response
    // headers"): a value is a format string in which `%%` stands for a literal `%`.
    const value = raw.replaceAll('%%', '%');
    if (!name) continue;
    if (value === '' && option['keepEmptyValue'] !== true) continue;
    let action = typeof option['appendAction'] === 'string' ? option['appendAction'] : 'APPEND_IF_EXISTS_OR_ADD';
    if (option['appendAction'] === undefined && option['append'] === false) action = 'OVERWRITE_IF_EXISTS_OR_ADD';
    switch (action) {
      case 'ADD_IF_ABSENT':
        if (!headers.has(name)) headers.add(name, value);
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        headers.set(name, value);
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (headers.has(name)) headers.set(name, value);
        break;
      default:
        headers.add(name, value);
    }
  }
}

/**
 * RouteAction/RedirectAction path rewrites: prefix_rewrite swaps the matched prefix (or the whole
 * path for exact and regex matches) and keeps the rest and the query; regex_rewrite replaces every
 * match of its pattern in the path (query excluded) with the substitution (\1 back-references).
 */
export function rewritePath(action: Plain, match: Plain, matched: string, path: ParsedPath): string {
  const query = path.query ? `?${path.query}` : '';
  if (typeof action['prefixRewrite'] === 'string') {
    const isPrefix = typeof match['prefix'] === 'string' || typeof match['pathSeparatedPrefix'] === 'string';
    const rest = isPrefix ? path.path.slice(matched.length) : '';
    return `${action['prefixRewrite']}${rest}${query}`;
  }
  const regex = asObject(action['regexRewrite']);
  if (regex) {
    const pattern = String(asObject(regex['pattern'])?.['regex'] ?? '');
    const substitution = String(regex['substitution'] ?? '').replace(/\\(\d)/g, '$$$1');
    return `${path.path.replace(re2(pattern, 'g'), substitution)}${query}`;
  }
  return `${path.path}${query}`;
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

/**
 * The Location of a RedirectAction, built as Envoy builds it (router config: newUri): scheme from
 * scheme_redirect / https_redirect, else the request's; host_redirect replaces the whole host (port
 * included), else the request's host, whose port is dropped when port_redirect is set or when the
 * scheme changes and the port is the old scheme's default; port_redirect appends ":<port>" (Envoy issue
 * 17318: host_redirect without port_redirect drops the port); path from path_redirect (keeping the
 * request's query unless it has its own or strip_query), prefix_rewrite / regex_rewrite, else the request path.
 */
export function redirectLocation(redirect: Plain, match: Plain, matched: string, request: RequestView): string {
  const scheme = typeof redirect['schemeRedirect'] === 'string' && redirect['schemeRedirect'] ? redirect['schemeRedirect'] : redirect['httpsRedirect'] === true ? 'https' : request.scheme;
  const port = typeof redirect['portRedirect'] === 'number' && redirect['portRedirect'] > 0 ? `:${redirect['portRedirect']}` : '';
  let host: string;
  if (typeof redirect['hostRedirect'] === 'string' && redirect['hostRedirect']) host = redirect['hostRedirect'];
  else {
    host = request.authority;
    const colon = host.startsWith('[') ? host.lastIndexOf(']:') + 1 || -1 : host.lastIndexOf(':');
    if (colon > 0) {
      const requestPort = host.slice(colon);
      let remove = port !== '';
      if (scheme !== request.scheme) {
        remove ||= (request.scheme === 'https' && requestPort === ':443') || (request.scheme === 'http' && requestPort === ':80');
      }
      if (remove) host = host.slice(0, colon);
    }
  }
  const stripQuery = redirect['stripQuery'] === true;
  let path: string;
  if (typeof redirect['pathRedirect'] === 'string' && redirect['pathRedirect']) {
    path = redirect['pathRedirect'];
    if (!path.includes('?') && !stripQuery && request.path.query) path += `?${request.path.query}`;
  } else {
    path = rewritePath(redirect, match, matched, request.path);
    if (stripQuery) path = path.split('?')[0]!;
  }
  return `${scheme}://${host}${port}${path}`;
}

// ---------------------------------------------------------------------------------------------
// The whole request

export function resolveHttp(config: EnvoyConfig, request: ProxyRequest): Resolution {
  const trace: string[] = [];
  const notes: string[] = [];
  const proxyPort = proxyPortOf(config, request.service, request.port, trace);
  if (proxyPort === undefined) return { trace, notes, connection: 'refused' };
  const listener = listenerOnPort(config, proxyPort);
  if (!listener) {
    trace.push(`no Listener on port ${proxyPort}`);
    return { trace, notes, connection: 'refused' };
  }
  trace.push(`Listener ${String(listener['name'])}`);
  const tls = request.tls !== undefined;
  const chain = selectFilterChain(listener, {
    destinationPort: proxyPort,
    serverName: request.tls?.serverName,
    transportProtocol: tls ? 'tls' : 'raw_buffer',
    applicationProtocols: request.tls?.alpn ?? [],
  });
  if (!chain) {
    trace.push(`no filter chain matches (sni ${request.tls?.serverName ?? '-'}, ${tls ? 'tls' : 'raw_buffer'}): connection closed`);
    return { trace, notes, connection: 'reset' };
  }
  trace.push(`filter chain ${String(chain['name'] ?? '(unnamed)')}`);
  const summary = tls ? tlsSummary(chain, config) : undefined;
  if (tls && !summary && !tcpTargets(config, chain)) {
    trace.push('the chosen chain neither terminates TLS nor passes it through');
    return { trace, notes, connection: 'reset' };
  }
  const filters = asArray(chain['filters']);
  const hcm = filters.map((f) => asObject(f['typedConfig'])).find((c) => typeOf(c) === HCM);
  if (!hcm) {
    const tcpUpstreams = tcpTargets(config, chain);
    if (tcpUpstreams) {
      // TLS passthrough: the bytes go to the backend, which terminates TLS and answers itself
      trace.push(`tcp proxy to ${tcpUpstreams.map((u) => u.cluster).join(', ')}${summary ? ' after terminating TLS' : ' (TLS passed through)'}`);
      return { trace, notes, tls: summary, tcpUpstreams };
    }
    trace.push(`chain has no HTTP connection manager (${filters.map((f) => String(f['name'])).join(', ')})`);
    return { trace, notes, connection: 'reset', tls: summary };
  }
  let routeConfig: Plain | undefined;
  const rds = asObject(hcm['rds']);
  if (rds) {
    const name = String(rds['routeConfigName']);
    routeConfig = config.routes.get(name);
    trace.push(`RDS ${name}${routeConfig ? '' : ' (missing)'}`);
  } else routeConfig = asObject(hcm['routeConfig']);
  const resolution: Resolution = { trace, notes, tls: summary };
  if (!routeConfig) {
    // Envoy waits for RDS; a client sees the connection hang or close
    return { ...resolution, connection: 'reset' };
  }
  // strip_any_host_port / strip_matching_host_port rewrite the Host header itself (routing, redirects and
  // the upstream see it without the port); ignore_port_in_host_matching only ignores it for the virtual host
  let hostHeader = request.authority;
  if (hcm['stripAnyHostPort'] === true) hostHeader = hostHeader.replace(/:\d+$/, '');
  else if (hcm['stripMatchingHostPort'] === true && hostHeader.endsWith(`:${request.port}`)) hostHeader = hostHeader.slice(0, -`:${request.port}`.length);
  const authority = routeConfig['ignorePortInHostMatching'] === true ? hostHeader.replace(/:\d+$/, '') : hostHeader;
  const view: RequestView = { method: request.method, path: splitPath(request.path), authority: hostHeader, scheme: tls ? 'https' : 'http', headers: request.headers };
  const vh = selectVirtualHost(asArray(routeConfig['virtualHosts']), authority);
  if (!vh) {
    trace.push(`no virtual host for authority "${authority}" -> 404`);
    return { ...resolution, status: 404 };
  }
  trace.push(`virtual host ${String(vh['name'])} (domains ${asArray<string>(vh['domains']).join(', ')})`);
  const routes = asArray(vh['routes']);
  let chosen: { route: Plain; matched: string; index: number } | undefined;
  for (let index = 0; index < routes.length && !chosen; index++) {
    const hit = routeMatches(asObject(routes[index]!['match']) ?? {}, view);
    if (hit) chosen = { route: routes[index]!, matched: hit.matched, index };
  }
  if (!chosen) {
    trace.push(`no route of ${routes.length} matches ${view.method} ${request.path} -> 404`);
    return { ...resolution, status: 404 };
  }
  const { route, matched } = chosen;
  const match = asObject(route['match']) ?? {};
  resolution.route = String(route['name'] ?? `#${chosen.index}`);
  trace.push(`route ${resolution.route} (match ${JSON.stringify(match)})`);
  const httpFilters = asArray(hcm['httpFilters']).map((f) => String(f['name']));
  for (const name of httpFilters) if (!MODELLED_HTTP_FILTERS.has(name)) notes.push(`http filter ${name} is not modelled: its effect is not in this resolution`);
  for (const level of [route, vh]) {
    for (const name of Object.keys(asObject(level['typedPerFilterConfig']) ?? {})) if (!name.includes('cors')) notes.push(`per-route config of ${name} is not modelled`);
  }
  const corsAt = httpFilters.indexOf(CORS_FILTER);
  const routerAt = httpFilters.indexOf('envoy.filters.http.router');
  if (corsAt >= 0 && (routerAt < 0 || corsAt < routerAt)) {
    resolution.cors = corsDecision(corsPolicies(route, vh, routeConfig), view, notes);
    trace.push(`CORS: ${resolution.cors.summary}`);
    if (resolution.cors.preflight) {
      // the filter answers the preflight itself: no route action (redirect, direct response, upstream) runs
      resolution.status = 200;
      resolution.responseHeaders = resolution.cors.encode(resolution.cors.preflight);
      return resolution;
    }
  }
  const corsEncode = (headers: Headers) => (resolution.cors ? resolution.cors.encode(headers) : headers);
  const levels = [route, vh, routeConfig];
  // HttpConnectionManager.upgrade_configs enable upgrades per type; RouteAction.upgrade_configs may turn one on or off for the route
  const upgrades = new Map<string, boolean>();
  for (const upgrade of asArray(hcm['upgradeConfigs'])) upgrades.set(String(upgrade['upgradeType']).toLowerCase(), upgrade['enabled'] !== false);
  for (const upgrade of asArray(asObject(route['route'])?.['upgradeConfigs'])) upgrades.set(String(upgrade['upgradeType']).toLowerCase(), upgrade['enabled'] !== false);
  resolution.upgrades = [...upgrades].filter(([, on]) => on).map(([type]) => type);

  if (asObject(route['directResponse'])) {
    const direct = asObject(route['directResponse'])!;
    resolution.status = Number(direct['status']);
    trace.push(`direct response ${resolution.status}`);
    resolution.responseHeaders = corsEncode(finalize(new Headers(), levels, 'response'));
    return resolution;
  }
  if (asObject(route['redirect'])) {
    const redirect = asObject(route['redirect'])!;
    resolution.status = REDIRECT_CODES[String(redirect['responseCode'] ?? 'MOVED_PERMANENTLY')] ?? 301;
    resolution.location = redirectLocation(redirect, match, matched, view);
    resolution.responseHeaders = corsEncode(finalize(new Headers([['location', resolution.location]]), levels, 'response'));
    trace.push(`redirect ${resolution.status} ${resolution.location}`);
    return resolution;
  }
  const action = asObject(route['route']);
  if (!action) {
    trace.push('route has no action -> 404');
    return { ...resolution, status: 404 };
  }
  // the request as every upstream sees it, before per-cluster header changes
  const upstreamPath = typeof action['prefixRewrite'] === 'string' || asObject(action['regexRewrite']) ? rewritePath(action, match, matched, view.path) : request.path;
  let upstreamAuthority = hostHeader;
  if (typeof action['hostRewriteLiteral'] === 'string' && action['hostRewriteLiteral']) upstreamAuthority = action['hostRewriteLiteral'];
  const timeout = action['timeout'] === undefined ? 15000 : durationMs(action['timeout']);
  resolution.timeoutMs = timeout === 0 ? null : timeout;
  const retryPolicy = asObject(action['retryPolicy']) ?? asObject(vh['retryPolicy']);
  if (retryPolicy) {
    resolution.retry = {
      retryOn: String(retryPolicy['retryOn'] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      numRetries: retryPolicy['numRetries'] === undefined ? 1 : Number(retryPolicy['numRetries']),
      retriableStatusCodes: asArray<number>(retryPolicy['retriableStatusCodes']).map(Number),
      perTryTimeoutMs: durationMs(retryPolicy['perTryTimeout']),
    };
  }
  resolution.mirrors = asArray(action['requestMirrorPolicies']).map((policy) => {
    const cluster = String(policy['cluster']);
    const fraction = asObject(asObject(policy['runtimeFraction'])?.['defaultValue']);
    const denominators: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10000, MILLION: 1000000 };
    const percent = fraction ? (Number(fraction['numerator'] ?? 0) * 100) / (denominators[String(fraction['denominator'] ?? 'HUNDRED')] ?? 100) : 100;
    return { cluster, percent, endpoints: endpointsOf(config, cluster) };
  });
  const targets: { name: string; weight: number; entry: Plain }[] = [];
  const weighted = asObject(action['weightedClusters']);
  if (typeof action['cluster'] === 'string') targets.push({ name: action['cluster'], weight: 1, entry: {} });
  else if (weighted) {
    for (const entry of asArray(weighted['clusters'])) targets.push({ name: String(entry['name']), weight: Number(entry['weight'] ?? 0), entry });
  } else {
    notes.push(`route action ${Object.keys(action).join(',')} is not modelled (cluster_header / cluster_specifier_plugin)`);
    return { ...resolution, status: 503 };
  }
  // WeightedCluster: each cluster gets weight / sum of weights (total_weight is deprecated)
  const total = targets.reduce((sum, t) => sum + t.weight, 0);
  resolution.upstreams = targets.map((target) => {
    const headers = request.headers.clone();
    // most specific first: weighted cluster, route, virtual host, route configuration (most_specific_header_mutations_wins=false)
    const requestLevels = routeConfig!['mostSpecificHeaderMutationsWins'] === true ? [routeConfig!, vh, route, target.entry] : [target.entry, route, vh, routeConfig!];
    for (const level of requestLevels) applyHeaderMutations(headers, level['requestHeadersToAdd'], level['requestHeadersToRemove']);
    const cluster = config.clusters.get(target.name);
    return {
      cluster: target.name,
      share: total > 0 ? target.weight / total : 0,
      endpoints: cluster ? (endpointsOf(config, target.name) ?? []) : undefined,
      http2: cluster ? isHttp2Cluster(cluster) : false,
      request: { method: request.method, path: upstreamPath, authority: upstreamAuthority, headers },
      // the router adds the route's response headers; the encoder filters (CORS) run on the result
      finalizeResponse: (response: Headers) => corsEncode(finalize(response, [target.entry, ...levels], 'response', routeConfig!['mostSpecificHeaderMutationsWins'] === true)),
    };
  });
  trace.push(`forward to ${resolution.upstreams.map((u) => `${u.cluster} (${Math.round(u.share * 1000) / 10}%, ${u.endpoints === undefined ? 'no such cluster' : `${u.endpoints.length} endpoints`})`).join(', ')}`);
  return resolution;
}

// ---------------------------------------------------------------------------------------------
// Envoy's CORS filter (envoy.filters.http.cors)
//
// Followed: configuration/http/http_filters/cors_filter (the filter acts on the CorsPolicy found in
// typed_per_filter_config, else on the deprecated `cors` fields of the route and virtual host);
// api-v3/extensions/filters/http/cors/v3/cors.proto (CorsPolicy: allow_origin_string_match,
// allow_methods, allow_headers, expose_headers, max_age, allow_credentials, filter_enabled,
// forward_not_matching_preflights "default is true"); and the filter's source,
// envoyproxy/envoy source/extensions/filters/http/cors/cors_filter.cc:
// - initializeCorsPolicies: the per-filter configs of every level, most specific first (route, virtual
//   host, route configuration); only when none exists, the route's then the virtual host's `cors`;
// - each field (allowOrigins, allowMethods, ..., forwardNotMatchingPreflights) is read from the first
//   policy that sets it, so a route policy without max_age inherits the virtual host's; enabled() is
//   the first policy's filter_enabled (absent: 100%);
// - decodeHeaders: no Origin (or empty) -> nothing; isOriginAllowed: a matcher matching "*" or the
//   Origin; a preflight is OPTIONS with a non-empty access-control-request-method; a disallowed
//   preflight goes on to the route unless forward_not_matching_preflights is false; otherwise the
//   filter answers 200 itself with access-control-allow-origin (the request's Origin, only when
//   allowed), -allow-credentials "true", -allow-methods (allow_methods "*": the requested method),
//   -allow-headers (allow_headers "*": the requested headers), -max-age;
// - encodeHeaders: on every response to a request with an allowed Origin (the backend's, Envoy's own
//   and the preflight answer the filter sent, which goes through the encoder filters like any reply a
//   decoder filter makes), sets access-control-allow-origin, -allow-credentials and -expose-headers.

const CORS_FILTER = 'envoy.filters.http.cors';

export interface CorsDecision {
  /** Headers of the 200 Envoy answers a preflight with, before encodeHeaders runs on it; absent: the request goes on. */
  preflight?: Headers;
  /** The filter's encodeHeaders on a response to this request. */
  encode(headers: Headers): Headers;
  summary: string;
}

/** Policies as initializeCorsPolicies orders them: most specific first. */
export function corsPolicies(route: Plain, vh: Plain, routeConfig: Plain = {}): Plain[] {
  const perFilter = [route, vh, routeConfig].map((level) => asObject(asObject(level['typedPerFilterConfig'])?.[CORS_FILTER])).filter((p): p is Plain => !!p);
  if (perFilter.length) return perFilter;
  return [asObject(asObject(route['route'])?.['cors']), asObject(vh['cors'])].filter((p): p is Plain => !!p);
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10000, MILLION: 1000000 };

export function corsDecision(policies: Plain[], request: { method: string; headers: Headers }, notes: string[] = []): CorsDecision {
  const nothing = (summary: string): CorsDecision => ({ encode: (headers) => headers, summary });
  if (!policies.length) return nothing('no policy');
  const first = <T>(read: (p: Plain) => T | undefined): T | undefined => {
    for (const policy of policies) {
      const value = read(policy);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const text = (field: string) => first((p) => (typeof p[field] === 'string' && p[field] !== '' ? (p[field] as string) : undefined));
  const bool = (field: string) => first((p) => (typeof p[field] === 'boolean' ? (p[field] as boolean) : undefined));
  const fraction = asObject(asObject(policies[0]!['filterEnabled'])?.['defaultValue']);
  if (fraction) {
    const percent = (Number(fraction['numerator'] ?? 0) * 100) / (DENOMINATORS[String(fraction['denominator'] ?? 'HUNDRED')] ?? 100);
    if (percent <= 0) return nothing('filter_enabled 0%: not enforced');
    if (percent < 100) notes.push(`CORS filter_enabled ${percent}%: modelled as always enabled`);
  }
  const origin = request.headers.get('origin');
  if (!origin) return nothing('no Origin');
  const matchers = first((p) => (asArray(p['allowOriginStringMatch']).length ? asArray(p['allowOriginStringMatch']) : undefined)) ?? [];
  const allowed = matchers.some((m) => stringMatches(m, '*') || stringMatches(m, origin));
  const credentials = bool('allowCredentials') === true;
  const exposeHeaders = text('exposeHeaders');
  const encode = (headers: Headers): Headers => {
    if (!allowed) return headers;
    const out = headers.clone();
    out.set('access-control-allow-origin', origin);
    if (credentials) out.set('access-control-allow-credentials', 'true');
    if (exposeHeaders) out.set('access-control-expose-headers', exposeHeaders);
    return out;
  };
  const requestedMethod = request.headers.get('access-control-request-method');
  if (request.method !== 'OPTIONS' || !requestedMethod) return { encode, summary: `origin ${origin} ${allowed ? 'allowed' : 'not allowed'}` };
  if (!allowed && (bool('forwardNotMatchingPreflights') ?? true)) return { encode, summary: `preflight from ${origin} not allowed: forwarded to the route` };
  const answer = new Headers();
  if (allowed) answer.set('access-control-allow-origin', origin);
  if (credentials) answer.set('access-control-allow-credentials', 'true');
  const methods = text('allowMethods');
  if (methods) answer.set('access-control-allow-methods', methods === '*' ? requestedMethod : methods);
  const allowHeaders = text('allowHeaders');
  if (allowHeaders) answer.set('access-control-allow-headers', allowHeaders === '*' ? (request.headers.get('access-control-request-headers') ?? '') : allowHeaders);
  const maxAge = text('maxAge');
  if (maxAge) answer.set('access-control-max-age', maxAge);
  return { preflight: answer, encode, summary: `preflight from ${origin} ${allowed ? 'allowed' : 'not allowed'}: Envoy answers 200` };
}

function finalize(headers: Headers, levels: Plain[], direction: 'response', leastSpecificFirst = false): Headers {
  const out = headers.clone();
  const ordered = leastSpecificFirst ? [...levels].reverse() : levels;
  for (const level of ordered) applyHeaderMutations(out, level[`${direction}HeadersToAdd`], level[`${direction}HeadersToRemove`]);
  return out;
}

function isHttp2Cluster(cluster: Plain): boolean {
  if (cluster['http2ProtocolOptions'] !== undefined) return true;
  const options = asObject(asObject(cluster['typedExtensionProtocolOptions'])?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
  const explicit = asObject(options?.['explicitHttpConfig']);
  return explicit?.['http2ProtocolOptions'] !== undefined;
}

/** The endpoints of a cluster: its ClusterLoadAssignment (EDS) or its inline load_assignment. */
export function endpointsOf(config: EnvoyConfig, clusterName: string): Endpoint[] | undefined {
  const cluster = config.clusters.get(clusterName);
  if (!cluster) return undefined;
  const assignment = cluster['type'] === 'EDS' || asObject(cluster['edsClusterConfig']) ? config.endpoints.get(String(asObject(cluster['edsClusterConfig'])?.['serviceName'] ?? clusterName)) : asObject(cluster['loadAssignment']);
  const out: Endpoint[] = [];
  for (const group of asArray(assignment?.['endpoints'])) {
    for (const lb of asArray(group['lbEndpoints'])) {
      const health = String(lb['healthStatus'] ?? 'UNKNOWN');
      if (health !== 'HEALTHY' && health !== 'UNKNOWN') continue;
      const socket = asObject(asObject(asObject(lb['endpoint'])?.['address'])?.['socketAddress']);
      if (!socket) continue;
      out.push({ address: String(socket['address']), port: Number(socket['portValue']), weight: Number(lb['loadBalancingWeight'] ?? 1) });
    }
  }
  return out;
}

/** TLS passthrough (and any TCP chain): the TCP proxy's cluster(s) of the chain chosen by SNI. */
export function resolveTls(config: EnvoyConfig, service: string, port: number, serverName: string): Resolution {
  const trace: string[] = [];
  const notes: string[] = [];
  const proxyPort = proxyPortOf(config, service, port, trace);
  if (proxyPort === undefined) return { trace, notes, connection: 'refused' };
  const listener = listenerOnPort(config, proxyPort);
  if (!listener) {
    trace.push(`no Listener on port ${proxyPort}`);
    return { trace, notes, connection: 'refused' };
  }
  const chain = selectFilterChain(listener, { destinationPort: proxyPort, serverName, transportProtocol: 'tls', applicationProtocols: [] });
  if (!chain) {
    trace.push(`no filter chain for SNI ${serverName}: connection closed`);
    return { trace, notes, connection: 'reset' };
  }
  trace.push(`Listener ${String(listener['name'])}, filter chain ${String(chain['name'] ?? '(unnamed)')}`);
  const summary = tlsSummary(chain, config);
  const tcpUpstreams = tcpTargets(config, chain);
  if (!tcpUpstreams) return { trace, notes, tls: summary };
  trace.push(`tcp proxy to ${tcpUpstreams.map((u) => u.cluster).join(', ')}`);
  return { trace, notes, tls: summary, tcpUpstreams };
}

/** The TCP proxy of a chain (TcpProxy: one cluster or weighted clusters, shares by weight). */
function tcpTargets(config: EnvoyConfig, chain: Plain): { cluster: string; share: number; endpoints?: Endpoint[] }[] | undefined {
  const tcp = asArray(chain['filters']).map((f) => asObject(f['typedConfig'])).find((c) => typeOf(c) === TCP_PROXY);
  if (!tcp) return undefined;
  const weighted = asObject(tcp['weightedClusters']);
  const entries = typeof tcp['cluster'] === 'string' ? [{ name: tcp['cluster'], weight: 1 }] : asArray(weighted?.['clusters']).map((c) => ({ name: String(c['name']), weight: Number(c['weight'] ?? 0) }));
  const total = entries.reduce((sum, e) => sum + e.weight, 0);
  return entries.map((e) => ({ cluster: e.name, share: total ? e.weight / total : 0, endpoints: endpointsOf(config, e.name) }));
}
