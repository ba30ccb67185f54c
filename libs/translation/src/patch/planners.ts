/** One planner per kind of change: which units to rebuild, and how (see index.ts). */
import { canonicalJson, type KubeObject } from '@tendril/contract';
import { RuleCache, type AttachedRoute } from '../features/gateway-api/build.js';
import { GATEWAY_STATE, buildGatewayUnit, clustersOfRoute, gatewayUnitId, gatewayUnitInputs, routeParents, routeStatus, type RouteRecord } from '../features/gateway-api/index.js';
import type { ListenerState } from '../features/gateway-api/gateways.js';
import { readRoute, type RouteKind } from '../kube/routes.js';
import { emptyIR } from '@tendril/model';
import type { TranslationContext } from '../context.js';
import { serviceView, type ServiceView } from '../kube/service.js';
import { INGRESS_STATE, buildIngressUnit, ingressUnitId, ingressUnitInputs, ingressView, isOurs, readSettings, type LbAddress, type Lookups } from '../features/ingress.js';
import { FEATURES } from '../features/index.js';
import { SERVICES_STATE, buildServiceUnit, isGlobal, readSlice, remoteServiceOf, sliceServiceId, serviceUnitId, serviceUnitInputs, type ReadSlice, type RemoteSlice } from '../features/services.js';
import { buildProxylessUnit, proxylessTargets, proxylessUnitId, proxylessUnitInputs } from '../features/proxyless.js';
import { wantsL7 } from '../features/service-l7.js';
import { INGRESS_CLASS_ANNOTATION } from '../annotations.js';
import type { UnitRecord } from '../memo.js';
import { ingressListenerName, ingressLoadBalancerName } from '../names.js';
import { indexEntry, type IndexedObject } from '../objects.js';
import { Problems, compare } from '../problems.js';
import { changedEntry, count, refOf, reported, unitContext, type Patching, type Plan, type Swap } from './plan.js';
import { mentions, noteEntry, type SliceRecord } from './state.js';
import { PROXY_PORTS_STATE } from '../allocate/proxy-ports.js';
import { ingressOwnedService } from '../owned/load-balancers.js';
import type { OwnedLoadBalancer } from '../owned/owned-objects.js';

