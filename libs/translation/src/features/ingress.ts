/**
 * Ingress (networking.k8s.io/v1) for the configured class, as Cilium's Ingress controller does it:
 * each Ingress load balancer (one per dedicated Ingress, one `cilium-ingress` for all shared ones) is
 * an LB entry of its own (ports 80 and 443, redirected to the node proxy) and a node-proxy listener:
 * plaintext chain -> `<lb>/insecure` routes, TLS chains by SNI -> SDS certificates and `<lb>/secure`
 * routes, TLS passthrough chains -> TCP proxy. Paths are ordered Exact, regex, Prefix, longer first,
 * `/` last. `status.loadBalancer` carries the LB entry's address.
 */
import type { FilterChainIR, HttpRouteRuleIR, L4FrontendIR, L4ServiceIR, ListenerIR, PathMatchIR, RouteIR, SourceObject, VirtualHostIR } from '@tendril/model';
import { DEFAULT_CLASS_ANNOTATION, INGRESS_ANNOTATIONS, INGRESS_ANNOTATION_PREFIXES, INGRESS_CLASS_ANNOTATION, parseDurationMs } from '../annotations.js';
import type { Feature, TranslationContext } from '../context.js';
import { serviceView, type ServiceView } from '../kube/service.js';
import { FieldReader } from '../kube/fields.js';
import { readIngress, type IngressBackendView, type IngressPathView, type IngressView } from '../kube/ingress.js';
import type { IndexedObject, ObjectQuery } from '../objects.js';
import { ingressListenerName, ingressLoadBalancerName, ingressRouteName, ingressRuleName, serviceClusterName } from '../names.js';
import { loadTlsSecret } from './tls-secret.js';
import { ingressOwnedService } from '../owned/load-balancers.js';
import { ownedAddress } from '../owned/addresses.js';
import { Problems, compare } from '../problems.js';

export interface IngressSettings {
  mode: 'dedicated' | 'shared';
  serviceType: 'LoadBalancer' | 'NodePort';
  insecureNodePort?: number;
  secureNodePort?: number;
  passthrough: boolean;
  forceHttps: boolean;
  timeoutMs?: number;
  loadBalancerClass?: string;
}

export interface TakenIngress {
  key: string;
  object: object;
  view: IngressView;
  settings: IngressSettings;
}

export interface LoadBalancer {
  namespace: string;
  name: string;
  ingresses: TakenIngress[];
}

/** What Ingress translation looks up, by `namespace/name`: each lookup is a read of its context. */
export interface Lookups {
  services: { get(id: string): ServiceView | undefined };
  secrets: { get(id: string): IndexedObject | undefined };
  clusters: { has(name: string): boolean };
}

function lookups(context: TranslationContext): Lookups {
  const quiet = new Problems();
  const split = (id: string) => [id.slice(0, id.indexOf('/')), id.slice(id.indexOf('/') + 1)] as const;
  return {
    services: {
      get: (id) => {
        const entry = context.object('service', ...split(id));
        return entry && serviceView(context, entry, quiet);
      },
    },
    secrets: { get: (id) => context.object('secret', ...split(id)) },
    clusters: { has: (name) => context.made('clusters', name) },
  };
}

/** Annotations only a load balancer's own unit reads: a change to them leaves every placement as it is. */
const UNIT_ONLY = new Set(INGRESS_ANNOTATION_PREFIXES.flatMap((prefix) => [INGRESS_ANNOTATIONS.requestTimeout, INGRESS_ANNOTATIONS.forceHttps, INGRESS_ANNOTATIONS.tlsPassthrough].map((name) => prefix + name)));

/**
 * What decides an Ingress's load balancer and that balancer's owned Service: its annotations (as
 * readIngress reads them) but those only its unit reads, its class, its uid.
 */
export const INGRESS_PLACEMENT: ObjectQuery = {
  name: 'ingress-placement',
  kinds: ['ingress'],
  paramsOf: (entry) => {
    const record = (value: unknown) => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
    const metadata = record(entry.object['metadata']);
    const annotations = Object.entries(record(metadata['annotations'])).filter(([key, value]) => typeof value === 'string' && !UNIT_ONLY.has(key));
    const className = record(entry.object['spec'])['ingressClassName'];
    return [JSON.stringify([annotations.sort(([a], [b]) => compare(a, b)), typeof className === 'string' ? className : null, metadata['uid'] ?? null])];
  },
};

