/**
 * One Gateway -> node-proxy listeners (one per port, each with a proxy port of its own, since a
 * redirected connection no longer carries the port that was dialled) and the LB entry that sends each
 * listener port to its proxy port. HTTP ports get a plaintext chain with RDS; HTTPS/TLS ports get TLS
 * chains by SNI: HTTPS listeners terminate with their certificates, TLS listeners pass through (or,
 * in mode Terminate, terminate) to their TLSRoutes' backends. Virtual hosts are made per hostname so that Envoy's most-specific-domain
 * choice gives listener isolation; a virtual host holds the routes of its most specific listener.
 */
import type { FilterChainIR, HttpRouteRuleIR, L4ServiceIR, ListenerIR, VirtualHostIR, WeightedClusterIR } from '@tendril/model';
import type { TranslationContext } from '../../context.js';
import type { RouteView } from '../../kube/routes.js';
import { gatewayHttpsRouteName, gatewayListenerName, gatewayLoadBalancerName, gatewayRouteName } from '../../names.js';
import { compare } from '../../problems.js';
import type { GatewayState, ListenerState } from './gateways.js';
import { compareHostSpecificity } from './hostnames.js';
import { compareMatches, type RankedMatch } from './precedence.js';
import { toRuleIRs, type ListenerContext, type ResolvedRoute } from './rules.js';
import { pushTo } from './collections.js';

/**
 * HTTP connection managers of Gateway listeners let WebSocket upgrades through to the backends (as
 * Cilium does) and run the CORS filter (routes with a CORS filter carry its policy); the stateful
 * session filter runs only where a route of `hosts` keeps sessions, so other listeners pay nothing for
 * it. Their route configurations pick virtual hosts by the Host header without its port
 * (Gateway API hostnames carry none; the backend still sees the port).
 */
export function httpOptions(hosts: readonly VirtualHostIR[]): { upgrades: string[]; cors: boolean; sessions?: boolean } {
  const sessions = hosts.some((host) => host.routes.some((rule) => rule.sessionPersistence !== undefined));
  return { upgrades: ['websocket'], cors: true, ...(sessions ? { sessions } : {}) };
}

export interface AttachedRoute {
  view: RouteView;
  resolved: ResolvedRoute;
  hosts: string[];
}

/** IR rules of a route per listener context, made once. */
export class RuleCache {
  private readonly cache = new Map<string, HttpRouteRuleIR[][]>();

  /** Per rule, per match. */
  rules(route: AttachedRoute, listener: ListenerContext): HttpRouteRuleIR[][] {
    const key = `${route.view.key}|${listener.port}|${listener.scheme}`;
    let found = this.cache.get(key);
    if (!found) {
      found = route.resolved.rules.map((rule) => toRuleIRs(route.view, rule, listener));
      this.cache.set(key, found);
    }
    return found;
  }
}

export interface GatewayBuild {
  entry?: L4ServiceIR;
  programmed: Set<ListenerState>;
}

/** TLS of a terminating listener's chain: its certificates, and the client certificates it asks for. */
function chainTls(listener: ListenerState): NonNullable<FilterChainIR['tls']> {
  return { secretNames: [...listener.secretNames], ...(listener.clientValidation ? { clientValidation: { ...listener.clientValidation } } : {}) };
}

/** The valid listeners of a Gateway that the node proxies serve, by port (ascending); TCP and UDP ones are l4-routes.ts's. */
export function servedPorts(gateway: GatewayState, withoutAddress = false): [number, ListenerState[]][] {
  if (gateway.notAccepted || (gateway.address === undefined && !withoutAddress)) return [];
  const byPort = new Map<number, ListenerState[]>();
  for (const listener of gateway.listeners) {
    if (!listener.family || listener.family === 'tcp' || listener.family === 'udp' || listener.notAccepted || listener.conflicted) continue;
    pushTo(byPort, listener.view.port, listener);
  }
  return [...byPort].sort(([a], [b]) => a - b);
}

/**
 * Node-proxy ports of a Gateway's served ports, allocated before its (memoized) build: the allocator
 * is state shared by every listener, which a replayed build must not depend on. Allocated also while
 * the Gateway has no address yet: its owned Service (owned/) needs them to get one.
 */
export function gatewayProxyPorts(context: TranslationContext, gateway: GatewayState): Map<number, number | undefined> {
  const out = new Map<number, number | undefined>();
  for (const [port] of servedPorts(gateway, true)) out.set(port, context.proxyPorts.portFor(gatewayListenerName(gateway.view.namespace, gateway.view.name, port)));
  return out;
}