export function planSlices(patching: Patching, changed: Map<string, KubeObject | undefined>): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const stash = memo.kept(SERVICES_STATE);
  const counts = new Map<string, number>();
  // The slices after the change, by Service: copies of the lists the change touches (ours, and other
  // clusters' slices of global Services).
  const lists = new Map<string, IndexedObject[]>();
  const remoteLists = new Map<string, IndexedObject[]>();
  const copyOf = (copies: Map<string, IndexedObject[]>, from: Map<string, readonly IndexedObject[]> | undefined, service: string) => {
    let list = copies.get(service);
    if (!list) copies.set(service, (list = [...(from?.get(service) ?? [])]));
    return list;
  };
  const insert = (list: IndexedObject[], entry: IndexedObject) => {
    let at = list.length;
    while (at > 0 && compare(list[at - 1]!.key, entry.key) > 0) at--;
    list.splice(at, 0, entry);
  };
  const slices = new Map<string, SliceRecord | undefined>();
  const remoteSlices = new Map<string, RemoteSlice | undefined>();
  for (const [key, object] of changed) {
    const ref = refOf(patching, key);
    if (!ref || ref.kind !== 'endpointslice') return undefined;
    if (ref.cluster !== cluster) {
      // Another cluster's slice: it counts only for a Service global there and here (its problems are that cluster's).
      if (!stash) return undefined;
      const before = stash.remoteSlices.get(key);
      if (object !== undefined && before?.entry.object === object) continue;
      const entry = object === undefined ? undefined : indexEntry(cluster, key, object, new Problems(), memo.keys);
      if (entry && entry.ref.kind !== 'endpointslice') return undefined;
      if (before?.service !== undefined && stash.global.has(before.service)) {
        const list = copyOf(remoteLists, stash.remote, before.service.slice(before.service.indexOf('|') + 1));
        list.splice(list.indexOf(before.entry), 1);
      }
      if (!entry) {
        remoteSlices.set(key, undefined);
        continue;
      }
      const service = remoteServiceOf(entry, readSlice(context, entry, quiet));
      remoteSlices.set(key, service === undefined ? { entry } : { entry, service });
      if (service !== undefined && stash.global.has(service)) insert(copyOf(remoteLists, stash.remote, service.slice(service.indexOf('|') + 1)), entry);
      continue;
    }
    if (state.refused.has(key)) return undefined;
    const before = state.slices.get(key);
    if (object !== undefined && before?.entry.object === object) continue;
    if (object === undefined && !before) continue; // deleted before any translation saw it
    let entry: IndexedObject | undefined;
    if (object !== undefined) {
      entry = changedEntry(patching, key, object, 'endpointslice');
      if (!entry) return undefined;
    }
    if (before) {
      count(counts, reported((sink) => readSlice(context, before.entry, sink)), -1);
      if (before.service !== undefined) {
        const list = copyOf(lists, state.slicesByService, before.service);
        list.splice(list.indexOf(before.entry), 1);
      }
    }
    if (!entry) {
      slices.set(key, undefined);
      continue;
    }
    count(counts, reported((sink) => readSlice(context, entry, sink)), +1);
    const service = sliceServiceId(readSlice(context, entry, quiet).view);
    slices.set(key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) insert(copyOf(lists, state.slicesByService, service), entry);
  }

  const swaps: Swap[] = [];
  for (const id of new Set([...lists.keys(), ...remoteLists.keys()])) {
    const service = state.services.get(id);
    if (!service) continue; // slices of no Service: only their own problems count
    const view = serviceView(context, service, quiet);
    if (view.type === 'ExternalName') continue;
    const global = isGlobal(view);
    if (!lists.has(id) && !global) continue; // other clusters' slices count only for a global Service
    if (global && !stash) return undefined;
    const unitId = serviceUnitId(service);
    const old = memo.recorded(unitId);
    if (!old) return undefined;
    const own: ReadSlice[] = (lists.get(id) ?? state.slicesByService.get(id) ?? []).map((entry) => readSlice(context, entry, quiet));
    const others: ReadSlice[] = global ? (remoteLists.get(id) ?? stash!.remote.get(id) ?? []).map((entry) => readSlice(context, entry, quiet)) : [];
    const record = memo.rebuild(serviceUnitInputs(service, own, others), (ir, problems, setStatus) => buildServiceUnit(unitContext(memo, cluster, options, ir, problems, setStatus), view, own, others));
    swaps.push({ id: unitId, old, record });
  }
  return {
    swaps,
    counts,
    commit: () => {
      for (const [key, record] of slices) {
        if (record) state.slices.set(key, record);
        else state.slices.delete(key);
      }
      for (const [service, list] of lists) {
        if (list.length) state.slicesByService.set(service, list);
        else state.slicesByService.delete(service);
      }
      for (const [key, record] of remoteSlices) {
        if (record) stash!.remoteSlices.set(key, record);
        else stash!.remoteSlices.delete(key);
      }
      for (const [service, list] of remoteLists) {
        if (list.length) stash!.remote.set(service, list);
        else stash!.remote.delete(service);
      }
    },
  };
}

