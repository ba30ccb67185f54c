/** Puts a plan's rebuilt units into the last output, or finds that it cannot. */
import { canonicalJson, lbKey, type LbService, type ObjectStatus } from '@tendril/contract';
import { emptyIR, validate, type KnownNames, type L4ServiceIR, type MeshIR, type NameSet } from '@tendril/model';
import { desiredLbService } from '../lb/lb-service.js';
import type { UnitRecord } from '../memo.js';
import { compare, type TranslationError } from '../problems.js';
import type { StatusOutput, TranslationOutput, XdsOutput } from '../output.js';
import { XDS_EMITTERS, XDS_TYPE_ORDER } from '../xds/index.js';
import { count, type Patching, type Plan } from './plan.js';
import { IR_LISTS, countMade, nameOf, problemOfKey, type IrList, type IrOrL4, type PatchState } from './state.js';

/** What one plan does to the output, decided in full before any of it is done. */
interface Edits {
  /** IR items by list: replaced (at their place), added (at the end), removed (the last item takes their place). */
  ir: { list: IrOrL4; name: string; before?: unknown; after?: unknown }[];
  /** xDS resources and LB entries put (replaced or added) or removed, by key; the last edit of a key wins. */
  xds: Map<string, { put?: XdsOutput; removed?: XdsOutput }>;
  lb: Map<string, { put?: LbService; removed?: LbService }>;
  /** Statuses by key: put (replaced or added) or removed. */
  statuses: Map<string, { put?: StatusOutput; removed?: StatusOutput }>;
}

const RANK = new Map(XDS_TYPE_ORDER.map((type, i) => [type, i]));

/** Where an item of this sort order is, or would go, in a sorted list (binary search); `found` only when it is there once. */
function locate<T>(items: readonly T[], order: (item: T) => number): { at: number; found: boolean; twice: boolean } {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (order(items[mid]!) < 0) low = mid + 1;
    else high = mid;
  }
  const found = low < items.length && order(items[low]!) === 0;
  const twice = found && low + 1 < items.length && order(items[low + 1]!) === 0;
  return { at: low, found: found && !twice, twice };
}

const xdsOrder = (type: string, name: string) => (item: XdsOutput) => RANK.get(item.type)! - RANK.get(type as XdsOutput['type'])! || compare(item.name, name);
const lbOrder = (key: string) => (entry: LbService) => compare(lbKey(entry), key);
const statusOrder = (key: string) => (entry: StatusOutput) => compare(entry.key, key);

/**
 * Puts each swap's rebuilt items where its old items are in the last output (a unit that is new adds
 * its items, a unit that is gone removes them), or answers undefined when one of them is not simply
 * there (replaced by another feature, named differently, copied, or a name already taken).
 */
