/** What a patch needs to know of the last full translation, recorded at its end (recordPatchState). */
import { featureState } from '../feature-state.js';
import { emptyIR, type KnownNames, type L4ServiceIR, type MeshIR } from '@tendril/model';
import type { TranslationMemo } from '../memo.js';
import type { TranslationError } from '../problems.js';
import type { TranslationOutput } from '../output.js';
import { irName } from '../run.js';

/** The IR lists a unit's items live in, with the xDS type each is emitted as. */
export const IR_LISTS = [
  { list: 'clusters', type: 'cluster' },
  { list: 'endpoints', type: 'endpoint' },
  { list: 'secrets', type: 'secret' },
  { list: 'listeners', type: 'listener' },
  { list: 'routes', type: 'route' },
] as const;
export type IrList = (typeof IR_LISTS)[number]['list'];
/** An IR list whose items a patch places by name (an L4 service by `namespace/name`). */
export type IrOrL4 = IrList | 'l4Services';
export const ALL_LISTS: readonly IrOrL4[] = [...IR_LISTS.map((entry) => entry.list), 'l4Services'];
export const nameOf = irName;

/** What the last output was made of, kept by the memo between translations. */
export const PATCH_STATE = featureState<PatchState>('patch');

export interface PatchState {
  cluster: string;
  output: TranslationOutput;
  /**
   * Where each item sits in output.ir (by list, then name); -1 when a name is there twice. (output.xds,
   * output.lb and output.statuses are sorted: found by binary search, as a patch may add or remove items.)
   */
  irAt: Record<IrOrL4, Map<string, number>>;
  /**
   * How many units (and features' own code) made an item of each `list|name`, the output's or not
   * (two load balancers serving one Secret make one SDS resource; a load balancer's entry replaces a
   * Service's of its name): an item whose name another still makes cannot just be removed or added.
   */
  made: Map<string, number>;
  /**
   * Services patched since the last full pass: the Gateway feature's state (context.keep) still
   * holds them as they were, so a route naming one goes through the full pass.
   */
  patchedServices: Set<string>;
  /** Names the output's items hold, for checking references of patched items. */
  names: KnownNames;
  /** Every problem reported (before duplicates were merged), as `object\0message` -> count. */
  problemCounts: Map<string, number>;
}

/** A problem as a key of PatchState.problemCounts (the key Problems.sorted() merges duplicates by), and back. */
export const problemKey = (object: string, message: string) => `${object}\u0000${message}`;
export function problemOfKey(key: string): TranslationError {
  const split = key.indexOf('\u0000');
  return { object: key.slice(0, split), message: key.slice(split + 1) };
}

/** Adds `errors` to `counts`, `by` times each (-1 when they go). */
export function count(counts: Map<string, number>, errors: readonly TranslationError[], by: number): void {
  for (const error of errors) {
    const key = problemKey(error.object, error.message);
    counts.set(key, (counts.get(key) ?? 0) + by);
  }
}

function positions<T>(items: readonly T[], keyOf: (item: T) => string | undefined): Map<string, number> {
  const at = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key !== undefined) at.set(key, at.has(key) ? -1 : i);
  });
  return at;
}

/** Adds the items of `ir` to the counts of names made (`by` -1 when they go). */
export function countMade(made: Map<string, number>, ir: MeshIR, by: number): void {
  for (const list of ALL_LISTS) {
    for (const item of ir[list] as unknown[]) {
      const key = `${list}|${nameOf(list, item)}`;
      const count = (made.get(key) ?? 0) + by;
      if (count) made.set(key, count);
      else made.delete(key);
    }
  }
}

/** Records what patchChanges() needs from a full translation's problems and output. */
export function recordPatchState(memo: TranslationMemo, problems: TranslationError[], output: TranslationOutput): void {
  const problemCounts = new Map<string, number>();
  count(problemCounts, problems, +1);
  const { ir } = output;
  const irAt = Object.fromEntries(ALL_LISTS.map((list) => [list, positions(ir[list] as unknown[], (item: unknown) => irName(list, item))])) as PatchState['irAt'];
  // Names made by units, and by features' own code (the output's items no unit made).
  const made = new Map<string, number>();
  const ofUnits = new Set<unknown>();
  for (const [, record] of memo.recordedUnits()) {
    countMade(made, record.ir, +1);
    for (const list of ALL_LISTS) for (const item of record.ir[list] as unknown[]) ofUnits.add(item);
  }
  const outside = emptyIR();
  // An L4 entry redirected to the node proxy is a copy of a unit's (lb/redirect.ts), not an item of its own.
  const copy = (list: IrOrL4, item: unknown) => list === 'l4Services' && (item as L4ServiceIR).l7Redirect !== null && made.has(`l4Services|${nameOf(list, item)}`);
  for (const list of ALL_LISTS) (outside[list] as unknown[]).push(...(ir[list] as unknown[]).filter((item) => !ofUnits.has(item) && !copy(list, item)));
  countMade(made, outside, +1);
  memo.keep(PATCH_STATE, {
    cluster: memo.index!.cluster,
    output,
    irAt,
    made,
    patchedServices: new Set(),
    names: {
      clusters: irAt.clusters,
      endpoints: irAt.endpoints,
      routes: irAt.routes,
      secrets: irAt.secrets,
      caSecrets: new Set(ir.secrets.filter((secret) => secret.trustedCa !== undefined).map((secret) => secret.name)),
    },
    problemCounts,
  } satisfies PatchState);
}