export function planIngress(patching: Patching, key: string, object: KubeObject | undefined): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  if (state.refused.has(key)) return undefined;
  const before = state.ingresses.get(key);
  if (before?.object === object || (!before && object === undefined)) return { swaps: [], counts: new Map(), commit: () => {} };
  const entry = object === undefined ? undefined : changedEntry(patching, key, object, 'ingress');
  if (object !== undefined && !entry) return undefined;
  const counts = new Map<string, number>();
  const [oldView, newView] = [before && ingressView(context, before, quiet), entry && ingressView(context, entry, quiet)];
  if (before) count(counts, reported((sink) => ingressView(context, before, sink)), -1);
  if (entry) count(counts, reported((sink) => ingressView(context, entry, sink)), +1);
  // Without a class of its own, whether it is ours depends on the IngressClass objects: full pass.
  const classed = (view: typeof oldView) => view === undefined || view.annotations[INGRESS_CLASS_ANNOTATION] !== undefined || view.className !== undefined;
  if (!classed(oldView) || !classed(newView)) return undefined;
  const [oursBefore, oursAfter] = [oldView !== undefined && isOurs(context, oldView), newView !== undefined && isOurs(context, newView)];
  const commitEntry = () => {
    if (entry) {
      noteEntry(entry);
      state.ingresses.set(key, entry);
    } else state.ingresses.delete(key);
  };
  if (!oursBefore && !oursAfter) return { swaps: [], counts, commit: commitEntry };
  if (before && entry && oursBefore !== oursAfter) return undefined;
  const settingsOf = (view: NonNullable<typeof oldView>, by: number) => {
    const sink = new Problems();
    const settings = readSettings({ ...context, problems: sink }, view);
    count(counts, sink.entries(), by);
    return settings;
  };
  const [oldSettings, newSettings] = [oldView && oursBefore ? settingsOf(oldView, -1) : undefined, newView && oursAfter ? settingsOf(newView, +1) : undefined];
  if ((oldSettings && oldSettings.mode !== 'dedicated') || (newSettings && newSettings.mode !== 'dedicated')) return undefined; // shared: one load balancer for many Ingresses
  const view = (newView ?? oldView)!;
  const namespace = view.source.namespace;
  const name = ingressLoadBalancerName('dedicated', view.source.name);
  const id = `${namespace}/${name}`;
  const unitId = ingressUnitId(id);
  const old = memo.recorded(unitId);
  if ((before !== undefined) !== (old !== undefined)) return undefined;
  const found = lookups(patching);

  // Its port and address: the same as before for an edit; for a load balancer that comes or goes, the
  // picks made again over every name, taken only when no other load balancer's port or address moves.
  let port: number | undefined;
  let lbAddress: LbAddress | undefined;
  let adopt = () => {};
  if (old) {
    const [oldPort, address, fromService] = old.inputs as [number | undefined, string | undefined, boolean | undefined];
    port = oldPort;
    lbAddress = address === undefined ? undefined : { address, fromService: fromService === true };
  }
  if (!before || !entry) {
    const picks = repick(patching, id, entry !== undefined);
    if (!picks) return undefined;
    ({ port, address: lbAddress, adopt } = picks);
  }
  const swap: Swap = { id: unitId, ...(old ? { old } : {}) };
  let owned: OwnedLoadBalancer | undefined;
  if (entry && newSettings) {
    const balancer = { namespace, name, ingresses: [{ key, object: entry.object, view: newView!, settings: newSettings }] };
    swap.record = memo.rebuild(ingressUnitInputs(balancer, found, lbAddress, port), (ir, problems, setStatus) => buildIngressUnit(unitContext(memo, cluster, options, ir, problems, setStatus), found, balancer, lbAddress, port));
    if (port !== undefined) owned = ingressOwnedService(balancer, port, newSettings.loadBalancerClass);
  }
  return {
    swaps: [swap],
    counts,
    commit: () => {
      commitEntry();
      adopt();
      // its Service as the full pass would own it (owned/)
      const had = memo.owned.get(id);
      if (owned) memo.owned.set(id, owned);
      else memo.owned.delete(id);
      if (canonicalJson(had ?? null) !== canonicalJson(owned ?? null)) memo.ownedVersion++;
      if (entry) state.unitIngresses.set(unitId, [key]);
      else state.unitIngresses.delete(unitId);
      state.readElsewhere.add(id);
    },
  };
}

