/**
 * Route rules -> IR routes. Resolution (backends, mirrors, filters) happens once per route; the IR
 * rules are then made per listener port, because a redirect's port and scheme default to the
 * listener's. Decisions (see also backends.ts):
 * - no backendRefs, every backend invalid, or every weight 0: the rule answers 500;
 * - some backends invalid: their weight goes to an endpoint-less cluster, so that share fails
 *   (Envoy answers 503 there: weighted clusters cannot answer directly) and the others keep theirs;
 * - ExtensionRef and other filters Tendril does not implement: the rule answers 500 and ResolvedRefs
 *   says why (the spec: requests that filter would have processed get an error, never skip it); a
 *   redirect wins over the rule's backends;
 * - a rule Envoy would refuse or the spec forbids is dropped (served nowhere) and the route says so
 *   (see RuleInvalidity): a regular expression RE2 does not compile (path, header and query matches,
 *   gRPC method matches), a header change Envoy refuses (envoy-checks.ts), the same filter twice, or
 *   a redirect with a rewrite (IncompatibleFilters);
 * - a redirect or rewrite on the only backendRef of a rule applies to the rule; on one of several
 *   backends it is refused (that share fails), since Envoy rewrites per route.
 */
import type { CorsPolicyIR, HeaderModifierIR, HttpRouteRuleIR, PathMatchIR, RequestMirrorIR, RouteMatchIR, SessionPersistenceIR, WeightedClusterIR } from '@tendril/model';
import type { FilterView, HeaderModifierView, RouteMatchView, RouteRuleView, RouteView, SessionPersistenceView } from '../../kube/routes.js';
import { defaultSessionName, gatewayRuleName } from '../../names.js';
import type { BackendResolver, ResolvedRefsReason } from './backends.js';
import { headerModifierProblems, regexProblem } from '../../envoy-checks.js';

export interface RouteProblem {
  reason: ResolvedRefsReason;
  message: string;
}

/**
 * Why a rule is dropped: its route's Accepted condition (when no rule stands) or PartiallyInvalid
 * condition (when others do) gives the reason; the message names the field.
 */
export interface RuleInvalidity {
  reason: 'UnsupportedValue' | 'IncompatibleFilters';
  message: string;
}

export interface ResolvedRule {
  index: number;
  view: RouteRuleView;
  /** Set when the rule answers 500 whatever the request. */
  refused?: string;
  /** Set when the rule is dropped: no IR route is made of it. */
  invalid?: RuleInvalidity;
  backends: WeightedClusterIR[];
  mirrors: RequestMirrorIR[];
  requestHeaders?: HeaderModifierIR;
  responseHeaders?: HeaderModifierIR;
  redirect?: Extract<FilterView, { type: 'RequestRedirect' }>;
  cors?: CorsPolicyIR;
  rewrite?: Extract<FilterView, { type: 'URLRewrite' }>;
}

export interface ResolvedRoute {
  rules: ResolvedRule[];
  /** In rule order; the first decides the ResolvedRefs reason. */
  problems: RouteProblem[];
  /** TLSRoute: the weighted clusters of every rule. */
  tcpBackends: WeightedClusterIR[];
  /** TCPRoute, UDPRoute: the Service ports of every rule, by weight (l4-routes.ts). */
  l4?: L4BackendRef[];
}

/** A TCPRoute's or UDPRoute's backendRef, resolved to a Service port of the route's protocol. */
export interface L4BackendRef {
  namespace: string;
  name: string;
  port: number;
  weight: number;
}

export function resolveRoute(route: RouteView, resolver: BackendResolver): ResolvedRoute {
  const problems: RouteProblem[] = [];
  const rules = route.rules.map((view, index) => resolveRule(route, view, index, resolver, problems));
  const tcpBackends = rules.filter((rule) => !rule.invalid).flatMap((rule) => rule.backends);
  return { rules, problems, tcpBackends };
}

/**
 * Gateway API CORS -> Envoy's policy (HTTPCORSFilter in apis/v1/httproute_types.go):
 * - an origin of `*` allows every origin; `*` in the host (`https://*.foo.com`) is a greedy match of any
 *   number of labels to its left: both become regexes, and Envoy echoes the allowed Origin;
 * - "if not included, port 80 is assumed for http scheme origins, and port 443 for https": an origin
 *   without a port also allows the same origin with the scheme's default port, and the reverse;
 * - maxAge unset: "the gateway sets the response header Access-Control-Max-Age: 5" (the CRD's default);
 * - `*` in methods or headers is passed on as `*` (Envoy answers with the requested method/headers).
 */
