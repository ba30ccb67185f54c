/** HTTPRoute, GRPCRoute, TLSRoute, TCPRoute and UDPRoute: the schemas and rules of the standard channel's v1. */
import { enumOf } from './enums.js';
import {
  SERVICE_NEEDS_PORT,
  UNIQUE_RULE_NAMES,
  backendObjectReference,
  filterFieldRules,
  headerValue,
  group,
  headerFilter,
  headerName,
  hostname,
  hostnames,
  kind,
  localObjectReference,
  namespaceName,
  notRepeated,
  objectName,
  parentRefs,
  portNumber,
  preciseHostname,
  requestMirror,
  resource,
  ruleName,
  weightedBackendRef,
  duration,
} from './common.js';
import { boolean, integer, keyedList, list, object, required, rule, set, string, withRules, type StructuralSchema } from '../structural/schema.js';

/** At most 128 matches over all rules (16 rules of up to 64 matches each are allowed one by one). */
function totalMatchesRule(matchesMayBeAbsent: boolean) {
  const terms = Array.from({ length: 16 }, (_, position) => {
    const count = matchesMayBeAbsent ? `(has(self[${position}].matches) ? self[${position}].matches.size() : 0)` : `self[${position}].matches.size()`;
    return `(self.size() > ${position} ? ${count} : 0)`;
  });
  return rule(`${terms.join(' + ')} <= 128`, 'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128');
}

function headerMatch(experimental: boolean): StructuralSchema {
  return object({ type: enumOf(['Exact', 'RegularExpression'], 'Exact'), name: required(headerName), value: required(headerValue(experimental)) });
}
const queryParamMatch = object({ type: enumOf(['Exact', 'RegularExpression'], 'Exact'), name: required(headerName), value: required(string({ minLength: 1, maxLength: 1024 })) });

const EXACT_OR_PREFIX = "(self.type in ['Exact','PathPrefix'])";
const PATH_CHARACTERS = "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";
const FOR_EXACT_OR_PREFIX = "when type one of ['Exact', 'PathPrefix']";

const pathMatch = withRules(
  object({ type: enumOf(['Exact', 'PathPrefix', 'RegularExpression'], 'PathPrefix'), value: string({ maxLength: 1024, default: '/' }) }, { default: { type: 'PathPrefix', value: '/' } }),
  rule(`${EXACT_OR_PREFIX} ? self.value.startsWith('/') : true`, `value must be an absolute path and start with '/' ${FOR_EXACT_OR_PREFIX}`),
  ...['//', '/./', '/../', '%2f', '%2F', '#'].map((part) => rule(`${EXACT_OR_PREFIX} ? !self.value.contains('${part}') : true`, `must not contain '${part}' ${FOR_EXACT_OR_PREFIX}`)),
  ...['/..', '/.'].map((end) => rule(`${EXACT_OR_PREFIX} ? !self.value.endsWith('${end}') : true`, `must not end with '${end}' ${FOR_EXACT_OR_PREFIX}`)),
  rule("self.type in ['Exact','PathPrefix'] || self.type == 'RegularExpression'", "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']"),
  rule(`${EXACT_OR_PREFIX} ? self.value.matches(r"""${PATH_CHARACTERS}""") : true`, `must only contain valid characters (matching ${PATH_CHARACTERS}) for types ['Exact', 'PathPrefix']`),
);

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const httpRouteMatch = (experimental: boolean) => object({
  path: pathMatch,
  headers: keyedList(headerMatch(experimental), ['name'], { maxItems: 16 }),
  queryParams: keyedList(queryParamMatch, ['name'], { maxItems: 16 }),
  method: enumOf(HTTP_METHODS),
});

const pathModifier = withRules(
  object({ type: required(enumOf(['ReplaceFullPath', 'ReplacePrefixMatch'])), replaceFullPath: string({ maxLength: 1024 }), replacePrefixMatch: string({ maxLength: 1024 }) }),
  rule("self.type == 'ReplaceFullPath' ? has(self.replaceFullPath) : true", "replaceFullPath must be specified when type is set to 'ReplaceFullPath'"),
  rule("has(self.replaceFullPath) ? self.type == 'ReplaceFullPath' : true", "type must be 'ReplaceFullPath' when replaceFullPath is set"),
  rule("self.type == 'ReplacePrefixMatch' ? has(self.replacePrefixMatch) : true", "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"),
  rule("has(self.replacePrefixMatch) ? self.type == 'ReplacePrefixMatch' : true", "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"),
);

