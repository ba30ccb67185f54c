/** What a plan hands the applier, and what plans share. */
import type { KubeObject, ObjectRef, ObjectStatus } from '@tendril/contract';
import type { TranslationContext } from '../context.js';
import type { TranslationMemo, UnitRecord } from '../memo.js';
import { indexEntry, parseKey, type IndexedObject } from '../objects.js';
import type { TranslationOptions } from '../options.js';
import { Problems, type TranslationError } from '../problems.js';
import type { Env } from '../run.js';
import type { PatchState } from './state.js';
export { count } from './state.js';

/** A unit rebuilt from changed objects, to be put in place of its recorded output; new (no `old`) or gone (no `record`). */
export interface Swap {
  id: string;
  old?: UnitRecord;
  record?: UnitRecord;
}

/** What a plan found: units to swap, problems that came and went besides theirs, and its own state to record. */
export interface Plan {
  swaps: Swap[];
  counts: Map<string, number>;
  /** Statuses set outside any unit, old and new. */
  statusSwaps?: { key: string; before?: ObjectStatus; after?: ObjectStatus }[];
  commit(): void;
}

export interface Patching {
  memo: TranslationMemo;
  state: PatchState;
  cluster: string;
  options: TranslationOptions;
  /** What contexts of this patch share: the objects as changed, the output's names. */
  env: Env;
  /** A context for views (its reads are recorded nowhere). */
  context: TranslationContext;
  quiet: Problems;
}

/** Problems `read` reports into a sink of its own. */
export function reported(read: (problems: Problems) => unknown): TranslationError[] {
  const sink = new Problems();
  read(sink);
  return sink.entries();
}

/** The parsed key (cached with the memo), or undefined when it does not parse. */
export function refOf(patching: Patching, key: string): ObjectRef | undefined {
  try {
    return parseKey(key, patching.memo.keys);
  } catch {
    return undefined;
  }
}

/** The index entry of a changed object, or undefined when the index would refuse it (the full pass reports why). */
export function changedEntry(patching: Patching, key: string, object: KubeObject, kind: string): IndexedObject | undefined {
  const entry = indexEntry(patching.cluster, key, object, new Problems(), patching.memo.keys);
  return entry && entry.ref.kind === kind && entry.ref.cluster === patching.cluster ? entry : undefined;
}
