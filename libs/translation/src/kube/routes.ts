/**
 * Gateway API routes (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute) read into one shape: parentRefs, hostnames and
 * rules (matches, filters, backendRefs, timeouts, retry), with the CRDs' defaults: parentRef group
 * gateway.networking.k8s.io and kind Gateway, a match of PathPrefix `/` when a rule has none, backend
 * weight 1, header and path match type Exact / PathPrefix. A GRPCRoute's service/method match becomes
 * the path match gRPC puts on the wire (`/<service>/<method>`).
 */
import type { IndexedObject } from '../objects.js';
import type { Problems } from '../problems.js';
import { parseDurationMs } from '../annotations.js';
import { FieldReader, type Json } from './fields.js';
import { GATEWAY_GROUP, readMeta, type GatewayApiMeta } from './gateway-api.js';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute' | 'UDPRoute';

/** Routes of whole connections (or datagrams): no matches, filters or request defaults. */
export function isStreamRoute(kind: RouteKind): boolean {
  return kind === 'TLSRoute' || kind === 'TCPRoute' || kind === 'UDPRoute';
}

/** Routes the eBPF datapath load-balances (TCPRoute, UDPRoute): no Envoy on their path. */
export function isL4Route(kind: RouteKind): kind is 'TCPRoute' | 'UDPRoute' {
  return kind === 'TCPRoute' || kind === 'UDPRoute';
}

export interface ParentRefView {
  group: string;
  kind: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
  /** As written, with group and kind defaulted (what the API server stores, echoed in status). */
  echo: Record<string, unknown>;
}

export interface BackendRefView {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  port?: number;
  weight: number;
  filters: FilterView[];
  at: string;
}

export interface HeaderModifierView {
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

export type FilterView =
  | { type: 'RequestHeaderModifier' | 'ResponseHeaderModifier'; modifier: HeaderModifierView; at: string }
  | { type: 'RequestRedirect'; scheme?: string; hostname?: string; port?: number; path?: PathModifierView; statusCode: number; at: string }
  | { type: 'URLRewrite'; hostname?: string; path?: PathModifierView; at: string }
  | { type: 'RequestMirror'; backendRef: BackendRefView; percent?: number; at: string }
  | { type: 'CORS'; allowOrigins: string[]; allowMethods: string[]; allowHeaders: string[]; exposeHeaders: string[]; allowCredentials?: boolean; maxAge?: number; at: string }
  /** ExtensionRef and anything else: refused (the rule answers 500 and the status says why). */
  | { type: 'Unsupported'; name: string; at: string };

export interface PathModifierView {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  value: string;
}

export type PathMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression' | 'StringPrefix';

export interface RouteMatchView {
  path: { type: PathMatchType; value: string };
  headers: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  queryParams: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  method?: string;
}

/**
 * A rule's sessionPersistence (Gateway API experimental channel): requests of one session go to the
 * same backend endpoint, remembered in a cookie (the default) or a header named `sessionName`.
 */
export interface SessionPersistenceView {
  type: 'Cookie' | 'Header';
  /** `cookie.name` or `header.name`, else `sessionName` (the spelling of releases before 1.3). */
  name?: string;
  /** Cookie only: its Path attribute (`cookie.path`). */
  path?: string;
  absoluteTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Cookie only: `Permanent` cookies expire after absoluteTimeout; `Session` cookies (the default) with the browser session. */
  lifetimeType: 'Permanent' | 'Session';
  at: string;
}

export interface RouteRuleView {
  name?: string;
  /** At least one (a rule without matches matches every request). */
  matches: RouteMatchView[];
  filters: FilterView[];
  backendRefs: BackendRefView[];
  timeouts: { requestMs?: number; backendRequestMs?: number };
  retry?: { codes: number[]; attempts?: number; backoffMs?: number };
  sessionPersistence?: SessionPersistenceView;
  at: string;
}

export interface RouteView extends GatewayApiMeta {
  kind: RouteKind;
  parentRefs: ParentRefView[];
  hostnames: string[];
  rules: RouteRuleView[];
}

export function readRoute(kind: RouteKind, entry: IndexedObject, problems: Problems): RouteView {
  const read = new FieldReader(problems, entry.source);
  const spec = read.object(entry.object['spec'], 'spec') ?? {};
  const view: RouteView = { ...readMeta(entry, read), kind, parentRefs: [], hostnames: [], rules: [] };
  read.array(spec['parentRefs'], 'spec.parentRefs').forEach((item, i) => {
    const parent = readParentRef(read, item, `spec.parentRefs[${i}]`);
    if (parent) view.parentRefs.push(parent);
  });
  read.array(spec['hostnames'], 'spec.hostnames').forEach((item, i) => {
    const host = read.string(item, `spec.hostnames[${i}]`);
    if (host) view.hostnames.push(host.toLowerCase());
  });
  read.array(spec['rules'], 'spec.rules').forEach((item, i) => {
    const at = `spec.rules[${i}]`;
    const rule = read.object(item, at);
    if (!rule) return;
    view.rules.push(readRule(read, kind, rule, at));
  });
  if (!isStreamRoute(kind) && view.rules.length === 0) view.rules.push({ matches: [ANY_PATH()], filters: [], backendRefs: [], timeouts: {}, at: 'spec.rules' });
  return view;
}

const ANY_PATH = (): RouteMatchView => ({ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] });

