/**
 * Small changes without a translation pass. When the caller says which objects changed
 * (TranslationInput.changes), the units whose recorded reads a change touches (reads.ts: an object by
 * key, an index query whose answer moved, an IR item an earlier unit made) are built again by their
 * feature's own code, feature by feature in pass order; a feature whose own code outside units read
 * something touched runs that code again when it may (Feature.rerunnable: its units whose reads and
 * parameters are unchanged are kept, those it no longer builds go), and otherwise the change takes the
 * full pass. Each rebuilt unit's items are put where its old items are in the output (same names,
 * same places, apply.ts), and the problems and statuses are swapped: work in proportion to the change,
 * not to the mesh (bench/translate-ingress.mjs, bench/translator-lag.mjs).
 *
 * Decisions spanning units are checked, not assumed: node-proxy ports a feature picks again are
 * replayed over every pick in pass order and taken only when no other pick moves (PhasePorts); an
 * item whose name another unit also makes, a listener whose socket moves, endpoints a feature copied,
 * an item some feature replaced: the full pass. Routes are planned by hand still (routes.ts). Outputs
 * stay sorted (found by binary search); IR lists do not keep the pass's order (additions go last, a
 * removed item's place takes the last one), which means nothing: every output is sorted. The output is
 * the same as a full translation's either way: memo.test.ts compares them on random edit sequences.
 */
import { lbKey, type KubeObject, type LbService, type ObjectStatus } from '@tendril/contract';
import { canonicalJson } from '@tendril/contract';
import { emptyIR, type MeshIR } from '@tendril/model';
import type { TranslationContext } from '../context.js';
import { PhasePorts, PROXY_PORTS_STATE } from '../allocate/proxy-ports.js';
import { FEATURES, QUERY_BY_NAME } from '../features/index.js';
import { rootReader, sameParams, type RootRecord, type TranslationMemo } from '../memo.js';
import type { TranslationOptions } from '../options.js';
import type { IndexedObject } from '../objects.js';
import type { OwnedLoadBalancer } from '../owned/owned-objects.js';
import { Problems } from '../problems.js';
import { SOCKETS_READ, touchedBy } from '../reads.js';
import { buildUnit, irName, makeContext, type Env } from '../run.js';
import type { StatusOutput, TranslationOutput, XdsOutput } from '../output.js';
import { count, refOf, type Patching, type Plan, type Swap } from './plan.js';
import { ROUTE_KINDS } from '../features/gateway-api/index.js';
import { planRoute } from './routes.js';
import { applyPlan } from './apply.js';
import { ALL_LISTS, PATCH_STATE } from './state.js';

/** More changed objects than this go through the full pass (a burst is cheaper translated whole). */
export const PATCH_LIMIT = 1024;

