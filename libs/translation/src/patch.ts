/**
 * Small changes without a translation pass (issue 3, section 7). When the caller says which objects
 * changed (TranslationInput.changes), a change whose effect provably stays inside a few units is
 * patched into the last output: those units are rebuilt from the changed objects, each rebuilt
 * unit's items are put where its old items are in the output (same names, same places), and the
 * problems are swapped — work in proportion to the change, not to the mesh
 * (bench/translate-ingress.mjs, bench/translator-lag.mjs).
 *
 * Patched today:
 * - EndpointSlices of this cluster (what changes most in a live cluster: every Pod started, stopped or
 *   made ready): the units of the Services they name (clusters, endpoints, L4 entry).
 * - An edited Ingress of this cluster that is and stays dedicated (or stays not ours): its load
 *   balancer's unit (listener, routes, SDS secrets, status, LB entry).
 * - An edited Service of this cluster, unless it is global, L7-balanced, ExternalName, or read by a
 *   route, a CiliumEnvoyConfig or as a load balancer's address: its unit, its proxyless target and
 *   the Ingress load balancers routing to it.
 * - An edited Secret of this cluster that no Gateway names (a certificate rotated): the Ingress load
 *   balancers serving it.
 * - An edited HTTPRoute, GRPCRoute or TLSRoute that keeps its parents and hostnames: its status and the
 *   Gateways it is attached to (with the feature's state kept from the last pass, context.stash).
 * A batch of such changes is patched one after the other (EndpointSlices together).
 *
 * Anything this cannot prove local goes through the full pass (which still replays unchanged units,
 * memo.ts): a new or deleted Service or Ingress, a global Service, endpoints a feature copied
 * (TranslationContext.endpointsOf), an item some feature replaced, a rebuilt unit whose items are not
 * the same names as before, an object that disagrees with its key, any other kind. The output is the
 * same as a full translation's either way: memo.test.ts compares them on random edit sequences.
 */
import { canonicalJson, lbKey, type KubeObject, type LbService, type ObjectStatus } from '@tendril/contract';
import { RuleCache, type AttachedRoute } from './features/gateway-api/build.js';
import { buildGatewayUnit, clustersOfRoute, gatewayUnitId, gatewayUnitInputs, routeParents, routeStatus, type GatewayStash, type RouteRecord } from './features/gateway-api/index.js';
import type { ListenerState } from './features/gateway-api/gateways.js';
import { readRoute, type RouteKind } from './kube/routes.js';
import { emptyIR, validate, type KnownNames, type L4ServiceIR, type MeshIR } from '@tendril/model';
import type { TranslationContext } from './feature.js';
import { serviceIdOf, serviceView } from './feature.js';
import { buildIngressUnit, ingressUnitId, ingressUnitInputs, ingressView, isOurs, readSettings, type LbAddress, type Lookups } from './features/ingress.js';
import { buildServiceUnit, isGlobal, readSlice, serviceUnitId, serviceUnitInputs, type ReadSlice } from './features/services.js';
import { buildProxylessUnit, proxylessTargets, proxylessUnitId, proxylessUnitInputs } from './features/proxyless.js';
import { wantsL7 } from './features/service-l7.js';
import { INGRESS_CLASS_ANNOTATION } from './annotations.js';
import { desiredLbService } from './lb/lb-service.js';
import { ProxyPorts } from './allocate/proxy-ports.js';
import type { TranslationMemo, UnitRecord } from './memo.js';
import { ingressLoadBalancerName } from './names.js';
import { ObjectIndex, indexEntry, type IndexedObject } from './objects.js';
import type { TranslationOptions } from './options.js';
import { Problems, compare, type TranslationError } from './problems.js';
import type { StatusOutput, TranslationOutput, XdsOutput } from './translate.js';
import { XDS_EMITTERS } from './xds/index.js';

/** More changed objects than this go through the full pass (a burst is cheaper translated whole). */
export const PATCH_LIMIT = 256;

interface SliceRecord {
  entry: IndexedObject;
  /** `namespace/name` of the Service the slice names, if any. */
  service?: string;
}

/** The IR lists a unit's items live in, with the xDS type each is emitted as. */
const IR_LISTS = [
  { list: 'clusters', type: 'cluster', name: (item: { name: string }) => item.name },
  { list: 'endpoints', type: 'endpoint', name: (item: { clusterName: string }) => item.clusterName },
  { list: 'secrets', type: 'secret', name: (item: { name: string }) => item.name },
  { list: 'listeners', type: 'listener', name: (item: { name: string }) => item.name },
  { list: 'routes', type: 'route', name: (item: { name: string }) => item.name },
] as const;
type IrList = (typeof IR_LISTS)[number]['list'];
const NAME_OF = new Map(IR_LISTS.map((entry) => [entry.list, entry.name as (item: unknown) => string] as const));
const nameOf = (list: IrList, item: unknown) => NAME_OF.get(list)!(item);