/**
 * The node-proxy port and the address of dedicated load balancer `id` coming (`adding`) or going, made
 * again as the full pass makes them (every pick in order, with this one added or dropped), or
 * undefined when another load balancer's pick would move, a Service of its name would lend the
 * address, or the picks were not kept.
 */
function repick(patching: Patching, id: string, adding: boolean): { port: number | undefined; address: LbAddress | undefined; adopt: () => void } | undefined {
  const { memo, state } = patching;
  const ports = memo.kept(PROXY_PORTS_STATE);
  const ingress = memo.kept(INGRESS_STATE);
  // A load balancer's address is its own Service's: one that comes has none yet (the full pass says so).
  if (adding || !ports || !ingress || state.services.has(id)) return undefined;
  // One that found no address has a problem reported outside its unit: the full pass drops it.
  if (!adding && !ingress.addresses.has(id)) return undefined;
  const slash = id.indexOf('/');
  const listener = ingressListenerName(id.slice(0, slash), id.slice(slash + 1));
  // Ports: this listener's pick among the Ingress ones, which come in balancer order after the L7
  // Services' and before the Gateways'.
  const ingressIds = new Map([...ingress.addresses.keys()].map((other) => [ingressListenerName(other.slice(0, other.indexOf('/')), other.slice(other.indexOf('/') + 1)), other] as const));
  const phase = (name: string) => FEATURES.findIndex((feature) => feature.name === name);
  let picks = ports.picks.filter((pick) => pick.name !== listener);
  if (adding) {
    let at = picks.findIndex((pick) => phase(pick.phase) > phase('ingress') || (pick.phase === 'ingress' && compare(ingressIds.get(pick.name) ?? '', id) > 0));
    if (at < 0) at = picks.length;
    picks = [...picks.slice(0, at), { name: listener, phase: 'ingress', port: undefined }, ...picks.slice(at)];
  }
  const replayed = ports.replay(picks);
  if (picks.some((pick) => pick.name !== listener && replayed.get(pick.name) !== pick.port)) return undefined;
  return {
    port: undefined,
    address: undefined,
    adopt: () => {
      ports.adopt(picks.map((pick) => ({ ...pick, port: replayed.get(pick.name) })));
      ingress.picked = ingress.picked.filter((other) => other !== id);
      ingress.addresses.delete(id);
    },
  };
}

/**
 * An edited Service of this cluster that is neither global, L7-balanced nor ExternalName (before and
 * after), nor read by routes, CiliumEnvoyConfigs or as a load balancer's address: its own unit, its
 * proxyless target and the Ingress load balancers routing to it are rebuilt.
 */