/** An object with a required `name` (a parentRef, a backendRef). */
function readNamed(read: FieldReader, value: unknown, at: string): { object: Json; name: string } | undefined {
  const object = read.object(value, at);
  const name = read.string(object?.['name'], `${at}.name`);
  if (!object || !name) {
    if (object) read.report(`${at}.name`, 'required');
    return undefined;
  }
  return { object, name };
}

function readParentRef(read: FieldReader, value: unknown, at: string): ParentRefView | undefined {
  const named = readNamed(read, value, at);
  if (!named) return undefined;
  const { object, name } = named;
  const parent: ParentRefView = {
    group: read.string(object['group'], `${at}.group`) ?? GATEWAY_GROUP,
    kind: read.string(object['kind'], `${at}.kind`) ?? 'Gateway',
    name,
    echo: {},
  };
  const namespace = read.string(object['namespace'], `${at}.namespace`);
  if (namespace) parent.namespace = namespace;
  const sectionName = read.string(object['sectionName'], `${at}.sectionName`);
  if (sectionName) parent.sectionName = sectionName;
  const port = read.integer(object['port'], `${at}.port`, 1, 65535);
  if (port !== undefined) parent.port = port;
  parent.echo = { group: parent.group, kind: parent.kind, name, ...(namespace ? { namespace } : {}), ...(sectionName ? { sectionName } : {}), ...(port !== undefined ? { port } : {}) };
  return parent;
}