/** What the last output was made of, kept by the memo between translations. */
export interface PatchState {
  cluster: string;
  output: TranslationOutput;
  /** This cluster's EndpointSlices that the index took, by key. */
  slices: Map<string, SliceRecord>;
  /** The same slices by the Service they name, sorted by key (as the services feature groups them). */
  slicesByService: Map<string, readonly IndexedObject[]>;
  /** Keys the index refused (their problems are in the output): a change to one goes through the full pass. */
  refused: ReadonlySet<string>;
  /** This cluster's Services and Secrets by `namespace/name`, Ingresses by key. */
  services: Map<string, IndexedObject>;
  secrets: Map<string, IndexedObject>;
  ingresses: Map<string, IndexedObject>;
  /** Where each item sits in output.ir (by list, then name) and output.xds (by `type name`); -1 when a name is there twice. */
  irAt: Record<IrList | 'l4Services', Map<string, number>>;
  xdsAt: Map<string, Map<string, number>>;
  /** Where each LB entry (by lbKey) and status (by key) sits in output.lb and output.statuses. */
  lbAt: Map<string, number>;
  statusAt: Map<string, number>;
  /** The Ingress load balancers' units that read each Service (`namespace/name`), and each unit's Ingresses (keys, in order). */
  ingressUnitsByService: Map<string, string[]>;
  unitIngresses: Map<string, string[]>;
  /** The same for Secrets (`namespace/name`), and the Secrets a Gateway names (loaded outside any unit). */
  ingressUnitsBySecret: Map<string, string[]>;
  secretsReadElsewhere: Set<string>;
  /**
   * Services something outside their own units reads besides Ingresses (routes' backendRefs and
   * parentRefs, CiliumEnvoyConfig services and backendServices), and the ids of load-balancer
   * entries (a Service of that name lends its address): a change to one goes through the full pass.
   */
  readElsewhere: Set<string>;
  /** Names the output's items hold, for checking references of patched items. */
  names: KnownNames;
  /** Every problem reported (before duplicates were merged), as `object\0message` -> count. */
  problemCounts: Map<string, number>;
}

const problemKey = (object: string, message: string) => `${object}\u0000${message}`;

function positions<T>(items: readonly T[], keyOf: (item: T) => string | undefined): Map<string, number> {
  const at = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key !== undefined) at.set(key, at.has(key) ? -1 : i);
  });
  return at;
}

const byNamespacedName = (entries: readonly IndexedObject[]) => new Map(entries.map((entry) => [`${entry.ref.namespace}/${entry.ref.name}`, entry] as const));

/** Records what patchChanges() needs from a full translation's index, problems and output. */
export function recordPatchState(memo: TranslationMemo, context: TranslationContext, problems: TranslationError[], output: TranslationOutput, lbKeys: readonly string[]): void {
  const quiet = new Problems();
  const slices = new Map<string, SliceRecord>();
  const slicesByService = new Map<string, IndexedObject[]>();
  for (const entry of context.index.local('endpointslice')) {
    const service = serviceOfSlice(readSlice(context, entry, quiet));
    slices.set(entry.key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) {
      const list = slicesByService.get(service);
      if (list) list.push(entry);
      else slicesByService.set(service, [entry]);
    }
  }
  const problemCounts = new Map<string, number>();
  for (const problem of problems) {
    const key = problemKey(problem.object, problem.message);
    problemCounts.set(key, (problemCounts.get(key) ?? 0) + 1);
  }
  const services = byNamespacedName(context.index.local('service'));
  const ingresses = new Map(context.index.local('ingress').map((entry) => [entry.key, entry] as const));

  const ingressOfObject = new Map([...ingresses.values()].map((entry) => [entry.object as object, entry.key] as const));
  const secrets = byNamespacedName(context.index.local('secret'));
  const secretOfObject = new Map([...secrets].map(([id, entry]) => [entry.object as object, id] as const));
  const ingressUnitsBySecret = new Map<string, string[]>();
  const ingressUnitsByService = new Map<string, string[]>();
  const unitIngresses = new Map<string, string[]>();
  const readElsewhere = new Set<string>();
  for (const [id, record] of memo.recordedUnits()) {
    if (id.startsWith('ingress ')) {
      readElsewhere.add(id.slice('ingress '.length));
      const keys: string[] = [];
      for (const input of record.inputs) {
        const service = typeof input === 'object' && input !== null ? serviceIdOf(input) : undefined;
        if (service !== undefined) ingressUnitsByService.set(service, [...new Set([...(ingressUnitsByService.get(service) ?? []), id])]);
        const secret = typeof input === 'object' && input !== null ? secretOfObject.get(input) : undefined;
        if (secret !== undefined) ingressUnitsBySecret.set(secret, [...new Set([...(ingressUnitsBySecret.get(secret) ?? []), id])]);
        const ingress = typeof input === 'object' && input !== null ? ingressOfObject.get(input) : undefined;
        if (ingress !== undefined) keys.push(ingress);
      }
      unitIngresses.set(id, keys);
    } else if (id.startsWith('gateway ')) for (const entry of record.ir.l4Services) readElsewhere.add(`${entry.namespace}/${entry.name}`);
  }
  for (const kind of ['httproute', 'grpcroute', 'tlsroute', 'ciliumenvoyconfig', 'ciliumclusterwideenvoyconfig'] as const) {
    for (const entry of context.index.local(kind)) for (const id of mentions(entry)) readElsewhere.add(id);
  }
  const secretsReadElsewhere = new Set(context.index.local('gateway').flatMap((entry) => mentions(entry)));
  const { ir } = output;
  const irAt = { l4Services: positions(ir.l4Services, (service) => `${service.namespace}/${service.name}`) } as PatchState['irAt'];
  for (const { list } of IR_LISTS) irAt[list] = positions(ir[list] as unknown[], NAME_OF.get(list)!);
  // xDS positions by type, then name (the output is sorted by type: one map per run of a type).
  const xdsAt = new Map<string, Map<string, number>>();
  output.xds.forEach((item, i) => {
    let byName = xdsAt.get(item.type);
    if (!byName) xdsAt.set(item.type, (byName = new Map()));
    byName.set(item.name, byName.has(item.name) ? -1 : i);
  });
  memo.patchState = {
    cluster: context.index.cluster,
    output,
    slices,
    slicesByService,
    refused: new Set(context.index.refused),
    services,
    secrets,
    ingresses,
    ingressUnitsByService,
    unitIngresses,
    ingressUnitsBySecret,
    secretsReadElsewhere,
    readElsewhere,
    irAt,
    xdsAt,
    lbAt: positions(lbKeys, (key) => key),
    statusAt: positions(output.statuses, (entry) => entry.key),
    names: {
      clusters: irAt.clusters,
      endpoints: irAt.endpoints,
      routes: irAt.routes,
      secrets: irAt.secrets,
      caSecrets: new Set(ir.secrets.filter((secret) => secret.trustedCa !== undefined).map((secret) => secret.name)),
    },
    problemCounts,
  } satisfies PatchState;
}