function toCors(filter: Extract<FilterView, { type: 'CORS' }>): CorsPolicyIR {
  const allowOrigins = filter.allowOrigins.flatMap(originMatchers);
  const cors: CorsPolicyIR = { allowOrigins, allowMethods: [...filter.allowMethods], allowHeaders: [...filter.allowHeaders], exposeHeaders: [...filter.exposeHeaders] };
  cors.maxAgeSeconds = filter.maxAge ?? DEFAULT_CORS_MAX_AGE;
  if (filter.allowCredentials !== undefined) cors.allowCredentials = filter.allowCredentials;
  return cors;
}

const DEFAULT_CORS_MAX_AGE = 5;

/** The matchers of one allowed origin: `<scheme>://<host>(:<port>)`, its port optional when it is the scheme's default. */
function originMatchers(origin: string): CorsPolicyIR['allowOrigins'] {
  if (origin === '*') return [{ kind: 'regex', value: '.*' }];
  const parts = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.+?)(?::(\d+))?$/.exec(origin);
  const defaultPort = parts ? DEFAULT_PORTS[parts[1]!.toLowerCase()] : undefined;
  if (!parts || !defaultPort || (parts[3] !== undefined && Number(parts[3]) !== defaultPort)) {
    return [origin.includes('*') ? { kind: 'regex', value: wildcardRegex(origin) } : { kind: 'exact', value: origin }];
  }
  const bare = `${parts[1]}://${parts[2]}`;
  if (origin.includes('*')) return [{ kind: 'regex', value: `${wildcardRegex(bare)}(?::${defaultPort})?` }];
  return [
    { kind: 'exact', value: bare },
    { kind: 'exact', value: `${bare}:${defaultPort}` },
  ];
}

const wildcardRegex = (origin: string) => origin.split('*').map(escapeRegex).join('.*');

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toModifier(view: HeaderModifierView): HeaderModifierIR {
  return { set: view.set.map((h) => ({ ...h })), add: view.add.map((h) => ({ ...h })), remove: [...view.remove] };
}

function resolveRule(route: RouteView, view: RouteRuleView, index: number, resolver: BackendResolver, problems: RouteProblem[]): ResolvedRule {
  const rule: ResolvedRule = { index, view, backends: [], mirrors: [] };
  const refuse = (message: string) => {
    rule.refused ??= message;
    problems.push({ reason: 'InvalidKind', message });
  };
  const drop = (reason: RuleInvalidity['reason'], message: string) => {
    rule.invalid ??= { reason, message };
  };
  view.matches.forEach((match, i) => {
    for (const [field, pattern] of matchRegexes(route.kind, match)) {
      const problem = regexProblem(pattern);
      if (problem) drop('UnsupportedValue', `${view.at}.matches[${i}]${field}: ${problem}`);
    }
  });
  const checkHeaders = (at: string, modifier: HeaderModifierView) => {
    const first = headerModifierProblems(modifier)[0];
    if (first) drop('UnsupportedValue', `${at}: ${first}`);
  };
  // A lone backend's redirect or rewrite applies to the whole rule (Envoy rewrites per route, not
  // per weighted cluster); with several backends such filters are refused below.
  const lone = view.backendRefs.length === 1 ? view.backendRefs[0]! : undefined;
  const lifted: FilterView[] = (lone?.filters ?? []).filter((filter) => filter.type === 'RequestRedirect' || filter.type === 'URLRewrite');
  const seen = new Set<string>();
  for (const filter of [...view.filters, ...lifted]) {
    if (filter.type !== 'RequestMirror' && filter.type !== 'Unsupported' && seen.has(filter.type)) drop('IncompatibleFilters', `${filter.at}: ${filter.type} may appear once per rule`);
    seen.add(filter.type);
    switch (filter.type) {
      case 'RequestHeaderModifier':
        checkHeaders(`${filter.at}.requestHeaderModifier`, filter.modifier);
        rule.requestHeaders = toModifier(filter.modifier);
        break;
      case 'ResponseHeaderModifier':
        checkHeaders(`${filter.at}.responseHeaderModifier`, filter.modifier);
        rule.responseHeaders = toModifier(filter.modifier);
        break;
      case 'RequestRedirect':
        rule.redirect = filter;
        break;
      case 'URLRewrite':
        rule.rewrite = filter;
        break;
      case 'RequestMirror': {
        const result = resolver.resolve(route.kind, route.namespace, filter.backendRef);
        if (result.ok) rule.mirrors.push({ clusterName: result.clusterName, ...(filter.percent !== undefined ? { percent: filter.percent } : {}) });
        else problems.push({ reason: result.reason, message: result.message });
        break;
      }
      case 'CORS':
        rule.cors = toCors(filter);
        break;
      case 'Unsupported':
        refuse(`${filter.at}: filter ${filter.name} is not supported`);
        break;
    }
  }
  if (rule.redirect && rule.rewrite) drop('IncompatibleFilters', `${view.at}.filters: RequestRedirect and URLRewrite cannot be combined`);
  let invalidWeight = 0;
  for (const backend of view.backendRefs) {
    const result = route.kind === 'TLSRoute' || route.kind === 'HTTPRoute' || route.kind === 'GRPCRoute' ? resolver.resolve(route.kind, route.namespace, backend) : undefined;
    if (!result?.ok) {
      if (result) problems.push({ reason: result.reason, message: result.message });
      invalidWeight += backend.weight;
      continue;
    }
    const weighted: WeightedClusterIR = { clusterName: result.clusterName, weight: backend.weight };
    let usable = true;
    for (const filter of backend.filters) {
      if (lifted.includes(filter)) continue;
      if (filter.type === 'RequestHeaderModifier') {
        checkHeaders(`${filter.at}.requestHeaderModifier`, filter.modifier);
        weighted.requestHeaders = toModifier(filter.modifier);
      } else if (filter.type === 'ResponseHeaderModifier') {
        checkHeaders(`${filter.at}.responseHeaderModifier`, filter.modifier);
        weighted.responseHeaders = toModifier(filter.modifier);
      } else {
        problems.push({ reason: 'InvalidKind', message: `${filter.at}: filter ${filter.type === 'Unsupported' ? filter.name : filter.type} on a backendRef is not supported` });
        usable = false;
      }
    }
    if (usable) rule.backends.push(weighted);
    else invalidWeight += backend.weight;
  }
  if (invalidWeight > 0 && rule.backends.some((backend) => backend.weight > 0)) rule.backends.push({ clusterName: resolver.invalidCluster(), weight: invalidWeight });
  return rule;
}

