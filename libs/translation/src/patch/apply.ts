/** Puts a plan's rebuilt units into the last output, or finds that it cannot. */
import { canonicalJson, lbKey, type LbService } from '@tendril/contract';
import { emptyIR, validate, type L4ServiceIR, type MeshIR } from '@tendril/model';
import { desiredLbService } from '../lb/lb-service.js';
import type { UnitRecord } from '../memo.js';
import { compare, type TranslationError } from '../problems.js';
import type { StatusOutput, TranslationOutput, XdsOutput } from '../translate.js';
import { XDS_EMITTERS } from '../xds/index.js';
import { count, type Patching, type Plan } from './plan.js';
import { IR_LISTS, nameOf, type IrList } from './state.js';

/**
 * Puts each swap's rebuilt items where its old items are in the last output, or answers undefined
 * when one of them is not simply there (replaced by another feature, named differently, copied).
 */
export function applyPlan(patching: Patching, plan: Plan): TranslationOutput | undefined {
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
export function isRedirectOf(copy: L4ServiceIR, original: L4ServiceIR): boolean {
  const keys = Object.keys(original) as (keyof L4ServiceIR)[];
  if (Object.keys(copy).length !== keys.length) return false;
  return keys.every((key) => key === 'l7Redirect' || copy[key] === original[key]);
}

