/**
 * Small changes without a translation pass. When the caller says which objects
 * changed (TranslationInput.changes), a change whose effect provably stays inside a few units is
 * patched into the last output: those units are rebuilt from the changed objects, each rebuilt
 * unit's items are put where its old items are in the output (same names, same places), and the
 * problems are swapped — work in proportion to the change, not to the mesh
 * (bench/translate-ingress.mjs, bench/translator-lag.mjs).
 *
 * Patched today:
 * - EndpointSlices (what changes most in a live cluster: every Pod started, stopped or made ready):
 *   the units of the Services they name (clusters, endpoints, L4 entry); another cluster's slice counts
 *   for our Service of its name when that Service is global in both clusters.
 * - An Ingress of this cluster edited that is and stays dedicated (or stays not ours): its load
 *   balancer's unit (listener, routes, SDS secrets, status, LB entry) and its owned Service (owned/).
 *   One that comes or goes takes the full pass: its address is its owned Service's, which comes and
 *   goes with it (repick() says so).
 * - A Service of this cluster edited, created or deleted, unless it is global, L7-balanced,
 *   ExternalName, or read by a route, a CiliumEnvoyConfig or as a load balancer's address: its unit,
 *   its proxyless target (added or removed with it) and the Ingress load balancers routing to it.
 * - An edited Secret of this cluster that no Gateway names (a certificate rotated): the Ingress load
 *   balancers serving it.
 * - An HTTPRoute, GRPCRoute or TLSRoute edited, created or deleted: its status and the Gateways it is or
 *   was attached to (with the feature's state kept from the last pass, context.keep).
 * A batch of such changes is patched one after the other (EndpointSlices together).
 *
 * Anything this cannot prove local goes through the full pass (which still replays unchanged units,
 * memo.ts): an Ingress whose coming or going moves another's port or address, a GAMMA route, an edited
 * global Service, endpoints a feature copied (TranslationContext.endpointsOf), an item some feature
 * replaced, a rebuilt unit whose items are not the same names as before, a new name already taken, an
 * object that disagrees with its key, any other kind. Outputs stay sorted (found by binary search); IR
 * lists do not keep the pass's order (additions go last, a removed item's place takes the last one),
 * which means nothing: every output is sorted. The output is the same as a full translation's either
 * way: memo.test.ts compares them on random edit sequences.
 */
import { lbKey, type KubeObject, type LbService } from '@tendril/contract';
import { emptyIR } from '@tendril/model';
import type { TranslationMemo } from '../memo.js';
import type { TranslationOptions } from '../options.js';
import { Problems } from '../problems.js';
import type { StatusOutput, TranslationOutput, XdsOutput } from '../output.js';
import { refOf, unitContext, type Patching, type Plan } from './plan.js';
import { ROUTE_KINDS, planIngress, planRoute, planSecret, planService, planSlices } from './planners.js';
import { applyPlan } from './apply.js';
import { PATCH_STATE } from './state.js';

/** More changed objects than this go through the full pass (a burst is cheaper translated whole). */
export const PATCH_LIMIT = 1024;

/**
 * The output of a translation after `changes`, patched into the last output when the change is one
 * this can prove local (see above); undefined otherwise (the caller runs the full pass). A plan is
 * recorded only when it succeeds whole; when a later plan of a batch cannot be made, what the earlier
 * ones recorded stays, and the full pass (which reads every object) decides the output.
 */
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
  memo.stats = { built: 0, reused: 0 };
  const quiet = new Problems();
  const patching: Patching = { memo, state, cluster, options, context: unitContext(memo, cluster, options, emptyIR(), quiet), quiet };
  // The EndpointSlices together, every other object on its own, one after the other: each plan reads
  // what the ones before it recorded. A plan that cannot be made sends the whole change to the full
  // pass, which reads every object and so is right whatever was patched before.
  const slices = new Map([...changed].filter(([key]) => refOf(patching, key)?.kind === 'endpointslice'));
  const plans: (() => Plan | undefined)[] = slices.size ? [() => planSlices(patching, slices)] : [];
  for (const [key, object] of changed) {
    if (slices.has(key)) continue;
    const ref = refOf(patching, key);
    if (!ref || ref.cluster !== cluster) return undefined; // another cluster's Service decides what is global
    const route = ROUTE_KINDS.find(([, keyKind]) => keyKind === ref.kind);
    if (ref.kind === 'ingress') plans.push(() => planIngress(patching, key, object));
    else if (ref.kind === 'service') plans.push(() => planService(patching, key, object));
    else if (ref.kind === 'secret') plans.push(() => planSecret(patching, key, object));
    else if (route) plans.push(() => planRoute(patching, key, object, route[0], route[1]));
    else return undefined;
  }
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