const requestRedirect = object({
  scheme: enumOf(['http', 'https']),
  hostname: preciseHostname,
  path: pathModifier,
  port: portNumber,
  statusCode: enumOf([301, 302, 303, 307, 308], 302),
});

const urlRewrite = object({ hostname: preciseHostname, path: pathModifier });

function noWildcardBesides(what: string, others: string) {
  return rule("!('*' in self && self.size() > 1)", `${what} cannot contain '*' alongside other ${others}`);
}

const corsHeaderName = string({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$" });
const ORIGIN_PATTERN = '(^\\*$)|(^(http(s)?):\\/\\/(((\\*\\.)?([a-zA-Z0-9\\-]+\\.)*[a-zA-Z0-9-]+|\\*)(:([0-9]{1,5}))?)$)';

const cors = object({
  allowOrigins: withRules(set(string({ minLength: 1, maxLength: 253, pattern: ORIGIN_PATTERN }), { maxItems: 64 }), noWildcardBesides('AllowOrigins', 'origins')),
  allowCredentials: boolean(),
  allowMethods: withRules(set(enumOf([...HTTP_METHODS, '*']), { maxItems: 9 }), noWildcardBesides('AllowMethods', 'methods')),
  allowHeaders: withRules(set(corsHeaderName, { maxItems: 64 }), noWildcardBesides('AllowHeaders', 'methods')),
  exposeHeaders: set(corsHeaderName, { maxItems: 64 }),
  maxAge: integer({ minimum: 1, default: 5 }),
});

const PATH_PATTERN = "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";

/** The experimental channel's ExternalAuth filter: an HTTP or gRPC authorization service. */
const externalAuth = withRules(
  object({
    protocol: required(enumOf(['HTTP', 'GRPC'])),
    backendRef: required(backendObjectReference),
    grpc: object({ allowedHeaders: set(string(), { maxItems: 64 }) }),
    http: object({ path: string({ maxLength: 1024, pattern: PATH_PATTERN }), allowedHeaders: set(string(), { maxItems: 64 }), allowedResponseHeaders: set(string(), { maxItems: 64 }) }),
    forwardBody: object({ maxSize: integer({ minimum: 0 }) }),
  }),
  rule("self.protocol == 'GRPC' ? has(self.grpc) : true", "grpc must be specified when protocol is set to 'GRPC'"),
  rule("has(self.grpc) ? self.protocol == 'GRPC' : true", "protocol must be 'GRPC' when grpc is set"),
  rule("self.protocol == 'HTTP' ? has(self.http) : true", "http must be specified when protocol is set to 'HTTP'"),
  rule("has(self.http) ? self.protocol == 'HTTP' : true", "protocol must be 'HTTP' when http is set"),
);

function httpRouteFilter(experimental: boolean): StructuralSchema {
  const types = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef', 'CORS', ...(experimental ? ['ExternalAuth'] : [])];
  const fields: Record<string, StructuralSchema> = {
    type: required(enumOf(types)),
    requestHeaderModifier: headerFilter(experimental),
    responseHeaderModifier: headerFilter(experimental),
    requestMirror,
    requestRedirect,
    urlRewrite,
    cors,
    extensionRef: localObjectReference,
  };
  if (experimental) fields['externalAuth'] = externalAuth;
  return withRules(
    object(fields),
    ...filterFieldRules({
      cors: 'CORS',
      requestHeaderModifier: 'RequestHeaderModifier',
      responseHeaderModifier: 'ResponseHeaderModifier',
      requestMirror: 'RequestMirror',
      requestRedirect: 'RequestRedirect',
      urlRewrite: 'URLRewrite',
      extensionRef: 'ExtensionRef',
      ...(experimental ? { externalAuth: 'ExternalAuth' } : {}),
    }),
  );
}

const httpRouteFilters = (experimental: boolean) => withRules(
  list(httpRouteFilter(experimental), { maxItems: 16 }),
  rule("!(self.exists(f, f.type == 'RequestRedirect') && self.exists(f, f.type == 'URLRewrite'))", 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both'),
  ...['CORS', 'RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'].map(notRepeated),
);

function backendRef(filters: StructuralSchema): StructuralSchema {
  return withRules(
    object({ group: group(''), kind: kind('Service'), name: required(objectName), namespace: namespaceName, port: portNumber, weight: integer({ minimum: 0, maximum: 1000000, default: 1 }), filters }),
    SERVICE_NEEDS_PORT,
  );
}

/** A path-prefix replacement needs exactly one PathPrefix match in its rule. */
function prefixReplacementRule(filter: 'requestRedirect' | 'urlRewrite', withinBackendRefs: boolean) {
  const uses = (filters: string) => `${filters}.exists_one(f, has(f.${filter}) && has(f.${filter}.path) && f.${filter}.path.type == 'ReplacePrefixMatch' && has(f.${filter}.path.replacePrefixMatch))`;
  const condition = withinBackendRefs ? `(has(self.backendRefs) && self.backendRefs.exists_one(b, (has(b.filters) && ${uses('b.filters')}) ))` : `(has(self.filters) && ${uses('self.filters')})`;
  const name = filter === 'requestRedirect' ? 'RequestRedirect' : 'URLRewrite';
  const message = withinBackendRefs
    ? `Within backendRefs, ${filter === 'requestRedirect' ? 'when' : 'When'} using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`
    : `When using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`;
  return rule(`${condition} ? ((size(self.matches) != 1 || !has(self.matches[0].path) || self.matches[0].path.type != 'PathPrefix') ? false : true) : true`, message);
}

/** The experimental channel's sessionPersistence of a rule. */
const sessionPersistence = withRules(
  object({
    absoluteTimeout: duration,
    type: enumOf(['Cookie', 'Header'], 'Cookie'),
    cookie: object({ lifetimeType: enumOf(['Permanent', 'Session'], 'Session'), name: corsHeaderName, path: string({ maxLength: 1024, default: '/' }) }),
    header: object({ name: required(corsHeaderName) }),
  }),
  rule("!has(self.cookie) || !has(self.cookie.lifetimeType) || self.cookie.lifetimeType != 'Permanent' || has(self.absoluteTimeout)", 'AbsoluteTimeout must be specified when cookie lifetimeType is Permanent'),
  rule("!has(self.cookie) || self.type == 'Cookie'", 'cookie must be nil if type is not Cookie'),
  rule("self.type != 'Cookie' || has(self.cookie)", 'cookie must be specified for Cookie type'),
  rule("!has(self.header) || self.type == 'Header'", 'header must be nil if type is not Header'),
  rule("self.type != 'Header' || has(self.header)", 'header must be specified for Header type'),
);

const retry = object({ codes: set(integer({ minimum: 400, maximum: 599 })), attempts: integer({ minimum: 1 }), backoff: duration });

function experimentalRuleFields(experimental: boolean, withRetry: boolean): Record<string, StructuralSchema> {
  if (!experimental) return {};
  return withRetry ? { sessionPersistence, retry } : { sessionPersistence };
}

const httpRouteRule = (experimental: boolean) => withRules(
  object({
    ...experimentalRuleFields(experimental, true),
    name: ruleName,
    matches: list(httpRouteMatch(experimental), { maxItems: 64, default: [{ path: { type: 'PathPrefix', value: '/' } }] }),
    filters: httpRouteFilters(experimental),
    backendRefs: list(backendRef(httpRouteFilters(experimental)), { maxItems: 16 }),
    timeouts: withRules(
      object({ request: duration, backendRequest: duration }),
      rule(
        "!(has(self.request) && has(self.backendRequest) && duration(self.request) != duration('0s') && duration(self.backendRequest) > duration(self.request))",
        'backendRequest timeout cannot be longer than request timeout',
      ),
    ),
  }),
  rule("(has(self.backendRefs) && size(self.backendRefs) > 0) ? (!has(self.filters) || self.filters.all(f, !has(f.requestRedirect))): true", 'RequestRedirect filter must not be used together with backendRefs'),
  prefixReplacementRule('requestRedirect', false),
  prefixReplacementRule('urlRewrite', false),
  prefixReplacementRule('requestRedirect', true),
  prefixReplacementRule('urlRewrite', true),
);

/** Fields every route of the experimental channel has. */
function experimentalRouteFields(experimental: boolean): Record<string, StructuralSchema> {
  return experimental ? { useDefaultGateways: enumOf(['All', 'None']) } : {};
}

function routeRules(rules: StructuralSchema, experimental: boolean, ...extra: ReturnType<typeof rule>[]): StructuralSchema {
  return withRules(rules, ...extra, ...(experimental ? [UNIQUE_RULE_NAMES] : []));
}

export function httpRouteSchema(experimental: boolean): StructuralSchema {
  const rules = list(httpRouteRule(experimental), { minItems: 1, maxItems: 16, default: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] });
  return resource(object({ ...experimentalRouteFields(experimental), parentRefs: parentRefs(experimental), hostnames, rules: routeRules(rules, experimental, totalMatchesRule(false)) }));
}

const grpcMethodMatch = withRules(
  object({ type: enumOf(['Exact', 'RegularExpression'], 'Exact'), service: string({ maxLength: 1024 }), method: string({ maxLength: 1024 }) }),
  rule('has(self.type) ? has(self.service) || has(self.method) : true', "One or both of 'service' or 'method' must be specified"),
  rule(
    `(!has(self.type) || self.type == 'Exact') && has(self.service) ? self.service.matches(r"""^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$"""): true`,
    'service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)',
  ),
  rule(`(!has(self.type) || self.type == 'Exact') && has(self.method) ? self.method.matches(r"""^[A-Za-z_][A-Za-z_0-9]*$"""): true`, 'method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)'),
);

const grpcRouteFilter = (experimental: boolean) => withRules(
  object({
    type: required(enumOf(['ResponseHeaderModifier', 'RequestHeaderModifier', 'RequestMirror', 'ExtensionRef'])),
    requestHeaderModifier: headerFilter(experimental),
    responseHeaderModifier: headerFilter(experimental),
    requestMirror,
    extensionRef: localObjectReference,
  }),
  ...filterFieldRules({ requestHeaderModifier: 'RequestHeaderModifier', responseHeaderModifier: 'ResponseHeaderModifier', requestMirror: 'RequestMirror', extensionRef: 'ExtensionRef' }),
);

const grpcRouteFilters = (experimental: boolean) => withRules(list(grpcRouteFilter(experimental), { maxItems: 16 }), ...['RequestHeaderModifier', 'ResponseHeaderModifier'].map(notRepeated));

const grpcRouteRule = (experimental: boolean) =>
  object({
    ...experimentalRuleFields(experimental, false),
    name: ruleName,
    matches: list(object({ method: grpcMethodMatch, headers: keyedList(headerMatch(false), ['name'], { maxItems: 16 }) }), { maxItems: 64 }),
    filters: grpcRouteFilters(experimental),
    backendRefs: list(backendRef(grpcRouteFilters(experimental)), { maxItems: 16 }),
  });

export function grpcRouteSchema(experimental: boolean): StructuralSchema {
  const rules = list(grpcRouteRule(experimental), { maxItems: 16 });
  return resource(object({ ...experimentalRouteFields(experimental), parentRefs: parentRefs(experimental), hostnames, rules: routeRules(rules, experimental, totalMatchesRule(true)) }));
}

const RFC1123 = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$';

const tlsRouteHostnames = withRules(
  list(hostname, { minItems: 1, maxItems: 1024 }),
  rule('self.all(h, !isIP(h))', 'Hostnames cannot contain an IP'),
  rule(`self.all(h, !h.contains('*') ? h.matches('${RFC1123}') : true)`, 'Hostnames must be valid based on RFC-1123'),
  rule(
    `self.all(h, h.contains('*') ? (h.startsWith('*.') && h.substring(2).matches('${RFC1123}')) : true)`,
    'Wildcards on hostnames must be the first label, and the rest of hostname must be valid based on RFC-1123',
  ),
);

/**
 * The rules of TLS, TCP and UDP routes: one rule of backends in v1; up to 16 named rules in
 * v1alpha2 (served by the experimental channel only).
 */
function layer4Rules(alpha: boolean): StructuralSchema {
  const rules = list(object({ name: ruleName, backendRefs: required(list(weightedBackendRef, { minItems: 1, maxItems: 16 })) }), { minItems: 1, maxItems: alpha ? 16 : 1 });
  return alpha ? withRules(rules, UNIQUE_RULE_NAMES) : rules;
}

/** TLSRoute at v1 (`alpha`: v1alpha2, whose hostnames are optional and unchecked by CEL). */
export function tlsRouteSchema(experimental: boolean, alpha = false): StructuralSchema {
  const names = alpha ? list(hostname, { maxItems: 1024 }) : required(tlsRouteHostnames);
  return resource(object({ ...experimentalRouteFields(experimental), parentRefs: parentRefs(experimental), hostnames: names, rules: required(layer4Rules(alpha)) }));
}

/** TCPRoute or UDPRoute (their schemas are the same). */
export function layer4RouteSchema(experimental: boolean, alpha = false): StructuralSchema {
  return resource(object({ ...experimentalRouteFields(experimental), parentRefs: parentRefs(experimental), rules: required(layer4Rules(alpha)) }));
}
