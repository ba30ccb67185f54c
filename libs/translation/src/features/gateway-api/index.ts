/**
 * Gateway API (gateway.networking.k8s.io v1: GatewayClass, Gateway, HTTPRoute, GRPCRoute,
 * ReferenceGrant, TLSRoute, TCPRoute and UDPRoute (l4-routes.ts); GAMMA Service parents) for our
 * GatewayClasses, the way Cilium's gateway controller does it: one `cilium-gateway-<name>` LB entry per
 * Gateway, node-proxy listeners per Gateway port, statuses on every object we own a part of.
 *
 * Decisions taken (and kept): see gateways.ts (classes, parametersRef, conflicts), rules.ts (invalid
 * backends and filters), build.ts (listeners and isolation), gamma.ts. A Gateway's address comes from
 * spec.addresses (IPAddress), else the `cilium-gateway-<name>` Service Tendril owns for it (owned/),
 * once it has one (never picked from a range). Bad input never throws: it becomes a condition
 * with a reason and/or a problem naming object and field.
 */
import type { Condition, ObjectStatus } from '@tendril/contract';
import { ipFamily } from '@tendril/model';
import { parseIPv4Cidr } from '../../allocate/stable-hash.js';
import { ownedAddress } from '../../owned/addresses.js';
import { gatewayOwnedService } from '../../owned/load-balancers.js';
import type { Feature, TranslationContext } from '../../context.js';
import { serviceView, type ServiceView } from '../../kube/service.js';
import { featureState } from '../../feature-state.js';
import { readReferenceGrant } from '../../kube/gateway-api.js';
import { isL4Route, isStreamRoute, readRoute, type RouteKind, type RouteView } from '../../kube/routes.js';
import { gatewayLoadBalancerName } from '../../names.js';
import { BackendTlsTable, backendTlsStatus, readBackendTlsPolicies, type BackendTlsPolicy } from './backend-tls.js';
import { buildL4Entry, l4Listeners, l4Protocol, resolveL4Route } from './l4-routes.js';
import { Problems, compare } from '../../problems.js';
import { attachToGateway, isGatewayRef, isServiceRef } from './attach.js';
import { BackendResolver } from './backends.js';
import { buildGateway, gatewayProxyPorts, RuleCache, type AttachedRoute } from './build.js';
import { buildGamma } from './gamma.js';
import { apiVersionOf, gatewayStatus, listenerEntry, ourClasses, readGateways, type GatewayState, type ListenerState } from './gateways.js';
import { resolveRoute, type ResolvedRoute, type ResolvedRule } from './rules.js';
import { condition } from './status.js';
import { GATEWAY_GROUP } from '../../kube/gateway-api.js';
import { listenerSetStatus, type ListenerSetState } from './listener-sets.js';
import { byName, pushTo, type NamedLookup } from './collections.js';
import type { IndexedObject } from '../../objects.js';

export { SUPPORTED_FEATURES } from './status.js';

/** The route kinds with their key kinds, in the order a Gateway's routes are taken. */
export const ROUTE_KINDS = [
  ['HTTPRoute', 'httproute'],
  ['GRPCRoute', 'grpcroute'],
  ['TLSRoute', 'tlsroute'],
  ['TCPRoute', 'tcproute'],
  ['UDPRoute', 'udproute'],
] as const satisfies readonly (readonly [RouteKind, RouteKeyKind])[];

export type RouteKeyKind = 'httproute' | 'grpcroute' | 'tlsroute' | 'tcproute' | 'udproute';