export function planService(patching: Patching, key: string, object: KubeObject | undefined): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const ref = refOf(patching, key);
  if (!ref || state.refused.has(key)) return undefined;
  const id = `${ref.namespace}/${ref.name}`;
  const before = state.services.get(id);
  const entry = object === undefined ? undefined : changedEntry(patching, key, object, 'service');
  if (object !== undefined && !entry) return undefined;
  if ((!before && !entry) || (before && before.object === object)) return { swaps: [], counts: new Map(), commit: () => {} };
  if (state.readElsewhere.has(id)) return undefined;
  const [oldView, newView] = [before && serviceView(context, before, quiet), entry && serviceView(context, entry, quiet)];
  for (const view of [oldView, newView]) if (view && (view.type === 'ExternalName' || isGlobal(view) || wantsL7(view))) return undefined;
  const counts = new Map<string, number>();
  if (before) count(counts, reported((sink) => serviceView(context, before, sink)), -1);
  if (entry) count(counts, reported((sink) => serviceView(context, entry, sink)), +1);
  const build = (inputs: readonly unknown[], unit: (context: TranslationContext) => void) => memo.rebuild(inputs, (ir, problems, setStatus) => unit(unitContext(memo, cluster, options, ir, problems, setStatus)));

  // Its own unit: clusters, endpoints, L4 entry (new, rebuilt, or gone).
  const unitId = serviceUnitId((entry ?? before)!);
  const old = memo.recorded(unitId);
  if ((before !== undefined) !== (old !== undefined)) return undefined;
  const own: ReadSlice[] = (state.slicesByService.get(id) ?? []).map((slice) => readSlice(context, slice, quiet));
  const record = entry && newView && build(serviceUnitInputs(entry, own, []), (unit) => buildServiceUnit(unit, newView, own, []));
  const swaps: Swap[] = [{ id: unitId, ...(old ? { old } : {}), ...(record ? { record } : {}) }];

  // Its proxyless target (when a port has a cluster).
  const clustersOf = (unit: UnitRecord | undefined) => new Set((unit?.ir.clusters ?? []).map((item) => item.name));
  const [oldTargets, newTargets] = [oldView ? proxylessTargets(oldView, clustersOf(old)) : [], newView ? proxylessTargets(newView, clustersOf(record)) : []];
  const targetId = proxylessUnitId((entry ?? before)!);
  const oldTarget = memo.recorded(targetId);
  if ((oldTargets.length > 0) !== (oldTarget !== undefined)) return undefined;
  if (oldTargets.length || newTargets.length) {
    const newTarget = newTargets.length ? build(proxylessUnitInputs(entry!, newTargets), (unit) => buildProxylessUnit(unit, newView!, newTargets)) : undefined;
    swaps.push({ id: targetId, ...(oldTarget ? { old: oldTarget } : {}), ...(newTarget ? { record: newTarget } : {}) });
  }

  // The Ingress load balancers routing to it (or to the Service missing until now): same Ingresses,
  // same port and address, the Service as it is now (its clusters too, when it is new).
  const found = lookups(patching, { service: { id, view: newView }, clusters: clustersOf(record) });
  const routing = (before ? state.ingressUnitsByService.get(id) : state.missingServices.get(id)) ?? [];
  const rebuilt = rebuildIngressUnits(patching, routing, found);
  if (!rebuilt) return undefined;
  return {
    swaps: [...swaps, ...rebuilt],
    counts,
    commit: () => {
      state.patchedServices.add(id);
      if (entry) state.services.set(id, entry);
      else state.services.delete(id);
    },
  };
}

/**
 * An edited Secret of this cluster that no Gateway names (Gateways load theirs outside any unit): the
 * Ingress load balancers serving it are rebuilt (a certificate rotated, or broken).
 */
export function planSecret(patching: Patching, key: string, object: KubeObject | undefined): Plan | undefined {
  const { state } = patching;
  if (object === undefined || state.refused.has(key)) return undefined; // a deleted Secret changes what others resolve
  const entry = changedEntry(patching, key, object, 'secret');
  if (!entry) return undefined;
  const id = `${entry.ref.namespace}/${entry.ref.name}`;
  const before = state.secrets.get(id);
  if (!before || before.key !== key) return undefined; // a new Secret
  if (before.object === object) return { swaps: [], counts: new Map(), commit: () => {} };
  if (state.secretsReadElsewhere.has(id)) return undefined;
  const found = lookups(patching, { secret: { id, entry } });
  const swaps = rebuildIngressUnits(patching, state.ingressUnitsBySecret.get(id) ?? [], found);
  if (!swaps) return undefined;
  return {
    swaps,
    counts: new Map(),
    commit: () => {
      noteEntry(entry);
      state.secrets.set(id, entry);
    },
  };
}

export const ROUTE_KINDS = [
  ['HTTPRoute', 'httproute'],
  ['GRPCRoute', 'grpcroute'],
  ['TLSRoute', 'tlsroute'],
] as const satisfies readonly (readonly [RouteKind, RouteRecord['keyKind']])[];