export function buildGateway(context: TranslationContext, gateway: GatewayState, attached: Map<ListenerState, AttachedRoute[]>, cache: RuleCache, proxyPorts: Map<number, number | undefined>): GatewayBuild {
  const programmed = new Set<ListenerState>();
  const { namespace, name, source } = gateway.view;
  const frontendPorts: Record<number, number> = {};
  for (const [port, listeners] of servedPorts(gateway)) {
    const listenerName = gatewayListenerName(namespace, name, port);
    const chains: FilterChainIR[] = [];
    if (listeners[0]!.family === 'http') {
      const routeName = gatewayRouteName(namespace, name, port, 'http');
      const hosts = virtualHosts(listeners, attached, cache, { port, scheme: 'http' });
      context.ir.routes.push({ name: routeName, virtualHosts: hosts, ignorePortInHostMatching: true, source });
      chains.push({ name: 'http', match: { serverNames: [] }, action: { kind: 'http', routeName, statPrefix: listenerName, ...httpOptions(hosts) } });
      for (const listener of listeners) programmed.add(listener);
    } else {
      const usedNames = new Set<string>();
      const take = (hosts: string[]): string[] | undefined => {
        const names = hosts.includes('') ? [''] : hosts.filter((host) => !usedNames.has(host));
        if (names.length === 0 || (names[0] === '' && usedNames.has(''))) return undefined;
        for (const host of names) usedNames.add(host);
        return names[0] === '' ? [] : names;
      };
      const terminating = listeners.filter((listener) => listener.family === 'https' && listener.secretNames.length > 0);
      const owned = terminating.length ? ownedVirtualHosts(terminating, attached, cache, { port, scheme: 'https' }) : [];
      for (const listener of terminating) {
        const serverNames = take([listener.view.hostname]);
        if (!serverNames) continue;
        // Each HTTPS listener has its own route configuration: its virtual hosts, and 421 for the
        // hostnames of the port's other HTTPS listeners (a request whose Host is not the TLS
        // connection's listener's: GatewayHTTPSListenerDetectMisdirectedRequests).
        const routeName = gatewayHttpsRouteName(namespace, name, port, listener.view.name);
        const own = owned.filter((entry) => entry.owner === listener).map((entry) => entry.virtualHost);
        const domains = new Set(own.flatMap((host) => host.domains));
        const misdirected: VirtualHostIR[] = [];
        for (const other of terminating) {
          const domain = other.view.hostname || '*';
          if (other === listener || domains.has(domain)) continue;
          domains.add(domain);
          misdirected.push({ name: `misdirected ${domain}`, domains: [domain], routes: [{ name: `${listenerName}/misdirected`, match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'direct-response', status: 421 } }] });
        }
        context.ir.routes.push({ name: routeName, virtualHosts: [...own, ...misdirected], ignorePortInHostMatching: true, source });
        chains.push({ name: `https/${listener.view.name}`, match: { serverNames, transportProtocol: 'tls' }, tls: chainTls(listener), action: { kind: 'http', routeName, statPrefix: `${listenerName}/https`, ...httpOptions(own) } });
        programmed.add(listener);
      }
      for (const listener of listeners.filter((l) => l.family === 'tls')) {
        if (listener.terminate && listener.secretNames.length === 0) continue; // no certificate: nothing to serve
        programmed.add(listener);
        const routes = [...(attached.get(listener) ?? [])].sort((a, b) => compareRoutes(a.view, b.view));
        for (const route of routes) {
          const backends: WeightedClusterIR[] = route.resolved.tcpBackends.filter((backend) => backend.weight > 0);
          // No usable backend: no chain, so the TLS handshake finds nothing and the connection is closed.
          if (backends.length === 0) continue;
          const serverNames = take(route.hosts);
          if (!serverNames) continue;
          const chain: FilterChainIR = { name: `tls/${route.view.namespace}/${route.view.name}/${listener.view.name}`, match: { serverNames, transportProtocol: 'tls' }, action: { kind: 'tcp', statPrefix: `${listenerName}/tls`, backends } };
          if (listener.terminate) chain.tls = chainTls(listener);
          chains.push(chain);
        }
      }
    }
    if (chains.length === 0) continue;
    const proxyPort = proxyPorts.get(port);
    if (proxyPort === undefined) {
      context.problems.field(source, listeners[0]!.view.at, `no node proxy port left (options.proxyPortCount ${context.options.proxyPortCount})`);
      for (const listener of listeners) programmed.delete(listener);
      continue;
    }
    const listenerIR: ListenerIR = { name: listenerName, kind: 'socket', address: '0.0.0.0', port: proxyPort, filterChains: chains, source };
    context.ir.listeners.push(listenerIR);
    frontendPorts[port] = proxyPort;
  }
  const ports = Object.keys(frontendPorts).map(Number).sort((a, b) => a - b);
  if (ports.length === 0) return { programmed };
  const entry: L4ServiceIR = {
    namespace,
    name: gatewayLoadBalancerName(name),
    frontends: ports.map((port) => ({ address: gateway.address!, port, protocol: 'TCP', portName: `port-${port}`, scope: 'LoadBalancer' })),
    backends: [],
    algorithm: 'random',
    affinity: null,
    l7Redirect: { port: frontendPorts[ports[0]!]!, frontendPorts },
    source,
  };
  return { entry, programmed };
}