/**
 * Every `namespace/name` an object could mean by a reference (a Service of a route or
 * CiliumEnvoyConfig, a Secret of a Gateway): each object in its spec
 * with a string `name` (a backendRef, a parentRef, a services entry), in its own namespace unless it
 * says another. More than it uses is fine: a Service named here just takes the full pass.
 */
function mentions(entry: IndexedObject): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    if (typeof record['name'] === 'string') found.push(`${typeof record['namespace'] === 'string' ? record['namespace'] : (entry.ref.namespace ?? '')}/${record['name']}`);
    for (const item of Object.values(record)) walk(item);
  };
  walk(entry.object['spec']);
  return found;
}

function serviceOfSlice(slice: ReadSlice): string | undefined {
  const { view } = slice;
  return view.serviceName !== undefined && view.source.namespace !== undefined ? `${view.source.namespace}/${view.serviceName}` : undefined;
}

/** A unit rebuilt from changed objects, to be put in place of its recorded output. */
interface Swap {
  id: string;
  old: UnitRecord;
  record: UnitRecord;
}

/** What a planner found: units to swap, problems that came and went besides theirs, and its own state to record. */
interface Plan {
  swaps: Swap[];
  counts: Map<string, number>;
  /** Statuses set outside any unit (a route's), old and new. */
  statusSwaps?: { key: string; before: ObjectStatus; after: ObjectStatus }[];
  commit(): void;
}

interface Patching {
  memo: TranslationMemo;
  state: PatchState;
  cluster: string;
  options: TranslationOptions;
  /** A context for views and rebuilt units (no index: units read only their inputs). */
  context: TranslationContext;
  quiet: Problems;
}

/**
 * The output of a translation after `changes`, patched into the last output when the change is one
 * this can prove local (see above); undefined otherwise (the caller runs the full pass). Nothing is
 * recorded unless the whole patch succeeds.
 */