export function patchChanges(
  memo: TranslationMemo,
  cluster: string,
  options: TranslationOptions,
  changes: Iterable<readonly [string, KubeObject | undefined]>,
): TranslationOutput | undefined {
  const state = memo.kept(PATCH_STATE);
  if (!state || state.cluster !== cluster || !memo.sameSettings(options, cluster)) return undefined;
  const changed = new Map<string, KubeObject | undefined>();
  for (const [key, object] of changes) {
    changed.set(key, object);
    if (changed.size > PATCH_LIMIT) return undefined;
  }
  const index = memo.index;
  if (!index) return undefined;
  memo.stats = { built: 0, reused: 0 };
  const quiet = new Problems();
  // Names of the output's items, with what this patch added and removed so far (for features later in pass order).
  const added = new Set<string>();
  const removed = new Set<string>();
  const env: Env = {
    index,
    queries: QUERY_BY_NAME,
    options,
    proxyPorts: memo.kept(PROXY_PORTS_STATE)!,
    made: (list, name) => added.has(`${list}|${name}`) || (!removed.has(`${list}|${name}`) && state.irAt[list].has(name)),
    endpointsOf: (clusterName) => state.output.ir.endpoints[state.irAt.endpoints.get(clusterName) ?? -1],
    keep: () => {},
    view: (object, kind, sink, read) => memo.view(object, kind, sink, read),
  };
  const context = makeContext(env, { ir: emptyIR(), problems: quiet, setStatus: () => {} }, new Map(), false, (_id, _params, build) => build(context), () => {});
  const patching: Patching = { memo, state, cluster, options, env, context, quiet };

  // The objects as changed; what they touch, but routes (planned by hand, after the rest).
  const touched: string[] = [];
  const routes: [string, KubeObject | undefined, (typeof ROUTE_KINDS)[number]][] = [];
  const services = new Set<string>();
  // Objects of this cluster created or deleted: units of one per object come or go (eachObject).
  const comings: { entry: IndexedObject; gone: boolean }[] = [];
  for (const [key, object] of changed) {
    const ref = refOf(patching, key);
    if (!ref) return undefined;
    const now = index.get(key);
    if (now !== undefined ? now.object === object : object === undefined && !index.refused.has(key)) continue;
    const moved = index.put(key, object);
    if (!moved) return undefined; // a key the index refuses: the full pass reports it
    const route = ROUTE_KINDS.find(([, keyKind]) => keyKind === ref.kind);
    if (route && ref.cluster === cluster) routes.push([key, object, route]);
    else touched.push(...touchedBy(index, moved.before, moved.after));
    if (ref.cluster === cluster && (moved.before === undefined) !== (moved.after === undefined)) comings.push({ entry: (moved.after ?? moved.before)!, gone: moved.after === undefined });
    if (ref.kind === 'service' && ref.cluster === cluster) services.add(`${ref.namespace}/${ref.name}`);
  }
  const plans: (() => Plan | undefined)[] = [];
  if (touched.length) plans.push(() => planTouched(patching, touched, comings, added, removed, services));
  for (const [key, object, [kind, keyKind]] of routes) plans.push(() => planRoute(patching, key, object, kind, keyKind));
  // Nothing changed (a translation asked for another reason): the same output, as a patch of nothing.
  if (plans.length === 0) plans.push(() => ({ swaps: [], counts: new Map(), commit: () => {} }));
  const base = state.output;
  let output: TranslationOutput | undefined = base;
  // One patch of the output the caller had: the last step's word on each item, put or removed.
  const puts = { xds: new Map<string, XdsOutput>(), lb: new Map<string, LbService>(), statuses: new Map<string, StatusOutput>() };
  const gone = { xds: new Map<string, XdsOutput>(), lb: new Map<string, LbService>(), statuses: new Map<string, StatusOutput>() };
  const step = <T>(items: T[], keyOf: (item: T) => string, into: Map<string, T>, outOf: Map<string, T>) => {
    for (const item of items) {
      outOf.delete(keyOf(item));
      into.set(keyOf(item), item);
    }
  };
  const xdsKeyOf = (item: XdsOutput) => `${item.type} ${item.name}`;
  const statusKeyOf = (entry: StatusOutput) => entry.key;
  for (const make of plans) {
    const plan = make();
    output = plan && applyPlan(patching, plan);
    if (!output) return undefined;
    const { patch } = output;
    step(patch!.xds, xdsKeyOf, puts.xds, gone.xds);
    step(patch!.removed.xds, xdsKeyOf, gone.xds, puts.xds);
    step(patch!.lb, lbKey, puts.lb, gone.lb);
    step(patch!.removed.lb, lbKey, gone.lb, puts.lb);
    step(patch!.statuses, statusKeyOf, puts.statuses, gone.statuses);
    step(patch!.removed.statuses, statusKeyOf, gone.statuses, puts.statuses);
  }
  // Keys of objects gone are not parsed again: the parse cache must not grow with churn between passes.
  for (const [key, object] of changed) if (object === undefined) memo.keys.delete(key);
  state.output = {
    ...output!,
    patch: { base: base.serial!, xds: [...puts.xds.values()], lb: [...puts.lb.values()], statuses: [...puts.statuses.values()], removed: { xds: [...gone.xds.values()], lb: [...gone.lb.values()], statuses: [...gone.statuses.values()] } },
  };
  return state.output;
}