export function applyPlan(patching: Patching, plan: Plan): TranslationOutput | undefined {
  const { memo, state, cluster, options } = patching;
  const output = state.output;
  const counts = plan.counts;
  const edits: Edits = { ir: [], xds: new Map(), lb: new Map(), statuses: new Map() };
  const emitOnce = <T>(node: object, build: () => T) => memo.emit(node, build);
  const emit = (list: IrList, type: XdsOutput['type'], item: unknown): XdsOutput => {
    const emitter = XDS_EMITTERS.find((candidate) => candidate.type === type)!;
    const [emitted] = emitter.emit({ ...emptyIR(), [list]: [item] }, options, emitOnce);
    return { type, ...emitted! };
  };
  const inIr = (list: IrOrL4, name: string, item: unknown) => {
    const at = state.irAt[list].get(name);
    return at !== undefined && at >= 0 && (output.ir[list] as unknown[])[at] === item;
  };
  const lbEntry = (service: L4ServiceIR) => memo.emit(service, () => desiredLbService(cluster, service));
  // Two load balancers serving one Secret make one SDS resource: the first's (ingress.ts). The other's
  // copy is not in the output, and is swapped with its unit alone.
  const swappedSecrets = new Set<unknown>(plan.swaps.flatMap((swap) => swap.old?.ir.secrets ?? []));
  // The names items may refer to: the output's, and those of units this plan adds.
  const added = (list: IrList) => new Set(plan.swaps.flatMap((swap) => (swap.old ? [] : ((swap.record?.ir[list] ?? []) as unknown[]).map((item) => nameOf(list, item)))));
  const also = (names: NameSet, more: Set<string>): NameSet => (more.size ? { has: (name) => names.has(name) || more.has(name) } : names);
  const known: KnownNames = {
    clusters: also(state.names.clusters, added('clusters')),
    endpoints: also(state.names.endpoints, added('endpoints')),
    routes: also(state.names.routes, added('routes')),
    secrets: also(state.names.secrets, added('secrets')),
    caSecrets: state.names.caSecrets,
  };

  /**
   * A status going from `before` (the output's, or none: then nobody's) to `after` (none: removed):
   * recorded in the edits; 'same' when equal (nothing to write), false when the output disagrees.
   */
  const statusEdit = (key: string, before: ObjectStatus | undefined, after: ObjectStatus | undefined): boolean | 'same' => {
    const where = locate(output.statuses, statusOrder(key));
    if (before ? !where.found || output.statuses[where.at]!.status !== before : where.found || where.twice || edits.statuses.has(key)) return false;
    if (before && after && canonicalJson(before) === canonicalJson(after)) return 'same';
    if (before || after) edits.statuses.set(key, after ? { put: { key, status: after } } : { removed: output.statuses[where.at]! });
    return true;
  };

  // How many units make each name once the plan is done: a name another unit (or a feature's own
  // code) makes too decides by the full pass which item the output holds.
  const made = new Map<string, number>();
  for (const { old, record } of plan.swaps) {
    if (old) countMade(made, old.ir, -1);
    if (record) countMade(made, record.ir, +1);
  }
  for (const [key, delta] of made) {
    const before = state.made.get(key) ?? 0;
    if (before > 1 || before + delta > 1) {
      if (!sameTwins(plan, key)) return undefined;
    }
  }
  for (const { old, record } of plan.swaps) {
    if (old?.ir.envoyConfigs.length || record?.ir.envoyConfigs.length) return undefined;
    for (const { list, type } of IR_LISTS) {
      const before = (old?.ir[list] ?? []) as unknown[];
      const after = (record?.ir[list] ?? []) as unknown[];
      if (old && record) {
        if (before.length !== after.length) return undefined;
        for (let i = 0; i < before.length; i++) {
          const name = nameOf(list, before[i]);
          if (name !== nameOf(list, after[i])) return undefined;
          // Equal items keep their identity (and their Envoy resource): nothing to write for them.
          if (canonicalJson(before[i]) === canonicalJson(after[i])) {
            (record.ir[list] as unknown[])[i] = before[i];
            continue;
          }
          // A listener's socket is checked against every other listener's: it must not move.
          if (list === 'listeners') {
            const [a, b] = [before[i] as MeshIR['listeners'][number], after[i] as MeshIR['listeners'][number]];
            if (a.kind !== b.kind || a.address !== b.address || a.port !== b.port) return undefined;
          }
          if (list === 'secrets' && !inIr(list, name, before[i]) && swappedSecrets.has(output.ir.secrets[state.irAt.secrets.get(name) ?? -1])) continue;
          if (!inIr(list, name, before[i]) || !locate(output.xds, xdsOrder(type, name)).found) return undefined;
          edits.ir.push({ list, name, before: before[i], after: after[i] });
          edits.xds.set(`${type} ${name}`, { put: emit(list, type, after[i]) });
        }
        continue;
      }
      for (const item of before) {
        const name = nameOf(list, item);
        const where = locate(output.xds, xdsOrder(type, name));
        if (!inIr(list, name, item) || !where.found) return undefined;
        edits.ir.push({ list, name, before: item });
        edits.xds.set(`${type} ${name}`, { removed: output.xds[where.at]! });
      }
      for (const item of after) {
        const name = nameOf(list, item);
        // A name taken (or about to be): two items of one name make a duplicate, the pass's business.
        if (state.irAt[list].has(name) || locate(output.xds, xdsOrder(type, name)).found || edits.xds.has(`${type} ${name}`)) return undefined;
        edits.ir.push({ list, name, after: item });
        edits.xds.set(`${type} ${name}`, { put: emit(list, type, item) });
      }
    }

    const finalL4: [L4ServiceIR | undefined, L4ServiceIR | undefined][] = [];
    if (old && record) {
      if (old.ir.l4Services.length !== record.ir.l4Services.length) return undefined;
      for (let i = 0; i < old.ir.l4Services.length; i++) {
        const [unitBefore, unitAfter] = [old.ir.l4Services[i]!, record.ir.l4Services[i]!];
        const id = nameOf('l4Services', unitBefore);
        if (id !== nameOf('l4Services', unitAfter)) return undefined;
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
        const entry = lbEntry(finalAfter);
        if (!locate(output.lb, lbOrder(lbKey(entry))).found) return undefined;
        edits.ir.push({ list: 'l4Services', name: id, before: finalBefore, after: finalAfter });
        edits.lb.set(lbKey(entry), { put: entry });
      }
    } else {
      for (const service of old?.ir.l4Services ?? []) {
        const entry = lbEntry(service);
        const where = locate(output.lb, lbOrder(lbKey(entry)));
        // Its own entry, not redirected or replaced by another feature's.
        if (!inIr('l4Services', nameOf('l4Services', service), service) || !where.found || output.lb[where.at] !== entry) return undefined;
        edits.ir.push({ list: 'l4Services', name: nameOf('l4Services', service), before: service });
        edits.lb.set(lbKey(entry), { removed: entry });
        finalL4.push([service, undefined]);
      }
      for (const service of record?.ir.l4Services ?? []) {
        const entry = lbEntry(service);
        if (state.irAt.l4Services.has(nameOf('l4Services', service)) || locate(output.lb, lbOrder(lbKey(entry))).found || edits.lb.has(lbKey(entry))) return undefined;
        edits.ir.push({ list: 'l4Services', name: nameOf('l4Services', service), after: service });
        edits.lb.set(lbKey(entry), { put: entry });
        finalL4.push([undefined, service]);
      }
    }

    // Its statuses (the last one set wins, as in a pass); one kept equal keeps its identity.
    const [statusBefore, statusAfter] = [new Map(old?.statuses ?? []), new Map(record?.statuses ?? [])];
    for (const key of new Set([...statusBefore.keys(), ...statusAfter.keys()])) {
      const edit = statusEdit(key, statusBefore.get(key), statusAfter.get(key));
      if (!edit) return undefined;
      if (edit === 'same') record!.statuses = record!.statuses.map(([k, s]) => [k, k === key ? statusBefore.get(key)! : s]);
    }

    if (old) count(counts, old.errors, -1);
    if (record) count(counts, record.errors, +1);
    // Checks of the swapped items (validate); those between items give the same answer before and
    // after, as the names and sockets they compare did not change (a new name is a name nobody held).
    const checked = (unit: UnitRecord | undefined, l4: (L4ServiceIR | undefined)[]): TranslationError[] =>
      unit
        ? validate({ ...unit.ir, l4Services: l4.filter((service) => service !== undefined) }, memo.checked, known).map((problem) => ({ object: problem.object, message: `${problem.path}: ${problem.message}` }))
        : [];
    count(counts, checked(old, finalL4.map(([before]) => before)), -1);
    count(counts, checked(record, finalL4.map(([, after]) => after)), +1);
  }

  for (const { key, before, after } of plan.statusSwaps ?? []) if (!statusEdit(key, before, after)) return undefined;

  // Problems after the change; the list is rebuilt only when one appeared or went.
  let appearedOrWent = false;
  for (const [key, delta] of counts) {
    const before = state.problemCounts.get(key) ?? 0;
    if (before + delta < 0) return undefined; // not what the last pass recorded: let the full pass decide
    if ((before > 0) !== (before + delta > 0)) appearedOrWent = true;
  }

  // Certain now: record and answer.
  plan.commit();
  for (const [key, delta] of made) {
    const after = (state.made.get(key) ?? 0) + delta;
    if (after) state.made.set(key, after);
    else state.made.delete(key);
  }
  for (const { id, record } of plan.swaps) {
    if (record) memo.replace(id, record);
    else memo.forget(id);
  }
  for (const [key, delta] of counts) {
    const after = (state.problemCounts.get(key) ?? 0) + delta;
    if (after === 0) state.problemCounts.delete(key);
    else state.problemCounts.set(key, after);
  }
  const errors = appearedOrWent
    ? [...state.problemCounts.keys()].sort(compare).map(problemOfKey)
    : output.errors;
  // In place: copying the arrays would cost in proportion to the mesh (see TranslationInput.changes).
  editIr(state, edits);
  const xds = editSorted(output.xds, edits.xds.values(), (item) => xdsOrder(item.type, item.name));
  const lb = editSorted(output.lb, edits.lb.values(), (entry) => lbOrder(lbKey(entry)));
  const statuses = editSorted(output.statuses, edits.statuses.values(), (entry) => statusOrder(entry.key));
  state.output = {
    xds: output.xds,
    lb: output.lb,
    statuses: output.statuses,
    owned: output.owned, // made again by translate() from what the plans recorded (memo.owned)
    errors,
    ir: output.ir,
    serial: memo.nextSerial(),
    patch: { base: output.serial!, xds: xds.put, lb: lb.put, statuses: statuses.put, removed: { xds: xds.removed, lb: lb.removed, statuses: statuses.removed } },
  };
  memo.lastPass = 'patch';
  return state.output;
}