function readRule(read: FieldReader, kind: RouteKind, rule: Record<string, unknown>, at: string): RouteRuleView {
  const view: RouteRuleView = { matches: [], filters: [], backendRefs: [], timeouts: {}, at };
  const name = read.string(rule['name'], `${at}.name`);
  if (name) view.name = name;
  read.array(rule['matches'], `${at}.matches`).forEach((item, j) => {
    const match = read.object(item, `${at}.matches[${j}]`);
    if (!match) return;
    const parsed = kind === 'GRPCRoute' ? readGrpcMatch(read, match, `${at}.matches[${j}]`) : readHttpMatch(read, match, `${at}.matches[${j}]`);
    if (parsed) view.matches.push(parsed);
  });
  if (view.matches.length === 0 && !isStreamRoute(kind)) view.matches.push(ANY_PATH());
  read.array(rule['filters'], `${at}.filters`).forEach((item, j) => {
    const filter = readFilter(read, item, `${at}.filters[${j}]`);
    if (filter) view.filters.push(filter);
  });
  read.array(rule['backendRefs'], `${at}.backendRefs`).forEach((item, j) => {
    const backend = readBackendRef(read, item, `${at}.backendRefs[${j}]`, true);
    if (backend) view.backendRefs.push(backend);
  });
  const timeouts = read.object(rule['timeouts'], `${at}.timeouts`);
  const duration = (value: unknown, path: string): number | undefined => {
    const text = read.string(value, path);
    if (text === undefined) return undefined;
    const ms = parseDurationMs(text);
    if (ms === undefined) read.report(path, `"${text}" is not a duration (e.g. 10s, 500ms, 1h)`);
    return ms;
  };
  const requestMs = duration(timeouts?.['request'], `${at}.timeouts.request`);
  if (requestMs !== undefined) view.timeouts.requestMs = requestMs;
  const backendRequestMs = duration(timeouts?.['backendRequest'], `${at}.timeouts.backendRequest`);
  if (backendRequestMs !== undefined) view.timeouts.backendRequestMs = backendRequestMs;
  const retry = read.object(rule['retry'], `${at}.retry`);
  if (retry) {
    const codes = read.array(retry['codes'], `${at}.retry.codes`).filter((code): code is number => typeof code === 'number' && Number.isInteger(code) && code >= 400 && code <= 599);
    view.retry = { codes };
    const attempts = read.integer(retry['attempts'], `${at}.retry.attempts`, 0, 1000);
    if (attempts !== undefined) view.retry.attempts = attempts;
    const backoff = duration(retry['backoff'], `${at}.retry.backoff`);
    if (backoff !== undefined) view.retry.backoffMs = backoff;
  }
  const session = isStreamRoute(kind) ? undefined : read.object(rule['sessionPersistence'], `${at}.sessionPersistence`);
  if (session) {
    const sessionAt = `${at}.sessionPersistence`;
    // Gateway API 1.3 and later: cookie {name, path, lifetimeType}, header {name}; before: sessionName, cookieConfig {lifetimeType}
    const cookie = read.object(session['cookie'], `${sessionAt}.cookie`);
    const header = read.object(session['header'], `${sessionAt}.header`);
    const cookieConfig = read.object(session['cookieConfig'], `${sessionAt}.cookieConfig`);
    const type = read.oneOf(session['type'], `${sessionAt}.type`, ['Cookie', 'Header'] as const) ?? 'Cookie';
    const lifetime = cookie?.['lifetimeType'] !== undefined ? ['cookie', cookie['lifetimeType']] : ['cookieConfig', cookieConfig?.['lifetimeType']];
    view.sessionPersistence = {
      type,
      lifetimeType: read.oneOf(lifetime[1], `${sessionAt}.${lifetime[0]}.lifetimeType`, ['Permanent', 'Session'] as const) ?? 'Session',
      at: sessionAt,
    };
    const name = type === 'Header' ? read.string(header?.['name'], `${sessionAt}.header.name`) : read.string(cookie?.['name'], `${sessionAt}.cookie.name`);
    const sessionName = name ?? read.string(session['sessionName'], `${sessionAt}.sessionName`);
    if (sessionName) view.sessionPersistence.name = sessionName;
    const path = read.string(cookie?.['path'], `${sessionAt}.cookie.path`);
    if (path) view.sessionPersistence.path = path;
    const absoluteTimeoutMs = duration(session['absoluteTimeout'], `${sessionAt}.absoluteTimeout`);
    if (absoluteTimeoutMs !== undefined) view.sessionPersistence.absoluteTimeoutMs = absoluteTimeoutMs;
    const idleTimeoutMs = duration(session['idleTimeout'], `${sessionAt}.idleTimeout`);
    if (idleTimeoutMs !== undefined) view.sessionPersistence.idleTimeoutMs = idleTimeoutMs;
  }
  return view;
}

function readHttpMatch(read: FieldReader, match: Record<string, unknown>, at: string): RouteMatchView | undefined {
  const path = read.object(match['path'], `${at}.path`);
  const type = read.oneOf(path?.['type'], `${at}.path.type`, ['Exact', 'PathPrefix', 'RegularExpression'] as const) ?? 'PathPrefix';
  const value = read.string(path?.['value'], `${at}.path.value`) ?? '/';
  if (type !== 'RegularExpression' && !value.startsWith('/')) {
    read.report(`${at}.path.value`, `"${value}" must be an absolute path`);
    return undefined;
  }
  const view: RouteMatchView = { path: { type, value }, headers: readNameValues(read, match['headers'], `${at}.headers`), queryParams: readNameValues(read, match['queryParams'], `${at}.queryParams`) };
  const method = read.string(match['method'], `${at}.method`);
  if (method) view.method = method;
  return view;
}

