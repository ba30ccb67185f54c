/** What a planner hands the applier, and the helpers planners share. */
import type { KubeObject, ObjectRef, ObjectStatus } from '@tendril/contract';
import type { MeshIR } from '@tendril/model';
import type { TranslationContext } from '../context.js';
import { ProxyPorts } from '../allocate/proxy-ports.js';
import type { TranslationMemo, UnitRecord } from '../memo.js';
import { ObjectIndex, indexEntry, parseKey, type IndexedObject } from '../objects.js';
import type { TranslationOptions } from '../options.js';
import { Problems, type TranslationError } from '../problems.js';
import type { PatchState } from './state.js';
export { count } from './state.js';

/** A unit rebuilt from changed objects, to be put in place of its recorded output; new (no `old`) or gone (no `record`). */
export interface Swap {
  id: string;
  old?: UnitRecord;
  record?: UnitRecord;
}

/** What a planner found: units to swap, problems that came and went besides theirs, and its own state to record. */
export interface Plan {
  swaps: Swap[];
  counts: Map<string, number>;
  /** Statuses set outside any unit (a route's), old and new. */
  statusSwaps?: { key: string; before?: ObjectStatus; after?: ObjectStatus }[];
  commit(): void;
}

export interface Patching {
  memo: TranslationMemo;
  state: PatchState;
  cluster: string;
  options: TranslationOptions;
  /** A context for views and rebuilt units (no index: units read only their inputs). */
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

/** A context for building one unit outside a pass: units read nothing but their inputs and the options. */
export function unitContext(memo: TranslationMemo, cluster: string, options: TranslationOptions, ir: MeshIR, problems: Problems, setStatus: TranslationContext['setStatus'] = () => {}): TranslationContext {
  const context: TranslationContext = {
    index: new ObjectIndex(cluster, [], problems),
    ir,
    problems,
    options,
    proxyPorts: new ProxyPorts(options.proxyPort, options.proxyPortCount),
    setStatus,
    unit: (_id, _inputs, build) => build(context),
    endpointsOf: () => undefined,
    keep: () => {},
    own: () => {},
    view: (object, kind, sink, read) => memo.view(object, kind, sink, read),
  };
  return context;
}