export function patchChanges(
  memo: TranslationMemo,
  cluster: string,
  options: TranslationOptions,
  changes: Iterable<readonly [string, KubeObject | undefined]>,
): TranslationOutput | undefined {
  const state = memo.patchState as PatchState | undefined;
  if (!state || state.cluster !== cluster || !memo.sameSettings(options, cluster)) return undefined;
  const changed = new Map<string, KubeObject | undefined>();
  for (const [key, object] of changes) {
    changed.set(key, object);
    if (changed.size > PATCH_LIMIT) return undefined;
  }
  memo.stats = { built: 0, reused: 0 };
  const quiet = new Problems();
  const patching: Patching = { memo, state, cluster, options, context: unitContext(memo, cluster, options, emptyIR(), quiet), quiet };
  // The EndpointSlices together, every other object on its own, one after the other: each plan reads
  // what the ones before it recorded. A plan that cannot be made sends the whole change to the full
  // pass, which reads every object and so is right whatever was patched before.
  const slices = new Map([...changed].filter(([key]) => key.startsWith(`${cluster}.endpointslice.`)));
  const plans: (() => Plan | undefined)[] = slices.size ? [() => planSlices(patching, slices)] : [];
  for (const [key, object] of changed) {
    if (slices.has(key)) continue;
    const route = ROUTE_KINDS.find(([, keyKind]) => key.startsWith(`${cluster}.${keyKind}.`));
    if (key.startsWith(`${cluster}.ingress.`)) plans.push(() => planIngress(patching, key, object));
    else if (key.startsWith(`${cluster}.service.`)) plans.push(() => planService(patching, key, object));
    else if (key.startsWith(`${cluster}.secret.`)) plans.push(() => planSecret(patching, key, object));
    else if (route) plans.push(() => planRoute(patching, key, object, route[0], route[1]));
    else return undefined;
  }
  // Nothing changed (a translation asked for another reason): the same output, as a patch of nothing.
  if (plans.length === 0) plans.push(() => ({ swaps: [], counts: new Map(), commit: () => {} }));
  const base = state.output;
  let output: TranslationOutput | undefined = base;
  const patch = { xds: new Map<string, XdsOutput>(), lb: new Map<string, LbService>(), statuses: new Map<string, StatusOutput>() };
  for (const make of plans) {
    const plan = make();
    output = plan && applyPlan(patching, plan);
    if (!output) return undefined;
    for (const item of output.patch!.xds) patch.xds.set(`${item.type} ${item.name}`, item);
    for (const entry of output.patch!.lb) patch.lb.set(lbKey(entry), entry);
    for (const entry of output.patch!.statuses) patch.statuses.set(entry.key, entry);
  }
  // One patch of the output the caller had: what each step replaced, the last value of each.
  state.output = { ...output!, patch: { base: base.serial!, xds: [...patch.xds.values()], lb: [...patch.lb.values()], statuses: [...patch.statuses.values()] } };
  return state.output;
}

/** Adds `errors` to `counts`, `by` times each (-1 when they go). */
function count(counts: Map<string, number>, errors: readonly TranslationError[], by: number): void {
  for (const error of errors) {
    const key = problemKey(error.object, error.message);
    counts.set(key, (counts.get(key) ?? 0) + by);
  }
}

/** Problems `read` reports into a sink of its own. */
function reported(read: (problems: Problems) => unknown): TranslationError[] {
  const sink = new Problems();
  read(sink);
  return sink.entries();
}

/** The index entry of a changed object, or undefined when the index would refuse it (the full pass reports why). */
function changedEntry(patching: Patching, key: string, object: KubeObject, kind: string): IndexedObject | undefined {
  const entry = indexEntry(patching.cluster, key, object, new Problems(), patching.memo.keys);
  return entry && entry.ref.kind === kind && entry.ref.cluster === patching.cluster ? entry : undefined;
}

function planSlices(patching: Patching, changed: Map<string, KubeObject | undefined>): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const counts = new Map<string, number>();
  // The slices after the change, by Service: copies of the lists the change touches.
  const lists = new Map<string, IndexedObject[]>();
  const listOf = (service: string) => {
    let list = lists.get(service);
    if (!list) lists.set(service, (list = [...(state.slicesByService.get(service) ?? [])]));
    return list;
  };
  const slices = new Map<string, SliceRecord | undefined>();
  for (const [key, object] of changed) {
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
        const list = listOf(before.service);
        list.splice(list.indexOf(before.entry), 1);
      }
    }
    if (!entry) {
      slices.set(key, undefined);
      continue;
    }
    count(counts, reported((sink) => readSlice(context, entry, sink)), +1);
    const service = serviceOfSlice(readSlice(context, entry, quiet));
    slices.set(key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) {
      const list = listOf(service);
      let at = list.length;
      while (at > 0 && compare(list[at - 1]!.key, key) > 0) at--;
      list.splice(at, 0, entry);
    }
  }

  const swaps: Swap[] = [];
  for (const [id, list] of lists) {
    const service = state.services.get(id);
    if (!service) continue; // slices of no Service: only their own problems count
    const view = serviceView(context, service, quiet);
    if (view.type === 'ExternalName') continue;
    if (isGlobal(view)) return undefined; // its unit also reads other clusters' slices
    const unitId = serviceUnitId(service);
    const old = memo.recorded(unitId);
    if (!old) return undefined;
    const own: ReadSlice[] = list.map((entry) => readSlice(context, entry, quiet));
    const record = memo.rebuild(serviceUnitInputs(service, own, []), (ir, problems, setStatus) => buildServiceUnit(unitContext(memo, cluster, options, ir, problems, setStatus), view, own, []));
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
    },
  };
}