/** Where the rule is served: the listener's port and scheme (defaults of a redirect). */
export interface ListenerContext {
  port: number;
  scheme: 'http' | 'https';
}

/** The regular expressions of a match, with the field each is in (path, headers, query parameters; a gRPC method match is a path). */
function matchRegexes(kind: RouteView['kind'], match: RouteMatchView): [string, string][] {
  const out: [string, string][] = [];
  if (match.path.type === 'RegularExpression') out.push([kind === 'GRPCRoute' ? '.method' : '.path.value', match.path.value]);
  match.headers.forEach((header, i) => header.type === 'RegularExpression' && out.push([`.headers[${i}].value`, header.value]));
  match.queryParams.forEach((query, i) => query.type === 'RegularExpression' && out.push([`.queryParams[${i}].value`, query.value]));
  return out;
}

/** The IR routes of one resolved rule: one per match, in match order; none for a dropped rule. */
export function toRuleIRs(route: RouteView, rule: ResolvedRule, listener: ListenerContext): HttpRouteRuleIR[] {
  if (rule.invalid) return [];
  return rule.view.matches.map((match, matchIndex) => {
    const name = gatewayRuleName(route.namespace, route.kind, route.name, `${rule.view.at}.matches[${matchIndex}]`);
    const out: HttpRouteRuleIR = { name, match: toMatch(match), action: toAction(rule, match, listener) };
    if (rule.requestHeaders && out.action.kind !== 'direct-response') out.requestHeaders = rule.requestHeaders;
    if (rule.responseHeaders && out.action.kind !== 'direct-response') out.responseHeaders = rule.responseHeaders;
    if (rule.cors && out.action.kind !== 'direct-response') out.cors = rule.cors;
    const session = rule.view.sessionPersistence;
    if (session && out.action.kind === 'forward') out.sessionPersistence = toSession(session, defaultSessionName(route.namespace, route.kind, route.name, rule.view.at));
    return out;
  });
}

/**
 * Gateway API sessionPersistence -> where Envoy keeps the session. The name is the cookie's or the
 * header's (`cookie.name` / `header.name`, or `sessionName` as releases before 1.3 spell it), else one
 * unique to the rule. A `Permanent` cookie lives for absoluteTimeout; a `Session` cookie (the default)
 * until the browser session ends. Envoy's sessions have no idle timeout and do not expire a session
 * cookie on their own: idleTimeout, and absoluteTimeout of a `Session` cookie, are not honoured.
 */