/** Puts (replacing or adding) and removes items of a sorted list, in place, where `orderTo` finds them. */
function editSorted<T>(items: T[], edits: Iterable<{ put?: T; removed?: T }>, orderTo: (item: T) => (other: T) => number): { put: T[]; removed: T[] } {
  const done: { put: T[]; removed: T[] } = { put: [], removed: [] };
  for (const { put, removed } of edits) {
    const where = locate(items, orderTo((put ?? removed)!));
    if (put) {
      if (where.found) items[where.at] = put;
      else items.splice(where.at, 0, put);
      done.put.push(put);
    } else if (where.found) {
      items.splice(where.at, 1);
      done.removed.push(removed!);
    }
  }
  return done;
}

/**
 * The IR edits, in place: replacements where the old items are, additions at the end, removals by
 * moving the last item into the gap (IR order carries no meaning: the outputs are sorted).
 */
function editIr(state: PatchState, edits: Edits): void {
  const { ir } = state.output;
  for (const { list, name, before, after } of edits.ir) {
    const items = ir[list] as unknown[];
    const at = state.irAt[list];
    if (before !== undefined && after !== undefined) items[at.get(name)!] = after;
    else if (after !== undefined) {
      at.set(name, items.length);
      items.push(after);
    } else {
      const gap = at.get(name)!;
      const last = items.pop();
      at.delete(name);
      if (gap < items.length) {
        items[gap] = last;
        if (at.get(nameOf(list, last)) !== -1) at.set(nameOf(list, last), gap); // a name held twice stays unplaced
      }
    }
  }
}