function planIngress(patching: Patching, key: string, object: KubeObject | undefined): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const before = state.ingresses.get(key);
  if (!before || object === undefined || state.refused.has(key)) return undefined; // a new or deleted Ingress changes the load balancers
  if (before.object === object) return { swaps: [], counts: new Map(), commit: () => {} };
  const entry = changedEntry(patching, key, object, 'ingress');
  if (!entry) return undefined;
  const counts = new Map<string, number>();
  const [oldView, newView] = [ingressView(context, before, quiet), ingressView(context, entry, quiet)];
  count(counts, reported((sink) => ingressView(context, before, sink)), -1);
  count(counts, reported((sink) => ingressView(context, entry, sink)), +1);
  // Without a class of its own, whether it is ours depends on the IngressClass objects: full pass.
  const classed = (view: typeof oldView) => view.annotations[INGRESS_CLASS_ANNOTATION] !== undefined || view.className !== undefined;
  if (!classed(oldView) || !classed(newView)) return undefined;
  const [oursBefore, oursAfter] = [isOurs(context, oldView), isOurs(context, newView)];
  const commit = () => void state.ingresses.set(key, entry);
  if (!oursBefore && !oursAfter) return { swaps: [], counts, commit };
  if (oursBefore !== oursAfter) return undefined;
  const settingsOf = (view: typeof oldView, by: number) => {
    const sink = new Problems();
    const settings = readSettings({ ...context, problems: sink }, view);
    count(counts, sink.entries(), by);
    return settings;
  };
  const [oldSettings, newSettings] = [settingsOf(oldView, -1), settingsOf(newView, +1)];
  if (oldSettings.mode !== 'dedicated' || newSettings.mode !== 'dedicated') return undefined; // shared: one load balancer for many Ingresses
  const namespace = newView.source.namespace;
  const unitId = ingressUnitId(`${namespace}/${ingressLoadBalancerName('dedicated', newView.source.name)}`);
  const old = memo.recorded(unitId);
  if (!old) return undefined;
  // Its port and address were picked outside the unit, from the names of every load balancer: unchanged.
  const [port, address, fromService] = old.inputs as [number | undefined, string | undefined, boolean | undefined];
  const lbAddress: LbAddress | undefined = address === undefined ? undefined : { address, fromService: fromService === true };
  const found: Lookups = {
    services: { get: (id) => (state.services.has(id) ? serviceView(context, state.services.get(id)!, quiet) : undefined) },
    secrets: state.secrets,
    clusters: state.names.clusters,
  };
  const balancer = { namespace, name: ingressLoadBalancerName('dedicated', newView.source.name), ingresses: [{ key, object: entry.object, view: newView, settings: newSettings }] };
  const record = memo.rebuild(ingressUnitInputs(balancer, found, lbAddress, port), (ir, problems, setStatus) => buildIngressUnit(unitContext(memo, cluster, options, ir, problems, setStatus), found, balancer, lbAddress, port));
  return { swaps: [{ id: unitId, old, record }], counts, commit };
}

/**
 * An edited Service of this cluster that is neither global, L7-balanced nor ExternalName (before and
 * after), nor read by routes, CiliumEnvoyConfigs or as a load balancer's address: its own unit, its
 * proxyless target and the Ingress load balancers routing to it are rebuilt.
 */
function planService(patching: Patching, key: string, object: KubeObject | undefined): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  if (object === undefined || state.refused.has(key)) return undefined; // a deleted Service changes what others resolve
  const entry = changedEntry(patching, key, object, 'service');
  if (!entry) return undefined;
  const id = `${entry.ref.namespace}/${entry.ref.name}`;
  const before = state.services.get(id);
  if (!before || before.key !== key) return undefined; // a new Service
  if (before.object === object) return { swaps: [], counts: new Map(), commit: () => {} };
  if (state.readElsewhere.has(id)) return undefined;
  const [oldView, newView] = [serviceView(context, before, quiet), serviceView(context, entry, quiet)];
  for (const view of [oldView, newView]) if (view.type === 'ExternalName' || isGlobal(view) || wantsL7(view)) return undefined;
  const counts = new Map<string, number>();
  count(counts, reported((sink) => serviceView(context, before, sink)), -1);
  count(counts, reported((sink) => serviceView(context, entry, sink)), +1);
  const swaps: Swap[] = [];
  const rebuild = (id: string, inputs: readonly unknown[], build: (unit: TranslationContext) => void) => {
    const old = memo.recorded(id);
    if (!old) return false;
    swaps.push({ id, old, record: memo.rebuild(inputs, (ir, problems, setStatus) => build(unitContext(memo, cluster, options, ir, problems, setStatus))) });
    return true;
  };

  const own: ReadSlice[] = (state.slicesByService.get(id) ?? []).map((slice) => readSlice(context, slice, quiet));
  if (!rebuild(serviceUnitId(entry), serviceUnitInputs(entry, own, []), (unit) => buildServiceUnit(unit, newView, own, []))) return undefined;
  const clustersOf = (unit: UnitRecord) => new Set(unit.ir.clusters.map((item) => item.name));
  const [oldTargets, newTargets] = [proxylessTargets(oldView, clustersOf(swaps[0]!.old)), proxylessTargets(newView, clustersOf(swaps[0]!.record))];
  if ((oldTargets.length === 0) !== (newTargets.length === 0)) return undefined;
  if (newTargets.length && !rebuild(proxylessUnitId(entry), proxylessUnitInputs(entry, newTargets), (unit) => buildProxylessUnit(unit, newView, newTargets))) return undefined;

  // The Ingress load balancers routing to it: same Ingresses, same port and address, the new Service.
  const found: Lookups = {
    services: { get: (other) => (other === id ? newView : state.services.has(other) ? serviceView(context, state.services.get(other)!, quiet) : undefined) },
    secrets: state.secrets,
    clusters: state.names.clusters,
  };
  const rebuilt = rebuildIngressUnits(patching, state.ingressUnitsByService.get(id) ?? [], found);
  if (!rebuilt) return undefined;
  return { swaps: [...swaps, ...rebuilt], counts, commit: () => void state.services.set(id, entry) };
}