/** Older routes first, then by namespace/name: who wins an SNI name two TLSRoutes claim. */
function compareRoutes(a: RouteView, b: RouteView): number {
  return compare(a.creationTimestamp || '\uffff', b.creationTimestamp || '\uffff') || compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`);
}

/**
 * The hostnames of `table` that cover `host`, most specific first: the host itself, its wildcards
 * (`a.b.c` -> `*.b.c`, `*.c`), then any host ('').
 */
function coveringPatterns(host: string, wildcards: boolean): string[] {
  if (host === '') return [''];
  if (!wildcards) return [host, ''];
  const labels = host.split('.');
  const out = [host];
  for (let i = 1; i < labels.length; i++) {
    const pattern = `*.${labels.slice(i).join('.')}`;
    if (pattern !== host) out.push(pattern);
  }
  out.push('');
  return out;
}

export function virtualHosts(listeners: ListenerState[], attached: Map<ListenerState, AttachedRoute[]>, cache: RuleCache, context: ListenerContext): VirtualHostIR[] {
  return ownedVirtualHosts(listeners, attached, cache, context).map((entry) => entry.virtualHost);
}

/** Virtual hosts with the listener that owns each (the most specific one serving its hostname). */
function ownedVirtualHosts(listeners: ListenerState[], attached: Map<ListenerState, AttachedRoute[]>, cache: RuleCache, context: ListenerContext): { owner: ListenerState; virtualHost: VirtualHostIR }[] {
  // Each hostname belongs to the most specific listener that serves it (listener isolation).
  const owner = new Map<string, ListenerState>();
  const claim = (host: string, listener: ListenerState) => {
    const current = owner.get(host);
    if (!current || compareHostSpecificity(listener.view.hostname, current.view.hostname) < 0) owner.set(host, listener);
  };
  for (const listener of listeners) {
    claim(listener.view.hostname, listener);
    for (const route of attached.get(listener) ?? []) for (const host of route.hosts) claim(host, listener);
  }
  // Per listener: route entries by the hostname they are served under.
  const byHost = new Map<ListenerState, Map<string, AttachedRoute[]>>();
  for (const listener of listeners) {
    const table = new Map<string, AttachedRoute[]>();
    for (const route of attached.get(listener) ?? []) for (const host of route.hosts) pushTo(table, host, route);
    byHost.set(listener, table);
  }
  const wildcardHosts = new Map([...byHost].map(([listener, table]) => [listener, [...table.keys()].some((host) => host.startsWith('*.'))] as const));
  const hosts: { owner: ListenerState; virtualHost: VirtualHostIR }[] = [];
  for (const [host, listener] of [...owner].sort(([a], [b]) => compareHostSpecificity(a, b))) {
    const table = byHost.get(listener)!;
    const ranked: { rank: RankedMatch; rule: HttpRouteRuleIR }[] = [];
    const seen = new Set<string>();
    for (const pattern of coveringPatterns(host, wildcardHosts.get(listener)!)) {
      for (const route of table.get(pattern) ?? []) {
        if (seen.has(route.view.key)) continue; // served under its most specific covering hostname
        seen.add(route.view.key);
        const rules = cache.rules(route, context);
        route.view.rules.forEach((rule, ruleIndex) =>
          rule.matches.forEach((match, matchIndex) => {
            const ir = rules[ruleIndex]?.[matchIndex];
            if (!ir) return;
            ranked.push({ rank: { host: pattern, match, creationTimestamp: route.view.creationTimestamp, namespace: route.view.namespace, name: route.view.name, ruleIndex, matchIndex }, rule: ir });
          }),
        );
      }
    }
    ranked.sort((a, b) => compareMatches(a.rank, b.rank));
    const domain = host || '*';
    hosts.push({ owner: listener, virtualHost: { name: domain, domains: [domain], routes: ranked.map((entry) => entry.rule) } });
  }
  return hosts;
}