export const gatewayApiFeature = {
  name: 'gateway-api',
  build(context: TranslationContext): void {
    const classes = ourClasses(context);
    const quiet = new Problems();
    // Services by `namespace/name`, read as looked up: a change to another Service is no concern of this feature.
    const services = byName(context, 'service', (entry) => serviceView(context, entry, quiet));
    const grants = context.index.local('referencegrant').map((entry) => context.view(entry.object, 'referencegrant', context.problems, (sink) => readReferenceGrant(entry, sink)));
    const resolver = new BackendResolver(context.ir, services, grants, (name) => context.endpointsOf(name));
    const backendTls = new BackendTlsTable(readBackendTlsPolicies(context, byName(context, 'configmap', (entry) => entry), byName(context, 'secret', (entry) => entry)));
    resolver.backendTls = backendTls;
    const gateways = readGateways(context, classes, resolver);
    assignAddresses(context, gateways, services);
    const gatewayById = new Map(gateways.map((gateway) => [`${gateway.view.namespace}/${gateway.view.name}`, gateway] as const));
    const namespaceLabels = new Map<string, Record<string, string>>();
    for (const entry of context.index.local('namespace')) {
      const labels = (entry.object['metadata'] as { labels?: Record<string, string> } | undefined)?.labels ?? {};
      namespaceLabels.set(entry.ref.name, labels);
    }

    const attached = new Map<ListenerState, AttachedRoute[]>();
    const gamma = new Map<string, AttachedRoute[]>();
    const controllerName = context.options.gatewayControllerName;
    const listenerSetById = new Map(gateways.flatMap((gateway) => gateway.listenerSets.map((set) => [`${set.view.namespace}/${set.view.name}`, { gateway, set }] as const)));
    const routeContext: RouteContext = { gatewayById, listenerSetById, namespaceLabels, resolver, services, controllerName };
    const routes = new Map<string, RouteRecord>();
    for (const [kind, keyKind] of ROUTE_KINDS) {
      for (const entry of context.index.local(keyKind)) {
        const view = context.view(entry.object, keyKind, context.problems, (sink) => readRoute(kind, entry, sink));
        const outcome = routeParents(kind, view, routeContext);
        for (const attachment of outcome.attachments) {
          attachment.listener.attachedRoutes.add(view.key);
          pushTo(attached, attachment.listener, { view, resolved: outcome.resolved!, hosts: attachment.hosts });
        }
        for (const id of outcome.gamma) pushTo(gamma, id, { view, resolved: outcome.resolved!, hosts: [''] });
        const status = routeStatus(kind, entry, view, outcome.parents);
        if (status) context.setStatus(view.key, status);
        routes.set(entry.key, { kind, keyKind, object: entry.object, view, resolved: outcome.resolved, status, gamma: outcome.gamma.length > 0, attachments: outcome.attachments });
      }
    }

    setBackendTlsStatuses(context, backendTls, routes, gateways, controllerName);

    const cache = new RuleCache();
    const proxyPortsOf = new Map<GatewayState, Map<number, number | undefined>>();
    for (const gateway of gateways) {
      const proxyPorts = gatewayProxyPorts(context, gateway);
      proxyPortsOf.set(gateway, proxyPorts);
      const { namespace, name } = gateway.view;
      const l4Ports = gateway.notAccepted ? [] : l4Listeners(gateway).map((listener) => ({ port: listener.view.port, protocol: l4Protocol(listener)! }));
      const owned = gatewayOwnedService({ object: gateway.object, apiVersion: gateway.apiVersion, namespace, name, serviceName: gatewayLoadBalancerName(name), requested: gateway.view.addresses.filter((address) => address.value !== '').map((address) => address.value) }, proxyPorts, l4Ports);
      if (owned) context.own(owned);
      // One unit per Gateway: while the Gateway, what decides its listeners, and its routes (with what
      // their backends resolved to) are unchanged, the recorded listeners, routes, LB entry and status
      // are replayed (same IR objects, so their Envoy resources are not emitted again).
      context.unit(gatewayUnitId(gateway), gatewayUnitInputs(gateway, attached, proxyPorts), (unit) => buildGatewayUnit(unit, gateway, attached, cache, proxyPorts));
    }
    // What an edited route needs to be patched in without this pass (patch/).
    context.keep(GATEWAY_STATE, { ...routeContext, attached, routes, proxyPortsOf, gatewayOf: new Map(gateways.flatMap((gateway) => gateway.listeners.map((listener) => [listener, gateway] as const))) } satisfies GatewayStash);
    // A Service of an LB entry's name (Cilium's own, or the one Tendril owns) lends its address; ours replace its entry.
    const ours = new Set(context.ir.l4Services.filter((service) => service.source.kind === 'Gateway' && service.name.startsWith('cilium-gateway-')));
    const ids = new Set([...ours].flatMap((entry) => [`${entry.namespace}/${entry.name}`, `${entry.namespace}/${gatewayLoadBalancerName(entry.source.name)}`]));
    if (ids.size) context.ir.l4Services = context.ir.l4Services.filter((service) => !ids.has(`${service.namespace}/${service.name}`) || ours.has(service));

    for (const [id, routes] of [...gamma].sort(([a], [b]) => compare(a, b))) {
      const service = services.get(id)!;
      if (!buildGamma(context, service, routes, cache)) context.problems.field(service.source, 'spec', 'GAMMA routes attach to this Service, but it has no virtual IP to redirect (headless or ExternalName)');
    }
  },
} satisfies Feature;