/**
 * An edited Secret of this cluster that no Gateway names (Gateways load theirs outside any unit): the
 * Ingress load balancers serving it are rebuilt (a certificate rotated, or broken).
 */
function planSecret(patching: Patching, key: string, object: KubeObject | undefined): Plan | undefined {
  const { state, context, quiet } = patching;
  if (object === undefined || state.refused.has(key)) return undefined; // a deleted Secret changes what others resolve
  const entry = changedEntry(patching, key, object, 'secret');
  if (!entry) return undefined;
  const id = `${entry.ref.namespace}/${entry.ref.name}`;
  const before = state.secrets.get(id);
  if (!before || before.key !== key) return undefined; // a new Secret
  if (before.object === object) return { swaps: [], counts: new Map(), commit: () => {} };
  if (state.secretsReadElsewhere.has(id)) return undefined;
  const found: Lookups = {
    services: { get: (other) => (state.services.has(other) ? serviceView(context, state.services.get(other)!, quiet) : undefined) },
    secrets: { get: (other) => (other === id ? entry : state.secrets.get(other)) },
    clusters: state.names.clusters,
  };
  const swaps = rebuildIngressUnits(patching, state.ingressUnitsBySecret.get(id) ?? [], found);
  if (!swaps) return undefined;
  return { swaps, counts: new Map(), commit: () => void state.secrets.set(id, entry) };
}

const ROUTE_KINDS = [
  ['HTTPRoute', 'httproute'],
  ['GRPCRoute', 'grpcroute'],
  ['TLSRoute', 'tlsroute'],
] as const satisfies readonly (readonly [RouteKind, RouteRecord['keyKind']])[];

/**
 * An edited route (HTTPRoute, GRPCRoute, TLSRoute) of this cluster that keeps its parents and
 * hostnames, is no GAMMA route, and whose backends need no cluster the last pass did not make: its
 * status is decided again and the Gateways it is attached to are rebuilt with it (one RouteConfiguration
 * per Gateway port holds every route attached there, as Envoy's RDS has it).
 */
function planRoute(patching: Patching, key: string, object: KubeObject | undefined, kind: RouteKind, keyKind: RouteRecord['keyKind']): Plan | undefined {
  const { memo, state, cluster, options, context, quiet } = patching;
  const stash = memo.stash.get('gateway-api') as GatewayStash | undefined;
  if (!stash || object === undefined || state.refused.has(key)) return undefined; // a new or deleted route attaches or detaches
  const before = stash.routes.get(key);
  if (!before) return undefined;
  if (before.object === object) return { swaps: [], counts: new Map(), commit: () => {} };
  const entry = changedEntry(patching, key, object, keyKind);
  if (!entry || before.gamma) return undefined;
  const read = (routeEntry: IndexedObject, sink: Problems) => context.view(routeEntry.object, keyKind, sink, (problems) => readRoute(kind, routeEntry, problems));
  const oldEntry = { ...entry, object: before.object as IndexedObject['object'] };
  const view = read(entry, quiet);
  if (canonicalJson(before.view.parentRefs) !== canonicalJson(view.parentRefs) || canonicalJson(before.view.hostnames) !== canonicalJson(view.hostnames)) return undefined;
  const counts = new Map<string, number>();
  count(counts, reported((sink) => read(oldEntry, sink)), -1);
  count(counts, reported((sink) => read(entry, sink)), +1);

  const scratch = emptyIR();
  const outcome = stash.resolver.withIr(scratch, () => routeParents(kind, view, stash));
  if (scratch.clusters.length || scratch.endpoints.length || outcome.gamma.length) return undefined;
  // A cluster the feature made (an HTTP/2 twin, the invalid-backend cluster) lives while some route
  // needs it: a route that used or uses one goes through the full pass.
  if ([...clustersOfRoute(before.resolved), ...clustersOfRoute(outcome.resolved)].some((name) => stash.resolver.made.has(name))) return undefined;
  const sameAttachments =
    outcome.attachments.length === before.attachments.length &&
    outcome.attachments.every((attachment, i) => attachment.listener === before.attachments[i]!.listener && attachment.hosts.join(',') === before.attachments[i]!.hosts.join(','));
  if (!sameAttachments) return undefined;
  const status = routeStatus(kind, entry, view, outcome.parents);
  if ((status === undefined) !== (before.status === undefined)) return undefined;

  // The route in each list of routes attached to a listener, in its place; the Gateways of those listeners rebuilt.
  const lists = new Map<ListenerState, AttachedRoute[]>();
  for (const { listener } of before.attachments) {
    lists.set(listener, (stash.attached.get(listener) ?? []).map((attached) => (attached.view.key === view.key ? { view, resolved: outcome.resolved!, hosts: attached.hosts } : attached)));
  }
  const swaps: Swap[] = [];
  for (const gateway of new Set([...lists.keys()].map((listener) => stash.gatewayOf.get(listener)!))) {
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
    ...(status && before.status ? { statusSwaps: [{ key, before: before.status, after: status }] } : {}),
    commit: () => {
      stash.routes.set(key, { ...before, object: entry.object, view, resolved: outcome.resolved, status: status && before.status && canonicalJson(status) === canonicalJson(before.status) ? before.status : status });
      for (const [listener, list] of lists) stash.attached.set(listener, list);
    },
  };
}