/** An Ingress as its placement says (INGRESS_PLACEMENT): enough to take it, group it and own its Service. */
function placed(entry: IndexedObject, param: string): { object: object; view: IngressView } {
  const [annotations, className, uid] = JSON.parse(param) as [[string, string][], string | null, unknown];
  const view: IngressView = { source: { ...entry.source, namespace: entry.ref.namespace ?? 'default' }, annotations: Object.fromEntries(annotations), rules: [], tls: [] };
  if (className !== null) view.className = className;
  return { object: { metadata: { annotations: view.annotations, ...(uid !== null ? { uid } : {}) } }, view };
}

export const ingressFeature = {
  name: 'ingress',
  rerunnable: true,
  queries: [INGRESS_PLACEMENT],
  build(context: TranslationContext): void {
    // Each Ingress's own problems, in a unit of its own.
    context.eachObject('ingress', 'ingress-object', (unit, namespace, name) => {
      const entry = unit.object('ingress', namespace, name);
      if (entry) ingressView(unit, entry, unit.problems);
    });
    const found = lookups(context);
    const quiet = new Problems();
    // Only which Ingresses there are and their placements: an edit of rules, paths, TLS or the
    // annotations only a unit reads leaves this code alone, and rebuilds the load balancer's unit.
    const taken = context.index
      .keys('ingress')
      .map((entry) => ({ entry, ...placed(entry, context.paramsOf(INGRESS_PLACEMENT, entry)[0]!) }))
      .filter(({ view }) => isOurs(context, view))
      .map(({ entry, object, view }) => ({ key: entry.key, object, view, settings: context.view(object, 'ingress-settings', quiet, (sink) => readSettings({ ...context, problems: sink }, view)) }));
    const balancers = new Map<string, LoadBalancer>();
    for (const ingress of taken) {
      const namespace = ingress.settings.mode === 'shared' ? context.options.ingressSharedNamespace : ingress.view.source.namespace;
      const name = ingressLoadBalancerName(ingress.settings.mode, ingress.view.source.name);
      const id = `${namespace}/${name}`;
      const balancer = balancers.get(id) ?? { namespace, name, ingresses: [] };
      balancer.ingresses.push(ingress);
      balancers.set(id, balancer);
    }
    const addresses = allocateAddresses(context, found, [...balancers.keys()]);
    const services = context.ir.l4Services;
    context.ir.l4Services = []; // the units below add the LB entries here
    for (const [id, balancer] of [...balancers].sort(([a], [b]) => compare(a, b))) {
      const { namespace, name } = balancer;
      const shared = balancer.ingresses[0]!.settings.mode === 'shared';
      // Picked here, in a stable order, not in the unit: the port allocator is shared by every listener.
      const port = shared ? context.proxyPorts.shared() : context.proxyPorts.portFor(ingressListenerName(namespace, name));
      const address = addresses.get(id);
      const first = balancer.ingresses[0]!;
      if (port !== undefined) context.own(context.view(first.object, `owned-service ${id} ${port}`, context.problems, () => ingressOwnedService(balancer, port, first.settings.loadBalancerClass)));
      // One unit per load balancer: rebuilt only when one of its Ingresses, or a Service or Secret they
      // name, changed (or its port or address did).
      const keys = balancer.ingresses.map((ingress) => ingress.key);
      const refs = balancer.ingresses.map((ingress) => [ingress.key, ingress.view.source.namespace, ingress.view.source.name] as const);
      context.unit(ingressUnitId(id), [port, address?.address, address?.fromService, keys.join('\n')], (unit) => {
        // Its Ingresses read whole here: what they route, and their settings (whose problems it reports).
        const ingresses = refs.flatMap(([key, ingressNamespace, ingressName]) => {
          const entry = unit.object('ingress', ingressNamespace, ingressName);
          if (!entry) return [];
          const view = ingressView(unit, entry, quiet);
          return [{ key, object: entry.object, view, settings: unit.view(entry.object, 'ingress-settings', unit.problems, (sink) => readSettings({ ...unit, problems: sink }, view)) }];
        });
        const entry = buildLoadBalancer(unit, lookups(unit), { namespace, name, ingresses }, address, port);
        if (entry) unit.ir.l4Services.push(entry);
      });
    }
    const entries = context.ir.l4Services;
    // A Service of an LB entry's name (Cilium's own) lends its address; ours replaces its entry.
    const ids = new Set(entries.map((entry) => `${entry.namespace}/${entry.name}`));
    context.ir.l4Services = ids.size ? [...services.filter((service) => !ids.has(`${service.namespace}/${service.name}`)), ...entries] : services;
    // Two load balancers may serve one Secret: it is one SDS resource.
    const secrets = new Set<string>();
    context.ir.secrets = context.ir.secrets.filter((secret) => !secrets.has(secret.name) && secrets.add(secret.name));
  },
} satisfies Feature;