/** Each BackendTLSPolicy's status: an ancestor per Gateway of ours with a route to a Service it targets. */
function setBackendTlsStatuses(context: TranslationContext, table: BackendTlsTable, routes: Map<string, RouteRecord>, gateways: GatewayState[], controllerName: string): void {
  if (table.policies.length === 0) return;
  const gatewayOf = new Map(gateways.flatMap((gateway) => gateway.listeners.map((listener) => [listener, `${gateway.view.namespace}/${gateway.view.name}`] as const)));
  const ancestors = new Map<BackendTlsPolicy, Set<string>>();
  for (const route of routes.values()) {
    if (route.attachments.length === 0 || route.kind === 'TLSRoute' || isL4Route(route.kind)) continue;
    const services = new Set(route.view.rules.flatMap((rule) => [...rule.backendRefs, ...rule.filters.flatMap((filter) => (filter.type === 'RequestMirror' ? [filter.backendRef] : []))]).map((backend) => `${backend.namespace ?? route.view.namespace}/${backend.name}`));
    for (const service of services) {
      for (const policy of table.targets(service)) {
        const set = ancestors.get(policy) ?? new Set();
        for (const attachment of route.attachments) set.add(gatewayOf.get(attachment.listener)!);
        ancestors.set(policy, set);
      }
    }
  }
  for (const policy of table.policies) {
    const gatewayIds = ancestors.get(policy);
    if (!gatewayIds?.size) continue; // no Gateway of ours uses it: its status is not ours to write
    const { namespace, name } = policy.meta;
    context.setStatus(policy.meta.key, { v: 1, apiVersion: policy.apiVersion, kind: 'BackendTLSPolicy', namespace, name, status: backendTlsStatus(policy, table.conflicted.get(policy), [...gatewayIds], controllerName) });
  }
}

/** What deciding a route's parents reads. */
export interface RouteContext {
  gatewayById: Map<string, GatewayState>;
  /** ListenerSets naming a Gateway of ours, by `namespace/name`. */
  listenerSetById: Map<string, { gateway: GatewayState; set: ListenerSetState<ListenerState> }>;
  namespaceLabels: Map<string, Record<string, string>>;
  resolver: BackendResolver;
  services: NamedLookup<ServiceView>;
  controllerName: string;
}

export interface RouteRecord {
  kind: RouteKind;
  keyKind: RouteKeyKind;
  object: object;
  view: RouteView;
  /** What its backends resolved to (absent when no parent of ours asked). */
  resolved: ResolvedRoute | undefined;
  status: ObjectStatus | undefined;
  /** It has a Service parent (GAMMA). */
  gamma: boolean;
  attachments: { listener: ListenerState; hosts: string[] }[];
}

/** The feature's state after a pass, kept by the memo for patch/. */
export const GATEWAY_STATE = featureState<GatewayStash>('gateway-api');