export { recordPatchState, type PatchState } from './state.js';

/**
 * The units whose reads `touched` names, built again by their features in pass order (and the
 * features' own code, where it read something touched), as one plan; undefined when some change
 * cannot be patched (see above).
 */
function planTouched(patching: Patching, touched: string[], comings: { entry: IndexedObject; gone: boolean }[], added: Set<string>, removed: Set<string>, services: Set<string>): Plan | undefined {
  const { memo, state, env } = patching;
  const dirty = memo.dependents.of(touched);
  const swaps: Swap[] = [];
  const counts = new Map<string, number>();
  const statusSwaps: NonNullable<Plan['statusSwaps']> = [];
  const commits: (() => void)[] = [];
  for (const feature of FEATURES) {
    const first = swaps.length;
    const root = memo.roots.get(feature.name);
    if (!root) return undefined;
    if (dirty.has(rootReader(feature.name))) {
      if (!feature.rerunnable) return undefined;
      const rerun = rerunRoot(patching, feature, root, dirty, swaps);
      if (!rerun) return undefined;
      count(counts, root.errors, -1);
      count(counts, rerun.record.errors, +1);
      statusSwaps.push(...rootStatusSwaps(root, rerun.record));
      commits.push(rerun.commit);
    } else {
      // The units of objects created or deleted (a loop of one unit per object), then the dirty ones.
      const handled = new Set<string>();
      for (const loop of root.loops) {
        for (const { entry, gone } of comings) {
          if (entry.ref.kind !== loop.kind) continue;
          const id = `${loop.prefix} ${entry.key}`;
          const old = memo.recorded(id);
          handled.add(id);
          if (gone) {
            if (old) swaps.push({ id, old });
          } else {
            const { namespace, name } = entry.ref;
            swaps.push({ id, ...(old ? { old } : {}), record: buildUnit(env, feature.name, [], (unit) => loop.build(unit, namespace, name)) });
            memo.stats.built++;
          }
          commits.push(() => {
            root.units = root.units.filter((other) => other !== id);
            if (!gone) root.units.push(id);
          });
        }
      }
      for (const id of dirty) {
        const old = memo.recorded(id);
        if (old?.feature !== feature.name || handled.has(id)) continue;
        swaps.push({ id, old, record: buildUnit(env, feature.name, old.params, old.build) });
        memo.stats.built++;
      }
    }
    // What the rebuilt units changed of the IR: readers later in pass order are built again too.
    memo.dependents.of(irTouched(swaps.slice(first), added, removed), dirty);
  }
  return {
    swaps,
    counts,
    statusSwaps,
    commit: () => {
      for (const commit of commits) commit();
      for (const id of services) state.patchedServices.add(id);
    },
  };
}

/** A feature's own code run again alone; its units kept where their reads and parameters are unchanged. */
function rerunRoot(patching: Patching, feature: (typeof FEATURES)[number], root: RootRecord, dirty: Set<string>, swaps: Swap[]): { record: RootRecord; commit: () => void } | undefined {
  const { memo, env } = patching;
  const kept = memo.kept(PROXY_PORTS_STATE);
  if (!kept) return undefined;
  const phase = FEATURES.findIndex((candidate) => candidate === feature);
  const ports = new PhasePorts(kept, feature.name, (other) => FEATURES.findIndex((candidate) => candidate.name === other) < phase);
  const record: RootRecord = { reads: new Set(), errors: [], statuses: [], owned: [], units: [], loops: [] };
  const reads = new Map<string, unknown>();
  const problems = new Problems();
  const ir = emptyIR();
  const own = { ...env, proxyPorts: ports };
  const unit: TranslationContext['unit'] = (id, params, build) => {
    record.units.push(id);
    const old = memo.recorded(id);
    if (old && old.feature === feature.name && sameParams(old.params, params) && !dirty.has(id)) return;
    swaps.push({ id, ...(old ? { old } : {}), record: buildUnit(own, feature.name, params, build) });
    memo.stats.built++;
  };
  const context = makeContext(own, { ir, problems, setStatus: (key, status) => record.statuses.push([key, status]) }, reads, false, unit, (balancer) => record.owned.push(balancer), record.loops);
  feature.build(context);
  // Its own code writes no item outside units (Feature.rerunnable); one that did takes the full pass.
  if (ALL_LISTS.some((list) => (ir[list] as unknown[]).length > 0) || ir.envoyConfigs.length) return undefined;
  const now = new Set(record.units);
  for (const id of root.units) {
    const old = memo.recorded(id);
    if (!now.has(id) && old) swaps.push({ id, old });
  }
  const picks = ports.verify();
  if (!picks) return undefined;
  record.errors = problems.entries();
  record.reads = new Set(reads.keys());
  return {
    record,
    commit: () => {
      if (picks !== kept.picks) kept.adopt(picks);
      memo.roots.set(feature.name, record);
      if (record.reads.size !== root.reads.size || [...record.reads].some((key) => !root.reads.has(key))) memo.dependents.set(rootReader(feature.name), record.reads);
      updateOwned(memo, root.owned, record.owned);
    },
  };
}