/** An Ingress's view, read once per object while it is unchanged; its problems go to `problems`. */
export function ingressView(context: TranslationContext, entry: IndexedObject, problems: Problems): IngressView {
  return context.view(entry.object, 'ingress', problems, (sink) => readIngress(entry.object, { ...entry.source, namespace: entry.ref.namespace ?? 'default' }, sink));
}

/** The unit of load balancer `id` (`namespace/name`). */
export function ingressUnitId(id: string): string {
  return `ingress ${id}`;
}

/** Whether the Ingress is of our class (an Ingress without a class asks our IngressClass whether it is the default). */
export function isOurs(context: TranslationContext, view: IngressView): boolean {
  const className = context.options.ingressClassName;
  const annotated = view.annotations[INGRESS_CLASS_ANNOTATION];
  if (annotated !== undefined) return annotated === className;
  if (view.className !== undefined) return view.className === className;
  // No class at all: ours only when our IngressClass is the cluster's default.
  const ours = context.index.local('ingressclass').find((entry) => entry.ref.name === className);
  const annotations = (ours?.object['metadata'] as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  return annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
}

function annotation(view: IngressView, name: string): { value: string; path: string } | undefined {
  for (const prefix of INGRESS_ANNOTATION_PREFIXES) {
    const value = view.annotations[prefix + name];
    if (value !== undefined) return { value: value.trim(), path: `metadata.annotations.${prefix}${name}` };
  }
  return undefined;
}

/** The Ingress's annotations as settings; bad values are reported to context.problems. */
export function readSettings(context: TranslationContext, view: IngressView): IngressSettings {
  const read = new FieldReader(context.problems, view.source);
  const choice = <T extends string>(name: string, allowed: Record<string, T>): T | undefined => {
    const found = annotation(view, name);
    if (!found) return undefined;
    const value = Object.hasOwn(allowed, found.value.toLowerCase()) ? allowed[found.value.toLowerCase()] : undefined;
    if (value === undefined) read.report(found.path, `unknown value "${found.value}" (expected one of ${Object.keys(allowed).join(', ')})`);
    return value;
  };
  const enabled = { enabled: true, true: true, disabled: false, false: false } as Record<string, boolean>;
  const flag = (name: string): boolean => {
    const found = annotation(view, name);
    if (!found) return false;
    const value = Object.hasOwn(enabled, found.value.toLowerCase()) ? enabled[found.value.toLowerCase()] : undefined;
    if (value === undefined) read.report(found.path, `unknown value "${found.value}" (expected enabled or disabled)`);
    return value ?? false;
  };
  const nodePort = (name: string): number | undefined => {
    const found = annotation(view, name);
    if (!found) return undefined;
    const value = /^\d+$/.test(found.value) ? Number(found.value) : NaN;
    if (!(value >= 1 && value <= 65535)) {
      read.report(found.path, `"${found.value}" is not a port`);
      return undefined;
    }
    return value;
  };
  const settings: IngressSettings = {
    mode: choice(INGRESS_ANNOTATIONS.loadBalancerMode, { dedicated: 'dedicated', shared: 'shared' } as const) ?? context.options.ingressDefaultLbMode,
    serviceType: choice(INGRESS_ANNOTATIONS.serviceType, { loadbalancer: 'LoadBalancer', nodeport: 'NodePort' } as const) ?? 'LoadBalancer',
    passthrough: flag(INGRESS_ANNOTATIONS.tlsPassthrough),
    forceHttps: flag(INGRESS_ANNOTATIONS.forceHttps),
  };
  const insecure = nodePort(INGRESS_ANNOTATIONS.insecureNodePort);
  if (insecure !== undefined) settings.insecureNodePort = insecure;
  const secure = nodePort(INGRESS_ANNOTATIONS.secureNodePort);
  if (secure !== undefined) settings.secureNodePort = secure;
  const loadBalancerClass = annotation(view, INGRESS_ANNOTATIONS.loadBalancerClass);
  if (loadBalancerClass && loadBalancerClass.value !== '') settings.loadBalancerClass = loadBalancerClass.value;
  const timeout = annotation(view, INGRESS_ANNOTATIONS.requestTimeout);
  if (timeout) {
    const ms = parseDurationMs(timeout.value);
    if (ms === undefined) read.report(timeout.path, `"${timeout.value}" is not a duration (e.g. 30s, 1m, 500ms)`);
    else settings.timeoutMs = ms;
  }
  return settings;
}

/**
 * The address of each LB entry: that of the load balancer's own Service (the one Tendril owns, see
 * owned/), from its status.loadBalancer (set by the cloud, MetalLB or Cilium's LB-IPAM; in standalone
 * mode the k8s-watcher plays LB-IPAM), or its cluster IP when it is a NodePort Service. Never picked:
 * until the Service has an address, the load balancer has none and its Ingresses' status says so.
 */
function allocateAddresses(_context: TranslationContext, found: Lookups, ids: string[]): Map<string, { address: string; fromService: boolean }> {
  const out = new Map<string, { address: string; fromService: boolean }>();
  for (const id of ids) {
    const address = ownedAddress(found.services.get(id));
    if (address) out.set(id, { address, fromService: true });
  }
  return out;
}

function buildLoadBalancer(
  context: TranslationContext,
  found: Lookups,
  balancer: LoadBalancer,
  address: { address: string; fromService: boolean } | undefined,
  port: number | undefined,
): L4ServiceIR | undefined {
  const { namespace, name } = balancer;
  const source: SourceObject = balancer.ingresses.length === 1 ? balancer.ingresses[0]!.view.source : { kind: 'Service', namespace, name };
  const loaded = new Set<string>();
  if (port === undefined) {
    context.problems.field(source, '', `no node proxy port left (options.proxyPortCount ${context.options.proxyPortCount})`);
    return undefined;
  }
  const hosts = new HostTable();
  const secureHosts = new HostTable();
  const chains: FilterChainIR[] = [];
  const secretChains = new Map<string, { serverNames: Set<string>; ingress: TakenIngress }>();
  const tlsHosts = new Set<string>();
  const passthrough: { host: string; cluster: string; ingress: TakenIngress }[] = [];

  for (const ingress of balancer.ingresses) {
    const { view, settings } = ingress;
    const read = new FieldReader(context.problems, view.source);
    const target = (backend: IngressBackendView) => resolveBackend(context, found, view, backend);
    if (settings.passthrough) {
      for (const rule of view.rules) {
        const first = rule.paths[0];
        if (!rule.host || !first) {
          read.report(rule.at + (rule.host ? '.http.paths' : '.host'), 'TLS passthrough needs a host and a path');
          continue;
        }
        const cluster = target(first.backend);
        if (cluster) passthrough.push({ host: rule.host, cluster, ingress });
      }
      continue;
    }
    const ingressTlsHosts = new Set<string>();
    for (const tls of view.tls) {
      if (!tls.secretName) {
        read.report(`${tls.at}.secretName`, 'required (Tendril has no default certificate)');
        continue;
      }
      const secretName = loadSecret(context, found, loaded, view, tls.secretName, `${tls.at}.secretName`);
      if (!secretName) continue;
      const hostsOf = tls.hosts.length ? tls.hosts : view.rules.map((rule) => rule.host).filter((host) => host);
      const chain = secretChains.get(secretName) ?? { serverNames: new Set<string>(), ingress };
      for (const host of hostsOf) {
        chain.serverNames.add(host);
        ingressTlsHosts.add(host);
        tlsHosts.add(host);
      }
      secretChains.set(secretName, chain);
    }
    const rules = view.rules.flatMap((rule) => rule.paths.map((path) => ({ host: rule.host, path })));
    if (view.defaultBackend) rules.push({ host: '', path: { path: '/', pathType: 'Prefix', backend: view.defaultBackend, at: 'spec.defaultBackend' } });
    for (const { host, path } of rules) {
      const route = toRouteRule(view, settings, path, target(path.backend));
      hosts.add(host, route, view.source, path.at, context);
      if (host && ingressTlsHosts.has(host)) secureHosts.add(host, route, view.source, path.at, context);
      if (settings.forceHttps && host && ingressTlsHosts.has(host)) hosts.requireTls(host);
    }
  }

  const listenerName = ingressListenerName(namespace, name);
  const routes: RouteIR[] = [];
  if (!hosts.empty()) {
    const routeName = ingressRouteName(namespace, name, 'insecure');
    routes.push({ name: routeName, virtualHosts: hosts.virtualHosts(), source });
    chains.push({ name: 'insecure', match: { serverNames: [], transportProtocol: 'raw_buffer' }, action: { kind: 'http', routeName, statPrefix: `${listenerName}/insecure` } });
  }
  if (secretChains.size) {
    const routeName = ingressRouteName(namespace, name, 'secure');
    routes.push({ name: routeName, virtualHosts: secureHosts.virtualHosts(), source });
    for (const [secretName, chain] of [...secretChains].sort(([a], [b]) => compare(a, b))) {
      chains.push({
        name: `secure/${secretName}`,
        match: { serverNames: [...chain.serverNames].sort(compare), transportProtocol: 'tls' },
        tls: { secretNames: [secretName] },
        action: { kind: 'http', routeName, statPrefix: `${listenerName}/secure` },
      });
    }
  }
  for (const entry of passthrough.sort((a, b) => compare(a.host, b.host))) {
    if (tlsHosts.has(entry.host) || chains.some((chain) => chain.name === `passthrough/${entry.host}`)) {
      context.problems.field(entry.ingress.view.source, 'spec.rules', `host ${entry.host} is already served on this load balancer`);
      continue;
    }
    chains.push({ name: `passthrough/${entry.host}`, match: { serverNames: [entry.host], transportProtocol: 'tls' }, action: { kind: 'tcp', backends: [{ clusterName: entry.cluster, weight: 1 }], statPrefix: `${listenerName}/passthrough` } });
  }
  for (const route of routes) context.ir.routes.push(route);
  if (chains.length) {
    const listener: ListenerIR = { name: listenerName, kind: 'socket', address: '0.0.0.0', port, filterChains: chains, source };
    context.ir.listeners.push(listener);
  }
  // Nothing to serve (every rule refused, and reported): no LB entry leading to a listener that is not there.
  const served = chains.length > 0 && address !== undefined;
  for (const ingress of balancer.ingresses) {
    context.setStatus(ingress.key, {
      v: 1,
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      namespace: ingress.view.source.namespace,
      name: ingress.view.source.name,
      // a NodePort load balancer's cluster IP is no address for clients outside: Cilium publishes none either
      status: { loadBalancer: served && ingress.settings.serviceType === 'LoadBalancer' ? { ingress: [{ ip: address.address }] } : {} },
    });
  }
  if (!served) return undefined;
  return lbEntry(balancer, address, port, source);
}

function lbEntry(balancer: LoadBalancer, address: { address: string; fromService: boolean }, proxyPort: number, source: SourceObject): L4ServiceIR {
  const settings = balancer.ingresses[0]!.settings;
  const scope: L4FrontendIR['scope'] = settings.serviceType === 'NodePort' ? 'ClusterIP' : 'LoadBalancer';
  const frontends: L4FrontendIR[] = [
    { address: address.address, port: 80, protocol: 'TCP', portName: 'http', scope },
    { address: address.address, port: 443, protocol: 'TCP', portName: 'https', scope },
  ];
  const any = address.address.includes(':') ? '::' : '0.0.0.0';
  if (settings.insecureNodePort) frontends.push({ address: any, port: settings.insecureNodePort, protocol: 'TCP', portName: 'http', scope: 'NodePort' });
  if (settings.secureNodePort) frontends.push({ address: any, port: settings.secureNodePort, protocol: 'TCP', portName: 'https', scope: 'NodePort' });
  return {
    namespace: balancer.namespace,
    name: balancer.name,
    frontends: frontends.sort((a, b) => compare(`${a.scope}|${a.address}`, `${b.scope}|${b.address}`) || a.port - b.port),
    backends: [],
    algorithm: 'random',
    affinity: null,
    l7Redirect: { port: proxyPort },
    source,
  };
}

function resolveBackend(context: TranslationContext, found: Lookups, view: IngressView, backend: IngressBackendView): string | undefined {
  const namespace = view.source.namespace;
  const service = found.services.get(`${namespace}/${backend.service}`);
  if (!service) {
    context.problems.field(view.source, `${backend.at}.service.name`, `Service ${namespace}/${backend.service} not found`);
    return undefined;
  }
  const port = 'number' in backend.port ? service.ports.find((p) => p.port === (backend.port as { number: number }).number) : service.ports.find((p) => p.name === (backend.port as { name: string }).name);
  if (!port || port.protocol !== 'TCP') {
    const shown = 'number' in backend.port ? `number ${backend.port.number}` : `name "${backend.port.name}"`;
    const field = 'number' in backend.port ? 'number' : 'name';
    context.problems.field(view.source, `${backend.at}.service.port.${field}`, `Service ${namespace}/${backend.service} has no TCP port with ${shown}`);
    return undefined;
  }
  const cluster = serviceClusterName(namespace, backend.service, port.port);
  return found.clusters.has(cluster) ? cluster : undefined;
}

/** The SDS secret of a kubernetes.io/tls Secret, added to the IR once per load balancer (`loaded`). */
function loadSecret(context: TranslationContext, found: Lookups, loaded: Set<string>, view: IngressView, secret: string, at: string): string | undefined {
  const loadedName = loadTlsSecret(context, found.secrets, loaded, view.source.namespace, secret);
  if (typeof loadedName === 'string') return loadedName;
  context.problems.field(view.source, at, loadedName.problem);
  return undefined;
}

function toPathMatch(path: IngressPathView): PathMatchIR {
  if (path.pathType === 'Exact') return { kind: 'exact', value: path.path };
  if (path.pathType === 'Prefix') return { kind: 'segment-prefix', value: path.path };
  return { kind: 'regex', value: path.path };
}

function toRouteRule(view: IngressView, settings: IngressSettings, path: IngressPathView, cluster: string | undefined): HttpRouteRuleIR {
  const name = ingressRuleName(view.source.namespace, view.source.name, path.at);
  const match = { path: toPathMatch(path) };
  // A backend that does not resolve answers 503, as Envoy does for a missing cluster, without taking the others down.
  if (!cluster) return { name, match, action: { kind: 'direct-response', status: 503 } };
  return { name, match, action: { kind: 'forward', backends: [{ clusterName: cluster, weight: 1 }], ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}) } };
}