export interface GatewayStash extends RouteContext {
  attached: Map<ListenerState, AttachedRoute[]>;
  /** Routes by key. */
  routes: Map<string, RouteRecord>;
  proxyPortsOf: Map<GatewayState, Map<number, number | undefined>>;
  gatewayOf: Map<ListenerState, GatewayState>;
}

/**
 * A route's parents: per parentRef ours, its Accepted and ResolvedRefs conditions; the listeners it
 * attaches to (with the hostnames it gets on each); the Services it is a GAMMA route of.
 */
export function routeParents(kind: RouteKind, view: RouteView, context: RouteContext): { parents: Record<string, unknown>[]; resolved?: ResolvedRoute; attachments: { listener: ListenerState; hosts: string[] }[]; gamma: string[] } {
  const { gatewayById, listenerSetById, namespaceLabels, resolver, services, controllerName } = context;
  let resolved: ResolvedRoute | undefined;
  const parents: Record<string, unknown>[] = [];
  const attachments: { listener: ListenerState; hosts: string[] }[] = [];
  const gamma: string[] = [];
  for (const parent of view.parentRefs) {
    let accepted: Condition;
    if (isGatewayRef(parent)) {
      const gateway = gatewayById.get(`${parent.namespace ?? view.namespace}/${parent.name}`);
      if (!gateway) continue; // not ours, or not there: its controller (if any) reports
      resolved ??= isL4Route(kind) ? resolveL4Route(view, resolver, services) : resolveRoute(view, resolver);
      // a parentRef to the Gateway attaches to its own listeners, not its ListenerSets'
      const own = gateway.listenerSets.length ? { ...gateway, listeners: gateway.listeners.filter((listener) => !listener.listenerSet) } : gateway;
      const outcome = attachToGateway(view, parent, own, namespaceLabels);
      accepted = outcome.accepted;
      const dropped = droppedRules(view, resolved);
      if (accepted.status === 'True' && dropped?.all) accepted = condition('Accepted', false, dropped.all, dropped.message, view.generation);
      else attachments.push(...outcome.attachments);
    } else if (parent.group === GATEWAY_GROUP && parent.kind === 'ListenerSet') {
      const found = listenerSetById.get(`${parent.namespace ?? view.namespace}/${parent.name}`);
      if (!found) continue; // not ours, or not there
      resolved ??= isL4Route(kind) ? resolveL4Route(view, resolver, services) : resolveRoute(view, resolver);
      const { gateway, set } = found;
      // the set's listeners, with allowedRoutes Same meaning the set's namespace
      const asParent = { ...gateway, view: { ...gateway.view, namespace: set.view.namespace, name: set.view.name }, listeners: set.listeners, ...(set.notAllowed ? { notAccepted: set.notAllowed } : {}) };
      const outcome = attachToGateway(view, parent, asParent, namespaceLabels);
      accepted = outcome.accepted;
      const dropped = droppedRules(view, resolved);
      if (accepted.status === 'True' && dropped?.all) accepted = condition('Accepted', false, dropped.all, dropped.message, view.generation);
      else attachments.push(...outcome.attachments);
    } else if (isServiceRef(parent) && !isStreamRoute(kind)) {
      resolved ??= resolveRoute(view, resolver);
      const namespace = parent.namespace ?? view.namespace;
      const service = services.get(`${namespace}/${parent.name}`);
      if (namespace !== view.namespace) accepted = condition('Accepted', false, 'NotAllowedByListeners', `Service ${namespace}/${parent.name}: GAMMA routes apply to Services of their own namespace`, view.generation);
      else if (!service) accepted = condition('Accepted', false, 'NoMatchingParent', `Service ${namespace}/${parent.name} not found`, view.generation);
      else {
        const dropped = droppedRules(view, resolved);
        if (dropped?.all) accepted = condition('Accepted', false, dropped.all, dropped.message, view.generation);
        else {
          gamma.push(`${namespace}/${parent.name}`);
          accepted = condition('Accepted', true, 'Accepted', 'Route accepted', view.generation);
        }
      }
    } else continue;
    const conditions = [accepted, resolvedRefs(view, resolved!)];
    const dropped = droppedRules(view, resolved!);
    // PartiallyInvalid only beside Accepted=True: never on a route fully valid, fully invalid or not accepted.
    if (dropped && !dropped.all && accepted.status === 'True') conditions.push(condition('PartiallyInvalid', true, 'UnsupportedValue', dropped.message, view.generation));
    parents.push({ parentRef: { ...parent.echo }, controllerName, conditions });
  }
  return { parents, ...(resolved ? { resolved } : {}), attachments, gamma };
}