/**
 * A route (HTTPRoute, GRPCRoute, TLSRoute) of this cluster edited, created or deleted, when it is no
 * GAMMA route and its backends need no cluster the last pass did not make: its status is decided again
 * and the Gateways it is or was attached to are rebuilt with it (one RouteConfiguration per Gateway
 * port holds every route attached there, as Envoy's RDS has it; a listener's attachedRoutes count is
 * in its Gateway's status).
 */
export function planRoute(patching: Patching, key: string, object: KubeObject | undefined, kind: RouteKind, keyKind: RouteRecord['keyKind']): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const stash = memo.kept(GATEWAY_STATE);
  if (!stash || state.refused.has(key)) return undefined;
  const before = stash.routes.get(key);
  if (before?.object === object || (!before && object === undefined)) return { swaps: [], counts: new Map(), commit: () => {} };
  const entry = object === undefined ? undefined : changedEntry(patching, key, object, keyKind);
  if ((object !== undefined && !entry) || before?.gamma) return undefined;
  const read = (routeEntry: IndexedObject, sink: Problems) => context.view(routeEntry.object, keyKind, sink, (problems) => readRoute(kind, routeEntry, problems));
  const oldEntry = before && { ...(entry ?? { key, ref: refOf(patching, key)!, source: { kind, name: refOf(patching, key)!.name } }), object: before.object as IndexedObject['object'] };
  // What it names: a Service patched since the last pass is not what the kept state resolves against.
  const named = entry ? mentions(entry) : [];
  if ([...named, ...(oldEntry ? mentions(oldEntry) : [])].some((id) => state.patchedServices.has(id))) return undefined;
  const counts = new Map<string, number>();
  if (before) count(counts, reported((sink) => read(oldEntry!, sink)), -1);
  const view = entry && read(entry, quiet);
  if (entry) count(counts, reported((sink) => read(entry, sink)), +1);

  const scratch = emptyIR();
  const outcome = view ? stash.resolver.withIr(scratch, () => routeParents(kind, view, stash)) : { parents: [], attachments: [], gamma: [] };
  if (scratch.clusters.length || scratch.endpoints.length || outcome.gamma.length) return undefined;
  // A cluster the feature made (an HTTP/2 twin, the invalid-backend cluster) lives while some route
  // needs it: a route that used or uses one goes through the full pass.
  if ([...clustersOfRoute(before?.resolved), ...clustersOfRoute(outcome.resolved)].some((name) => stash.resolver.made.has(name))) return undefined;
  const status = view && entry ? routeStatus(kind, entry, view, outcome.parents) : undefined;

  // Each listener it was or is attached to: its list of attached routes without it, then with it where
  // the pass puts it (routes in kind, then key order); its count of attached routes. The Gateways of
  // those listeners are rebuilt. (The listeners' counts change here: a plan that fails leads to the full
  // pass, which makes the Gateway state anew.)
  const rank = (route: { kind: RouteKind; key: string }) => ROUTE_KINDS.findIndex(([candidate]) => candidate === route.kind);
  const order = (a: { kind: RouteKind; key: string }, b: { kind: RouteKind; key: string }) => rank(a) - rank(b) || compare(a.key, b.key);
  const listeners = new Set([...(before?.attachments ?? []), ...outcome.attachments].map((attachment) => attachment.listener));
  const lists = new Map<ListenerState, AttachedRoute[]>();
  for (const listener of listeners) {
    const others = (stash.attached.get(listener) ?? []).filter((attached) => attached.view.key !== key);
    const mine = outcome.attachments.filter((attachment) => attachment.listener === listener).map((attachment) => ({ view: view!, resolved: outcome.resolved!, hosts: attachment.hosts }));
    let at = others.length;
    if (mine.length) while (at > 0 && order(others[at - 1]!.view, { kind, key }) > 0) at--;
    lists.set(listener, [...others.slice(0, at), ...mine, ...others.slice(at)]);
    if (mine.length) listener.attachedRoutes.add(key);
    else listener.attachedRoutes.delete(key);
  }
  const swaps: Swap[] = [];
  for (const gateway of new Set([...listeners].map((listener) => stash.gatewayOf.get(listener)!))) {
    const id = gatewayUnitId(gateway);
    const old = memo.recorded(id);
    const proxyPorts = stash.proxyPortsOf.get(gateway);
    if (!old || !proxyPorts) return undefined;
    const attached = new Map(gateway.listeners.map((listener) => [listener, lists.get(listener) ?? stash.attached.get(listener) ?? []] as const));
    const record = memo.rebuild(gatewayUnitInputs(gateway, attached, proxyPorts), (ir, problems, setStatus) => buildGatewayUnit(unitContext(memo, cluster, options, ir, problems, setStatus), gateway, attached, new RuleCache(), proxyPorts));
    swaps.push({ id, old, record });
  }
  return {
    swaps,
    counts,
    ...(status || before?.status ? { statusSwaps: [{ key, ...(before?.status ? { before: before.status } : {}), ...(status ? { after: status } : {}) }] } : {}),
    commit: () => {
      // A Service it names now is read outside its own units: a change to it takes the full pass.
      for (const id of named) state.readElsewhere.add(id);
      if (entry && view) {
        const kept = status && before?.status && canonicalJson(status) === canonicalJson(before.status) ? before.status : status;
        stash.routes.set(key, { kind, keyKind, object: entry.object, view, resolved: outcome.resolved, status: kept, gamma: false, attachments: outcome.attachments });
      } else stash.routes.delete(key);
      for (const [listener, list] of lists) stash.attached.set(listener, list);
    },
  };
}