const PATH_RANK: Record<PathMatchIR['kind'], number> = { exact: 0, regex: 1, 'segment-prefix': 2, prefix: 2 };

/** Routes by host; each host's routes in Cilium's order: Exact, regex, Prefix; longer first; `/` last. */
class HostTable {
  private readonly hosts = new Map<string, { routes: HttpRouteRuleIR[]; byPath: Map<string, HttpRouteRuleIR>; requireTls: boolean }>();

  add(host: string, route: HttpRouteRuleIR, source: SourceObject, at: string, context: TranslationContext): void {
    const entry = this.hosts.get(host) ?? { routes: [], byPath: new Map<string, HttpRouteRuleIR>(), requireTls: false };
    const pathKey = `${route.match.path.kind}|${route.match.path.value}`;
    const same = entry.byPath.get(pathKey);
    if (same) {
      if (same.name !== route.name) context.problems.field(source, at, `path ${route.match.path.value} on host "${host || '*'}" is already routed by ${same.name}`);
      return;
    }
    entry.routes.push(route);
    entry.byPath.set(pathKey, route);
    this.hosts.set(host, entry);
  }

  requireTls(host: string): void {
    const entry = this.hosts.get(host);
    if (entry) entry.requireTls = true;
  }

  empty(): boolean {
    return this.hosts.size === 0;
  }

  virtualHosts(): VirtualHostIR[] {
    return [...this.hosts]
      .sort(([a], [b]) => compare(a || '\uffff', b || '\uffff'))
      .map(([host, entry]) => {
        const routes = [...entry.routes].sort((a, b) => {
          const [x, y] = [a.match.path, b.match.path];
          const rootX = x.kind !== 'exact' && x.kind !== 'regex' && x.value === '/' ? 1 : 0;
          const rootY = y.kind !== 'exact' && y.kind !== 'regex' && y.value === '/' ? 1 : 0;
          return rootX - rootY || PATH_RANK[x.kind] - PATH_RANK[y.kind] || y.value.length - x.value.length || compare(x.value, y.value) || compare(a.name, b.name);
        });
        const virtualHost: VirtualHostIR = { name: host || '*', domains: [host || '*'], routes };
        if (entry.requireTls) virtualHost.requireTls = true;
        return virtualHost;
      });
  }
}