/** The Ingress load balancers' units `unitIds` rebuilt against `found`: same Ingresses, same port and address. */
function rebuildIngressUnits(patching: Patching, unitIds: readonly string[], found: Lookups): Swap[] | undefined {
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

/**
 * Puts each swap's rebuilt items where its old items are in the last output, or answers undefined
 * when one of them is not simply there (replaced by another feature, named differently, copied).
 */
function applyPlan(patching: Patching, plan: Plan): TranslationOutput | undefined {
  const { memo, state, cluster, options } = patching;
  const output = state.output;
  const counts = plan.counts;
  const irAt = new Map<IrList | 'l4Services', Map<number, unknown>>();
  const put = (list: IrList | 'l4Services', at: number, item: unknown) => {
    let map = irAt.get(list);
    if (!map) irAt.set(list, (map = new Map()));
    map.set(at, item);
  };
  const xdsAt = new Map<number, XdsOutput>();
  const lbAt = new Map<number, LbService>();
  const statusAt = new Map<number, StatusOutput>();
  const emitOnce = <T>(node: object, build: () => T) => memo.emit(node, build);
  // Two load balancers serving one Secret make one SDS resource: the first's (ingress.ts). The other's
  // copy is not in the output, and is swapped with its unit alone.
  const swappedSecrets = new Set<unknown>(plan.swaps.flatMap((swap) => swap.old.ir.secrets));

  for (const { old, record } of plan.swaps) {
    if (old.ir.envoyConfigs.length || record.ir.envoyConfigs.length) return undefined;
    for (const { list, type } of IR_LISTS) {
      const [before, after] = [old.ir[list] as unknown[], record.ir[list] as unknown[]];
      if (before.length !== after.length) return undefined;
      for (let i = 0; i < before.length; i++) {
        const name = nameOf(list, before[i]);
        if (name !== nameOf(list, after[i])) return undefined;
        // Equal items keep their identity (and their Envoy resource): nothing to write for them.
        if (canonicalJson(before[i]) === canonicalJson(after[i])) {
          (record.ir[list] as unknown[])[i] = before[i];
          continue;
        }
        // Copied by another feature (an HTTP/2 twin, a CiliumEnvoyConfig backendService): full pass.
        if ((list === 'endpoints' || list === 'clusters') && memo.endpointReads.has(name)) return undefined;
        // A listener's socket is checked against every other listener's: it must not move.
        if (list === 'listeners') {
          const [a, b] = [before[i] as MeshIR['listeners'][number], after[i] as MeshIR['listeners'][number]];
          if (a.kind !== b.kind || a.address !== b.address || a.port !== b.port) return undefined;
        }
        const at = state.irAt[list].get(name);
        const xdsIndex = state.xdsAt.get(type)?.get(name);
        if (list === 'secrets' && at !== undefined && at >= 0 && output.ir.secrets[at] !== before[i] && swappedSecrets.has(output.ir.secrets[at])) continue;
        if (at === undefined || at < 0 || (output.ir[list] as unknown[])[at] !== before[i] || xdsIndex === undefined || xdsIndex < 0) return undefined;
        put(list, at, after[i]);
        const emitter = XDS_EMITTERS.find((candidate) => candidate.type === type)!;
        const [emitted] = emitter.emit({ ...emptyIR(), [list]: [after[i]] }, options, emitOnce);
        xdsAt.set(xdsIndex, { type, ...emitted! });
      }
    }

    if (old.ir.l4Services.length !== record.ir.l4Services.length) return undefined;
    const finalL4: [L4ServiceIR, L4ServiceIR][] = [];
    for (let i = 0; i < old.ir.l4Services.length; i++) {
      const [unitBefore, unitAfter] = [old.ir.l4Services[i]!, record.ir.l4Services[i]!];
      const id = `${unitBefore.namespace}/${unitBefore.name}`;
      if (id !== `${unitAfter.namespace}/${unitAfter.name}`) return undefined;
      const at = state.irAt.l4Services.get(id);
      const finalBefore = at === undefined || at < 0 ? undefined : output.ir.l4Services[at];
      const redirected = finalBefore !== undefined && finalBefore !== unitBefore && isRedirectOf(finalBefore, unitBefore);
      if (!finalBefore || (finalBefore !== unitBefore && !redirected)) return undefined; // replaced by something else (a load balancer's entry of the same name)
      if (canonicalJson(unitBefore) === canonicalJson(unitAfter)) {
        record.ir.l4Services[i] = unitBefore;
        finalL4.push([finalBefore, finalBefore]);
        continue;
      }
      const finalAfter: L4ServiceIR = redirected ? { ...unitAfter, l7Redirect: finalBefore.l7Redirect } : unitAfter;
      finalL4.push([finalBefore, finalAfter]);
      const entry = memo.emit(finalAfter, () => desiredLbService(cluster, finalAfter));
      const lbIndex = state.lbAt.get(lbKey(entry));
      if (lbIndex === undefined || lbIndex < 0) return undefined;
      put('l4Services', at!, finalAfter);
      lbAt.set(lbIndex, entry);
    }

    // Statuses: the same objects' (the last one set wins, as in a pass), found where the old ones are.
    const statusesOf = (unit: UnitRecord) => new Map(unit.statuses);
    const [statusBefore, statusAfter] = [statusesOf(old), statusesOf(record)];
    if (statusBefore.size !== statusAfter.size) return undefined;
    for (const [key, status] of statusBefore) {
      const next = statusAfter.get(key);
      const at = state.statusAt.get(key);
      if (!next || at === undefined || at < 0 || output.statuses[at]!.status !== status) return undefined;
      if (canonicalJson(next) === canonicalJson(status)) record.statuses = record.statuses.map(([k, s]) => [k, s === next ? status : s]);
      else statusAt.set(at, { key, status: next });
    }

    count(counts, old.errors, -1);
    count(counts, record.errors, +1);
    // Checks of the swapped items (validate); those between items give the same answer before and
    // after, as the names and sockets they compare did not change.
    const checked = (unit: UnitRecord, l4: L4ServiceIR[]): TranslationError[] =>
      validate({ ...unit.ir, l4Services: l4 }, memo.checked, state.names).map((problem) => ({ object: problem.object, message: `${problem.path}: ${problem.message}` }));
    count(counts, checked(old, finalL4.map(([before]) => before)), -1);
    count(counts, checked(record, finalL4.map(([, after]) => after)), +1);
  }

  for (const { key, before, after } of plan.statusSwaps ?? []) {
    const at = state.statusAt.get(key);
    if (at === undefined || at < 0 || output.statuses[at]!.status !== before) return undefined;
    if (canonicalJson(before) !== canonicalJson(after)) statusAt.set(at, { key, status: after });
  }

  // Problems after the change; the list is rebuilt only when one appeared or went.
  let appearedOrWent = false;
  for (const [key, delta] of counts) {
    const before = state.problemCounts.get(key) ?? 0;
    if (before + delta < 0) return undefined; // not what the last pass recorded: let the full pass decide
    if ((before > 0) !== (before + delta > 0)) appearedOrWent = true;
  }

  // Certain now: record and answer.
  plan.commit();
  for (const { id, record } of plan.swaps) memo.replace(id, record);
  for (const [key, delta] of counts) {
    const after = (state.problemCounts.get(key) ?? 0) + delta;
    if (after === 0) state.problemCounts.delete(key);
    else state.problemCounts.set(key, after);
  }
  const errors = appearedOrWent
    ? [...state.problemCounts.keys()].sort(compare).map((key) => {
        const split = key.indexOf('\u0000');
        return { object: key.slice(0, split), message: key.slice(split + 1) };
      })
    : output.errors;
  // In place: copying the arrays would cost in proportion to the mesh (see TranslationInput.changes).
  for (const [list, items] of irAt) for (const [at, item] of items) (output.ir[list] as unknown[])[at] = item;
  for (const [at, item] of xdsAt) output.xds[at] = item;
  for (const [at, item] of lbAt) output.lb[at] = item;
  for (const [at, item] of statusAt) output.statuses[at] = item;
  state.output = {
    xds: output.xds,
    lb: output.lb,
    statuses: output.statuses,
    errors,
    ir: output.ir,
    serial: memo.nextSerial(),
    patch: { base: output.serial!, xds: [...xdsAt.values()], lb: [...lbAt.values()], statuses: [...statusAt.values()] },
  };
  memo.lastPass = 'patch';
  return state.output;
}

/** Whether `copy` is `original` with only its redirect changed (lb/redirect.ts makes such copies). */
function isRedirectOf(copy: L4ServiceIR, original: L4ServiceIR): boolean {
  const keys = Object.keys(original) as (keyof L4ServiceIR)[];
  if (Object.keys(copy).length !== keys.length) return false;
  return keys.every((key) => key === 'l7Redirect' || copy[key] === original[key]);
}

/** A context for building one unit outside a pass: units read nothing but their inputs and the options. */
function unitContext(memo: TranslationMemo, cluster: string, options: TranslationOptions, ir: MeshIR, problems: Problems, setStatus: TranslationContext['setStatus'] = () => {}): TranslationContext {
  const context: TranslationContext = {
    index: new ObjectIndex(cluster, [], problems),
    ir,
    problems,
    options,
    proxyPorts: new ProxyPorts(options.proxyPort, options.proxyPortCount),
    setStatus,
    unit: (_id, _inputs, build) => build(context),
    endpointsOf: () => undefined,
    stash: () => {},
    view: (object, kind, sink, read) => memo.view(object, kind, sink, read),
  };
  return context;
}