/**
 * What Ingress translation looks up (ingress.ts Lookups), answered from what the patch state keeps,
 * with the Service or Secret a plan changes as it is now, and the clusters a new Service adds.
 */
function lookups(patching: Patching, changed: { service?: { id: string; view: ServiceView | undefined }; secret?: { id: string; entry: IndexedObject }; clusters?: Set<string> } = {}): Lookups {
  const { state, context, quiet } = patching;
  const { service, secret, clusters } = changed;
  return {
    services: { get: (id) => (id === service?.id ? service.view : state.services.has(id) ? serviceView(context, state.services.get(id)!, quiet) : undefined) },
    secrets: { get: (id) => (id === secret?.id ? secret.entry : state.secrets.get(id)) },
    clusters: clusters?.size ? { has: (name) => state.names.clusters.has(name) || clusters.has(name) } : state.names.clusters,
  };
}

/** The Ingress load balancers' units `unitIds` rebuilt against `found`: same Ingresses, same port and address. */
export function rebuildIngressUnits(patching: Patching, unitIds: readonly string[], found: Lookups): Swap[] | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const swaps: Swap[] = [];
  for (const unitId of unitIds) {
    const keys = state.unitIngresses.get(unitId) ?? [];
    const old = memo.recorded(unitId);
    if (!old || keys.length === 0) return undefined;
    const ingresses = keys.map((ingressKey) => {
      const ingress = state.ingresses.get(ingressKey)!;
      const view = ingressView(context, ingress, quiet);
      return { key: ingressKey, object: ingress.object, view, settings: readSettings({ ...context, problems: new Problems() }, view) };
    });
    const lbId = unitId.slice('ingress '.length);
    const slash = lbId.indexOf('/');
    const balancer = { namespace: lbId.slice(0, slash), name: lbId.slice(slash + 1), ingresses };
    const [port, address, fromService] = old.inputs as [number | undefined, string | undefined, boolean | undefined];
    const lbAddress: LbAddress | undefined = address === undefined ? undefined : { address, fromService: fromService === true };
    const record = memo.rebuild(ingressUnitInputs(balancer, found, lbAddress, port), (ir, problems, setStatus) => buildIngressUnit(unitContext(memo, cluster, options, ir, problems, setStatus), found, balancer, lbAddress, port));
    swaps.push({ id: unitId, old, record });
  }
  return swaps;
}