function toSession(session: SessionPersistenceView, fallbackName: string): SessionPersistenceIR {
  const name = session.name ?? fallbackName;
  if (session.type === 'Header') return { kind: 'header', name };
  const cookie: SessionPersistenceIR = { kind: 'cookie', name, path: session.path ?? '/' };
  if (session.lifetimeType === 'Permanent' && session.absoluteTimeoutMs !== undefined) cookie.ttlSeconds = Math.max(1, Math.ceil(session.absoluteTimeoutMs / 1000));
  return cookie;
}

export function toMatch(match: RouteMatchView): RouteMatchIR {
  const out: RouteMatchIR = { path: toPath(match.path) };
  if (match.headers.length) out.headers = match.headers.map((h) => ({ name: h.name.toLowerCase(), kind: h.type === 'Exact' ? 'exact' : 'regex', value: h.value }));
  if (match.queryParams.length) out.queryParameters = match.queryParams.map((q) => ({ name: q.name, kind: q.type === 'Exact' ? 'exact' : 'regex', value: q.value }));
  if (match.method) out.method = match.method;
  return out;
}

function toPath(path: RouteMatchView['path']): PathMatchIR {
  switch (path.type) {
    case 'Exact':
      return { kind: 'exact', value: path.value };
    case 'PathPrefix':
      return { kind: 'segment-prefix', value: path.value };
    case 'StringPrefix':
      return { kind: 'prefix', value: path.value };
    case 'RegularExpression':
      return { kind: 'regex', value: path.value };
  }
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

function toAction(rule: ResolvedRule, match: RouteMatchView, listener: ListenerContext): HttpRouteRuleIR['action'] {
  if (rule.refused) return { kind: 'direct-response', status: 500 };
  const redirect = rule.redirect;
  if (redirect) {
    const statusCode = (REDIRECT_CODES as readonly number[]).includes(redirect.statusCode) ? (redirect.statusCode as (typeof REDIRECT_CODES)[number]) : 302;
    const action: Extract<HttpRouteRuleIR['action'], { kind: 'redirect' }> = { kind: 'redirect', statusCode };
    const scheme = redirect.scheme === 'http' || redirect.scheme === 'https' ? redirect.scheme : undefined;
    if (scheme) action.scheme = scheme;
    if (redirect.hostname) action.hostname = redirect.hostname;
    // The spec's port rule: the filter's port, else the well-known port of a scheme it sets, else the listener's.
    const port = redirect.port ?? (scheme ? DEFAULT_PORTS[scheme] : listener.port);
    if (port !== undefined) action.port = port;
    if (redirect.path?.type === 'ReplaceFullPath') action.fullPath = redirect.path.value;
    if (redirect.path?.type === 'ReplacePrefixMatch' && match.path.type === 'PathPrefix') action.pathPrefix = redirect.path.value;
    return action;
  }
  const live = rule.backends.filter((backend) => backend.weight > 0);
  if (live.length === 0) return { kind: 'direct-response', status: 500 };
  const action: Extract<HttpRouteRuleIR['action'], { kind: 'forward' }> = { kind: 'forward', backends: rule.backends.map((backend) => ({ ...backend })) };
  const { requestMs, backendRequestMs } = rule.view.timeouts;
  if (requestMs !== undefined) action.timeoutMs = requestMs;
  const retry = rule.view.retry;
  if (retry || backendRequestMs !== undefined) {
    const retryOn = retry ? ['connect-failure', 'refused-stream', 'reset', ...(retry.codes.length ? ['retriable-status-codes'] : [])] : [];
    action.retry = { retryOn, numRetries: retry ? (retry.attempts ?? 1) : 0 };
    if (retry?.codes.length) action.retry.retriableStatusCodes = [...retry.codes];
    if (retry?.backoffMs !== undefined) action.retry.backoffMs = retry.backoffMs;
    if (backendRequestMs !== undefined) action.retry.perTryTimeoutMs = backendRequestMs;
  }
  if (rule.mirrors.length) action.mirrors = rule.mirrors.map((mirror) => ({ ...mirror }));
  const rewrite = rule.rewrite;
  if (rewrite) {
    action.rewrite = {};
    if (rewrite.hostname) action.rewrite.hostname = rewrite.hostname;
    if (rewrite.path?.type === 'ReplaceFullPath') action.rewrite.fullPath = rewrite.path.value;
    if (rewrite.path?.type === 'ReplacePrefixMatch' && match.path.type === 'PathPrefix') action.rewrite.pathPrefix = rewrite.path.value;
  }
  return action;
}