/** Whether `copy` is `original` with only its redirect changed (lb/redirect.ts makes such copies). */
export function isRedirectOf(copy: L4ServiceIR, original: L4ServiceIR): boolean {
  const keys = Object.keys(original) as (keyof L4ServiceIR)[];
  if (Object.keys(copy).length !== keys.length) return false;
  return keys.every((key) => key === 'l7Redirect' || copy[key] === original[key]);
}

/**
 * Whether a name made more than once is only SDS secrets that every swap of the plan rebuilds alike
 * (load balancers serving one Secret: the same resource whichever comes first, ingress.ts).
 */
function sameTwins(plan: Plan, key: string): boolean {
  if (!key.startsWith('secrets|')) return false;
  const name = key.slice('secrets|'.length);
  const items = plan.swaps.flatMap(({ old, record }) => [...(old?.ir.secrets ?? []), ...(record?.ir.secrets ?? [])].filter((secret) => secret.name === name));
  return items.length > 0 && plan.swaps.every(({ old, record }) => (old?.ir.secrets.some((secret) => secret.name === name) ?? false) === (record?.ir.secrets.some((secret) => secret.name === name) ?? false)) && new Set(plan.swaps.flatMap(({ record }) => (record?.ir.secrets ?? []).filter((secret) => secret.name === name).map((secret) => canonicalJson(secret)))).size <= 1;
}