/** The statuses a feature's own code set before and now, as swaps (the last one set of a key wins). */
function rootStatusSwaps(before: RootRecord, after: RootRecord): NonNullable<Plan['statusSwaps']> {
  const [old, now] = [new Map(before.statuses), new Map(after.statuses)];
  const swaps: NonNullable<Plan['statusSwaps']> = [];
  for (const key of new Set([...old.keys(), ...now.keys()])) {
    const [a, b] = [old.get(key), now.get(key)];
    if (a === b || (a && b && canonicalJson(a) === canonicalJson(b))) continue;
    swaps.push({ key, ...(a ? { before: a } : {}), ...(b ? { after: b } : {}) } as { key: string; before?: ObjectStatus; after?: ObjectStatus });
  }
  return swaps;
}

/** The owned load balancers a feature declares now in place of those it declared (memo.owned). */
function updateOwned(memo: TranslationMemo, before: OwnedLoadBalancer[], after: OwnedLoadBalancer[]): void {
  const id = (balancer: OwnedLoadBalancer) => `${balancer.namespace}/${balancer.name}`;
  const next = new Map(after.map((balancer) => [id(balancer), balancer] as const));
  let moved = false;
  for (const balancer of before) {
    if (!next.has(id(balancer))) {
      memo.owned.delete(id(balancer));
      moved = true;
    }
  }
  for (const [key, balancer] of next) {
    const had = memo.owned.get(key);
    if (had === balancer || (had && canonicalJson(had) === canonicalJson(balancer))) continue;
    memo.owned.set(key, balancer);
    moved = true;
  }
  if (moved) memo.ownedVersion++;
}

/** The IR read keys rebuilt units touch (items added, removed or changed; sockets), noting names added and removed. */
function irTouched(swaps: readonly Swap[], added: Set<string>, removed: Set<string>): string[] {
  const keys: string[] = [];
  for (const { old, record } of swaps) {
    for (const list of ALL_LISTS) {
      const before = new Map(((old?.ir[list] ?? []) as unknown[]).map((item) => [irName(list, item), item] as const));
      const after = new Map(((record?.ir[list] ?? []) as unknown[]).map((item) => [irName(list, item), item] as const));
      for (const name of new Set([...before.keys(), ...after.keys()])) {
        const [a, b] = [before.get(name), after.get(name)];
        const key = `${list}|${name}`;
        if (a === undefined || b === undefined) {
          keys.push(`p|${key}`, `i|${key}`);
          if (b === undefined) {
            removed.add(key);
            added.delete(key);
          } else {
            added.add(key);
            removed.delete(key);
          }
        } else if (canonicalJson(a) !== canonicalJson(b)) keys.push(`i|${key}`);
        if (list === 'listeners' && sockets(a) !== sockets(b)) keys.push(SOCKETS_READ);
      }
    }
  }
  return keys;
}

const sockets = (listener: unknown) => {
  const item = listener as MeshIR['listeners'][number] | undefined;
  return item?.kind === 'socket' ? `${item.address}|${item.port}` : '';
};
