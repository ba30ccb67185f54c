/**
 * Routes (HTTPRoute, GRPCRoute, TLSRoute) edited, created or deleted: the one change still planned by
 * hand, until the Gateway API feature's own code is split into units of its own (the routes of each
 * Gateway, each route's parents): its status is decided again and the Gateways it is or was attached
 * to are rebuilt with it, from the feature's state kept from the last pass (context.keep).
 */
import { canonicalJson, type KubeObject } from '@tendril/contract';
import { emptyIR } from '@tendril/model';
import { RuleCache, type AttachedRoute } from '../features/gateway-api/build.js';
import { GATEWAY_STATE, ROUTE_KINDS, buildGatewayUnit, clustersOfRoute, gatewayApiFeature, gatewayUnitId, gatewayUnitInputs, routeParents, routeStatus, type RouteRecord } from '../features/gateway-api/index.js';
import type { ListenerState } from '../features/gateway-api/gateways.js';
import { readRoute, type RouteKind } from '../kube/routes.js';
import { rootReader } from '../memo.js';
import type { IndexedObject } from '../objects.js';
import { compare, type Problems } from '../problems.js';
import { objectRead } from '../reads.js';
import { buildUnit } from '../run.js';
import { changedEntry, count, refOf, reported, type Patching, type Plan, type Swap } from './plan.js';


/**
 * A route (HTTPRoute, GRPCRoute, TLSRoute) of this cluster edited, created or deleted, when it is no
 * GAMMA route and its backends need no cluster the last pass did not make: its status is decided again
 * and the Gateways it is or was attached to are rebuilt with it (one RouteConfiguration per Gateway
 * port holds every route attached there, as Envoy's RDS has it; a listener's attachedRoutes count is
 * in its Gateway's status).
 */
export function planRoute(patching: Patching, key: string, object: KubeObject | undefined, kind: RouteKind, keyKind: RouteRecord['keyKind']): Plan | undefined {
  const { memo, state, cluster, context, quiet } = patching;
  const stash = memo.kept(GATEWAY_STATE);
  if (!stash || memo.index?.refused.has(key)) return undefined;
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
    const record = buildUnit(patching.env, old.feature, gatewayUnitInputs(gateway, attached, proxyPorts), (unit) => buildGatewayUnit(unit, gateway, attached, new RuleCache(), proxyPorts));
    memo.stats.built++;
    swaps.push({ id, old, record });
  }
  return {
    swaps,
    counts,
    ...(status || before?.status ? { statusSwaps: [{ key, ...(before?.status ? { before: before.status } : {}), ...(status ? { after: status } : {}) }] } : {}),
    commit: () => {
      // A Service it names now is read by the feature's own code: a change to it takes the full pass.
      memo.dependents.add(rootReader(gatewayApiFeature.name), named.map((id) => objectRead(cluster, 'service', id.slice(0, id.indexOf('/')), id.slice(id.indexOf('/') + 1))));
      if (entry && view) {
        const kept = status && before?.status && canonicalJson(status) === canonicalJson(before.status) ? before.status : status;
        stash.routes.set(key, { kind, keyKind, object: entry.object, view, resolved: outcome.resolved, status: kept, gamma: false, attachments: outcome.attachments });
      } else stash.routes.delete(key);
      for (const [listener, list] of lists) stash.attached.set(listener, list);
    },
  };
}

/**
 * Every `namespace/name` an object could mean by a reference (a Service of a route): each object in
 * its spec with a string `name` (a backendRef, a parentRef), in its own namespace unless it says
 * another. More than it uses is fine: a Service named here just takes the full pass.
 */
export function mentions(entry: IndexedObject): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    const name = record['name'];
    if (typeof name === 'string') found.push(`${typeof record['namespace'] === 'string' ? record['namespace'] : (entry.ref.namespace ?? '')}/${name}`);
    for (const item of Object.values(record)) walk(item);
  };
  walk(entry.object['spec']);
  return found;
}