/**
 * The rules of a route that are dropped (RuleInvalidity), as its status says them: `all` is the
 * Accepted=False reason when no rule stands (that of the first dropped rule); the message starts with
 * "Dropped Rule", as the spec asks of PartiallyInvalid, and names each rule (by name, else index) and why.
 */
function droppedRules(view: RouteView, resolved: ResolvedRoute): { all?: string; message: string } | undefined {
  const dropped = resolved.rules.filter((rule) => rule.invalid);
  if (dropped.length === 0) return undefined;
  const label = (rule: ResolvedRule) => (rule.view.name ? `${rule.index} (${rule.view.name})` : `${rule.index}`);
  const message = `Dropped Rule${dropped.length > 1 ? 's' : ''} ${dropped.map((rule) => `${label(rule)}: ${rule.invalid!.message}`).join('; ')}`;
  return dropped.length === resolved.rules.length ? { all: dropped[0]!.invalid!.reason, message } : { message };
}

/** The clusters a resolved route sends to or mirrors to. */
export function clustersOfRoute(resolved: ResolvedRoute | undefined): string[] {
  return (resolved?.rules ?? []).flatMap((rule) => [...rule.backends.map((backend) => backend.clusterName), ...rule.mirrors.map((mirror) => mirror.clusterName)]);
}

/** A route's desired status, when it has a parent of ours. */
export function routeStatus(kind: RouteKind, entry: IndexedObject, view: RouteView, parents: Record<string, unknown>[]): ObjectStatus | undefined {
  return parents.length ? { v: 1, apiVersion: apiVersionOf(entry), kind, namespace: view.namespace, name: view.name, status: { parents } } : undefined;
}

export function gatewayUnitId(gateway: GatewayState): string {
  return `gateway ${gateway.view.key}`;
}

/** What a Gateway's unit reads: the Gateway, what decides its listeners, its routes with what their backends resolved to. */
export function gatewayUnitInputs(gateway: GatewayState, attached: Map<ListenerState, AttachedRoute[]>, proxyPorts: Map<number, number | undefined>): unknown[] {
  const inputs: unknown[] = [gateway.object, ...gateway.listenerSets.map((set) => set.object), gateway.address, JSON.stringify([gateway.notAccepted, gateway.addressNotUsable, gateway.backendClientCertificateUnresolved, gateway.backendClientCertificate, gateway.listeners.map(listenerSummary), [...proxyPorts]])];
  for (const listener of gateway.listeners) for (const route of attached.get(listener) ?? []) inputs.push(listener.view.name, route.view, route.hosts.join(','), resolutionSignature(route.resolved));
  return inputs;
}

/** A Gateway's listeners, routes, LB entry and status. */
export function buildGatewayUnit(unit: TranslationContext, gateway: GatewayState, attached: Map<ListenerState, AttachedRoute[]>, cache: RuleCache, proxyPorts: Map<number, number | undefined>): void {
  const built = buildGateway(unit, gateway, attached, cache, proxyPorts);
  if (built.entry) unit.ir.l4Services.push(built.entry);
  const l4 = buildL4Entry(unit, gateway, attached);
  if (l4.entry) unit.ir.l4Services.push(l4.entry);
  for (const listener of l4.programmed) built.programmed.add(listener);
  unit.setStatus(gateway.view.key, { v: 1, apiVersion: gateway.apiVersion, kind: 'Gateway', namespace: gateway.view.namespace, name: gateway.view.name, status: gatewayStatus(gateway, built.programmed) });
  for (const set of gateway.listenerSets) {
    const status = listenerSetStatus(set, !gateway.notAccepted, (listener) => listenerEntry(listener, built.programmed, !!gateway.notAccepted, set.view.generation));
    unit.setStatus(set.key, { v: 1, apiVersion: set.apiVersion, kind: 'ListenerSet', namespace: set.view.namespace, name: set.view.name, status });
  }
}