function readGrpcMatch(read: FieldReader, match: Record<string, unknown>, at: string): RouteMatchView | undefined {
  const method = read.object(match['method'], `${at}.method`);
  const type = read.oneOf(method?.['type'], `${at}.method.type`, ['Exact', 'RegularExpression'] as const) ?? 'Exact';
  const service = read.string(method?.['service'], `${at}.method.service`);
  const name = read.string(method?.['method'], `${at}.method.method`);
  const view: RouteMatchView = { path: { type: 'PathPrefix', value: '/' }, headers: readNameValues(read, match['headers'], `${at}.headers`), queryParams: [] };
  if (type === 'Exact') {
    if (service && name) view.path = { type: 'Exact', value: `/${service}/${name}` };
    else if (service) view.path = { type: 'StringPrefix', value: `/${service}/` };
    else if (name) view.path = { type: 'RegularExpression', value: `/[^/]+/${escapeRegex(name)}` };
  } else if (service || name) {
    view.path = { type: 'RegularExpression', value: `/${service ?? '[^/]+'}/${name ?? '[^/]+'}` };
  }
  return view;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function readNameValues(read: FieldReader, value: unknown, at: string): RouteMatchView['headers'] {
  const out: RouteMatchView['headers'] = [];
  read.array(value, at).forEach((item, i) => {
    const object = read.object(item, `${at}[${i}]`);
    const name = read.string(object?.['name'], `${at}[${i}].name`);
    const text = read.string(object?.['value'], `${at}[${i}].value`);
    const type = read.oneOf(object?.['type'], `${at}[${i}].type`, ['Exact', 'RegularExpression'] as const) ?? 'Exact';
    if (!object || !name || text === undefined) return;
    // The first of several entries with one name counts (the spec's rule for headers and query parameters).
    if (out.some((other) => other.name.toLowerCase() === name.toLowerCase())) return;
    out.push({ type, name, value: text });
  });
  return out;
}

function readModifier(read: FieldReader, value: unknown, at: string): HeaderModifierView {
  const object = read.object(value, at) ?? {};
  const pairs = (field: string) => readNameValues(read, object[field], `${at}.${field}`).map(({ name, value: text }) => ({ name, value: text }));
  return {
    set: pairs('set'),
    add: pairs('add'),
    remove: read.array(object['remove'], `${at}.remove`).filter((name): name is string => typeof name === 'string'),
  };
}

function readPathModifier(read: FieldReader, value: unknown, at: string): PathModifierView | undefined {
  const object = read.object(value, at);
  if (!object) return undefined;
  const type = read.oneOf(object['type'], `${at}.type`, ['ReplaceFullPath', 'ReplacePrefixMatch'] as const);
  const text = read.string(type === 'ReplaceFullPath' ? object['replaceFullPath'] : object['replacePrefixMatch'], `${at}.${type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch'}`);
  if (!type) return undefined;
  return { type, value: text ?? '/' };
}

function readFilter(read: FieldReader, value: unknown, at: string): FilterView | undefined {
  const filter = read.object(value, at);
  if (!filter) return undefined;
  const type = read.string(filter['type'], `${at}.type`) ?? '';
  switch (type) {
    case 'RequestHeaderModifier':
    case 'ResponseHeaderModifier': {
      const field = type === 'RequestHeaderModifier' ? 'requestHeaderModifier' : 'responseHeaderModifier';
      return { type, modifier: readModifier(read, filter[field], `${at}.${field}`), at };
    }
    case 'RequestRedirect': {
      const redirect = read.object(filter['requestRedirect'], `${at}.requestRedirect`) ?? {};
      const view: FilterView = { type, statusCode: read.integer(redirect['statusCode'], `${at}.requestRedirect.statusCode`, 300, 399) ?? 302, at };
      const scheme = read.string(redirect['scheme'], `${at}.requestRedirect.scheme`);
      if (scheme) view.scheme = scheme;
      const hostname = read.string(redirect['hostname'], `${at}.requestRedirect.hostname`);
      if (hostname) view.hostname = hostname;
      const port = read.integer(redirect['port'], `${at}.requestRedirect.port`, 1, 65535);
      if (port !== undefined) view.port = port;
      const path = readPathModifier(read, redirect['path'], `${at}.requestRedirect.path`);
      if (path) view.path = path;
      return view;
    }
    case 'URLRewrite': {
      const rewrite = read.object(filter['urlRewrite'], `${at}.urlRewrite`) ?? {};
      const view: FilterView = { type, at };
      const hostname = read.string(rewrite['hostname'], `${at}.urlRewrite.hostname`);
      if (hostname) view.hostname = hostname;
      const path = readPathModifier(read, rewrite['path'], `${at}.urlRewrite.path`);
      if (path) view.path = path;
      return view;
    }
    case 'RequestMirror': {
      const mirror = read.object(filter['requestMirror'], `${at}.requestMirror`) ?? {};
      const backendRef = readBackendRef(read, mirror['backendRef'], `${at}.requestMirror.backendRef`, false);
      if (!backendRef) return { type: 'Unsupported', name: 'RequestMirror without a backendRef', at };
      const view: FilterView = { type, backendRef, at };
      const percent = read.integer(mirror['percent'], `${at}.requestMirror.percent`, 0, 100);
      const fraction = read.object(mirror['fraction'], `${at}.requestMirror.fraction`);
      if (percent !== undefined) view.percent = percent;
      else if (fraction) {
        const numerator = read.integer(fraction['numerator'], `${at}.requestMirror.fraction.numerator`, 0, 1_000_000) ?? 0;
        const denominator = read.integer(fraction['denominator'], `${at}.requestMirror.fraction.denominator`, 1, 1_000_000) ?? 100;
        view.percent = Math.min(100, (numerator * 100) / denominator);
      }
      return view;
    }
    case 'CORS': {
      const cors = read.object(filter['cors'], `${at}.cors`) ?? {};
      const strings = (field: string) => read.array(cors[field], `${at}.cors.${field}`).filter((value): value is string => typeof value === 'string');
      const view: FilterView = { type, allowOrigins: strings('allowOrigins'), allowMethods: strings('allowMethods'), allowHeaders: strings('allowHeaders'), exposeHeaders: strings('exposeHeaders'), at };
      const credentials = read.boolean(cors['allowCredentials'], `${at}.cors.allowCredentials`);
      if (credentials !== undefined) view.allowCredentials = credentials;
      const maxAge = read.integer(cors['maxAge'], `${at}.cors.maxAge`, 0, 86400 * 365);
      if (maxAge !== undefined) view.maxAge = maxAge;
      return view;
    }
    default:
      return { type: 'Unsupported', name: type || 'a filter without a type', at };
  }
}

function readBackendRef(read: FieldReader, value: unknown, at: string, withWeight: boolean): BackendRefView | undefined {
  const named = readNamed(read, value, at);
  if (!named) return undefined;
  const { object, name } = named;
  const view: BackendRefView = {
    group: read.string(object['group'], `${at}.group`) ?? '',
    kind: read.string(object['kind'], `${at}.kind`) ?? 'Service',
    name,
    weight: withWeight ? (read.integer(object['weight'], `${at}.weight`, 0, 1_000_000) ?? 1) : 1,
    filters: [],
    at,
  };
  const namespace = read.string(object['namespace'], `${at}.namespace`);
  if (namespace) view.namespace = namespace;
  const port = read.integer(object['port'], `${at}.port`, 1, 65535);
  if (port !== undefined) view.port = port;
  read.array(object['filters'], `${at}.filters`).forEach((item, i) => {
    const filter = readFilter(read, item, `${at}.filters[${i}]`);
    if (filter) view.filters.push(filter);
  });
  return view;
}