/** What a Gateway's output depends on in a listener besides its spec: certificates, kinds, conflicts, attached routes. */
function listenerSummary(listener: ListenerState): unknown[] {
  return [listener.view.name, listener.family, listener.terminate, listener.notAccepted, listener.conflicted, listener.overlappingTls, listener.unresolved, listener.secretNames, listener.clientValidation, listener.supportedKinds, listener.attachedRoutes.size];
}

/** What a route's backends and filters resolved to (cluster names and weights, refusals), as text. */
function resolutionSignature(resolved: ResolvedRoute): string {
  return JSON.stringify([resolved.rules.map((rule) => [rule.refused, rule.invalid?.message, rule.backends.map((backend) => [backend.clusterName, backend.weight]), rule.mirrors.map((mirror) => [mirror.clusterName, mirror.percent])]), resolved.l4 ?? []]);
}

function resolvedRefs(route: RouteView, resolved: ResolvedRoute): Condition {
  const first = resolved.problems[0];
  if (!first) return condition('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', route.generation);
  const message = resolved.problems.map((problem) => problem.message).join('; ');
  return condition('ResolvedRefs', false, first.reason, message, route.generation);
}

/**
 * Each Gateway's address: an IPAddress in spec.addresses (another type, or an invalid IP: Accepted=False
 * UnsupportedAddress; outside options.gatewayCidr: Programmed=False AddressNotUsable), else the address
 * of the `cilium-gateway-<name>` Service Tendril owns (owned/addresses.ts); none until it has one.
 */
function assignAddresses(context: TranslationContext, gateways: GatewayState[], services: NamedLookup<ServiceView>): void {
  for (const gateway of gateways) {
    if (gateway.notAccepted) continue;
    // An entry without a value asks for an address of our choosing (GatewayAddressEmpty).
    const requested = gateway.view.addresses.filter((address) => address.value !== '');
    if (requested.length) {
      const unsupported = requested.find((address) => address.type !== 'IPAddress' || ipFamily(address.value) === undefined);
      if (unsupported) {
        gateway.notAccepted = ['UnsupportedAddress', `spec.addresses: ${unsupported.type} "${unsupported.value}" is not supported (IPAddress with a valid IP only)`];
        continue;
      }
      // Usable: inside options.gatewayCidr, the range the node proxies serve Gateways from.
      const unusable = requested.filter((address) => !inCidr(address.value, context.options.gatewayCidr));
      const usable = requested.find((address) => inCidr(address.value, context.options.gatewayCidr));
      if (usable) gateway.address = usable.value;
      if (unusable.length) gateway.addressNotUsable = `spec.addresses: ${unusable.map((address) => address.value).join(', ')} outside ${context.options.gatewayCidr} cannot be served`;
      else if (!usable) gateway.addressNotUsable = 'spec.addresses: no usable address';
      continue;
    }
    // Else its own Service's (owned/): never picked from a range.
    const address = ownedAddress(services.get(`${gateway.view.namespace}/${gatewayLoadBalancerName(gateway.view.name)}`));
    if (address) gateway.address = address;
  }
}

function inCidr(address: string, cidr: string): boolean {
  const range = parseIPv4Cidr(cidr);
  const octets = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address)?.slice(1).map(Number);
  if (!range || !octets || octets.some((octet) => octet > 255)) return false;
  const value = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return value >= range.base && value < range.base + range.size;
}
