/**
 * What a translation may reuse from the ones before it, so that a change to one object re-translates
 * only what depends on it. The caller (the translator) keeps one TranslationMemo
 * across translate() calls; translate() without one translates everything, and the output is the same
 * either way (memo.test.ts checks it on random edit sequences).
 *
 * Reuse is by identity. The KV mirror replaces an object only when its entry changes, so an unchanged
 * object is the same JS object as last time. A unit of work (one Service with its EndpointSlices, one
 * proxyless target...) declares its inputs; when every input is identical (===) to last time, its
 * recorded output (IR items, problems, statuses) is replayed instead of built. Views of objects
 * (readService...) and emitted Envoy resources are cached per object in WeakMaps, so they go when the
 * object goes. Units not used by a translation are dropped at its end: the memo never outgrows the
 * input.
 *
 * Rules for a unit's build function: it reads only its inputs (and the options, which reset the memo
 * when they change), never stateful allocators (proxy ports, address pools). No feature changes an IR
 * item in place: one that must (a redirect to the node proxy) replaces it with a copy (lb/redirect.ts).
 */
import { canonicalJson, type ObjectRef, type ObjectStatus } from '@tendril/contract';
import { emptyIR, type IRProblem, type MeshIR } from '@tendril/model';
import type { TranslationOptions } from './options.js';
import type { FeatureState } from './feature-state.js';
import type { OwnedLoadBalancer, OwnedNode } from './owned/owned-objects.js';
import { Problems, type TranslationError } from './problems.js';

export interface UnitRecord {
  inputs: readonly unknown[];
  ir: MeshIR;
  errors: TranslationError[];
  statuses: [string, ObjectStatus][];
}

interface ViewRecord {
  view: unknown;
  errors: TranslationError[];
}

export interface MemoStats {
  /** Units built in the last translation (their inputs changed or were new). */
  built: number;
  /** Units replayed unchanged in the last translation. */
  reused: number;
}

export class TranslationMemo {
  private units = new Map<string, UnitRecord>();
  private touched = new Map<string, UnitRecord>();
  private views = new WeakMap<object, Map<string, ViewRecord>>();
  private emitted = new WeakMap<object, unknown>();
  /** IR items already validated on their own (libs/model validate). */
  checked = new WeakMap<object, IRProblem[]>();
  private optionsKey?: string;
  /** Parsed `tendril-objects` keys; started over when deleted keys outnumber the live ones. */
  keys = new Map<string, ObjectRef>();
  stats: MemoStats = { built: 0, reused: 0 };
  /**
   * How the last translation ran: `full` (every feature, units replayed) or `patch` (a change that
   * stays in a few units patched into the last output, patch/).
   */
  lastPass: 'full' | 'patch' = 'full';
  /** Features' state after the last full pass, by the owner's token (TranslationContext.keep). */
  private states = new Map<FeatureState<unknown>, unknown>();
  /** Clusters whose endpoints a feature copied outside the services unit in the last full pass. */
  endpointReads = new Set<string>();
  /**
   * The owned load balancers (owned/) of the last translation, by `namespace/name`, and the nodes; a
   * patched Ingress updates its entry (patch/), and `ownedVersion` moves with every change.
   */
  owned = new Map<string, OwnedLoadBalancer>();
  ownedNodes: OwnedNode[] = [];
  ownedVersion = 0;
  private serial = 0;

  /** Numbers the outputs made with this memo (TranslationOutput.serial). */
  nextSerial(): number {
    return ++this.serial;
  }

  /** Starts a translation; another cluster or other options make everything recorded worthless. */
  begin(options: TranslationOptions, cluster = ''): void {
    const key = `${cluster}|${canonicalJson(options)}`;
    if (key !== this.optionsKey) {
      this.units = new Map();
      this.views = new WeakMap();
      this.emitted = new WeakMap();
      this.checked = new WeakMap();
      this.optionsKey = key;
    }
    this.touched = new Map();
    this.stats = { built: 0, reused: 0 };
    this.lastPass = 'full';
    this.endpointReads = new Set();
    this.states = new Map();
  }

  /** The state kept under `token` since the last full pass (TranslationContext.keep). */
  kept<T>(token: FeatureState<T>): T | undefined {
    return this.states.get(token as FeatureState<unknown>) as T | undefined;
  }

  /** Keeps `state` under `token` until the next full pass. */
  keep<T>(token: FeatureState<T>, state: T): void {
    this.states.set(token as FeatureState<unknown>, state);
  }

  /** Whether a translation with these settings may reuse what was recorded (see begin()). */
  sameSettings(options: TranslationOptions, cluster: string): boolean {
    return this.optionsKey === `${cluster}|${canonicalJson(options)}`;
  }

  /** Every unit recorded by the last translation. */
  recordedUnits(): IterableIterator<[string, UnitRecord]> {
    return this.units.entries();
  }

  /** The recorded output of unit `id` (from the last translation). */
  recorded(id: string): UnitRecord | undefined {
    return this.units.get(id);
  }

  /** Builds unit `id` anew outside a translation pass (patch/) and records it in place of the old. */
  rebuild(inputs: readonly unknown[], build: (ir: MeshIR, problems: Problems, setStatus: (key: string, status: ObjectStatus) => void) => void): UnitRecord {
    const record = buildRecord(inputs, build);
    this.stats.built++;
    return record;
  }

  /** Puts a record rebuilt by rebuild() in place, once the patch using it is certain. */
  replace(id: string, record: UnitRecord): void {
    this.units.set(id, record);
  }

  /** Forgets unit `id` (its object is gone), once the patch removing it is certain. */
  forget(id: string): void {
    this.units.delete(id);
  }

  /** Ends a translation: units it did not use are forgotten. */
  end(liveKeys: number): void {
    this.units = this.touched;
    this.touched = new Map();
    if (this.keys.size > 2 * liveKeys + 1024) this.keys = new Map(); // deleted keys accumulate; start over now and then
  }

  /** The recorded output of unit `id` when its inputs are unchanged; else builds and records it. */
  unit(id: string, inputs: readonly unknown[], build: (ir: MeshIR, problems: Problems, setStatus: (key: string, status: ObjectStatus) => void) => void): UnitRecord {
    const known = this.units.get(id) ?? this.touched.get(id);
    if (known && sameInputs(known.inputs, inputs)) {
      this.touched.set(id, known);
      this.stats.reused++;
      return known;
    }
    const record = buildRecord(inputs, build);
    this.touched.set(id, record);
    this.stats.built++;
    return record;
  }

  /** A view of `object` read by `read` (its problems replayed into `problems` each time). */
  view<T>(object: object, kind: string, problems: Problems, read: (problems: Problems) => T): T {
    let byKind = this.views.get(object);
    let record = byKind?.get(kind);
    if (!record) {
      const own = new Problems();
      record = { view: read(own), errors: own.entries() };
      if (!byKind) this.views.set(object, (byKind = new Map()));
      byKind.set(kind, record);
    }
    for (const error of record.errors) problems.raw(error.object, error.message);
    return record.view as T;
  }

  /** What IR item `node` becomes (an Envoy resource, a `tendril-lb` entry), built once per item. */
  emit<T>(node: object, build: () => T): T {
    if (this.emitted.has(node)) return this.emitted.get(node) as T;
    const resource = build();
    this.emitted.set(node, resource);
    return resource;
  }
}

function buildRecord(inputs: readonly unknown[], build: (ir: MeshIR, problems: Problems, setStatus: (key: string, status: ObjectStatus) => void) => void): UnitRecord {
  const ir = emptyIR();
  const problems = new Problems();
  const statuses: [string, ObjectStatus][] = [];
  build(ir, problems, (key, status) => statuses.push([key, status]));
  return { inputs: [...inputs], ir, errors: problems.entries(), statuses };
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Appends a unit's recorded output to a translation's IR, problems and statuses. */
export function replayUnit(record: UnitRecord, ir: MeshIR, problems: Problems, setStatus: (key: string, status: ObjectStatus) => void): void {
  ir.clusters.push(...record.ir.clusters);
  ir.endpoints.push(...record.ir.endpoints);
  ir.l4Services.push(...record.ir.l4Services);
  ir.listeners.push(...record.ir.listeners);
  ir.routes.push(...record.ir.routes);
  ir.secrets.push(...record.ir.secrets);
  ir.envoyConfigs.push(...record.ir.envoyConfigs);
  for (const error of record.errors) problems.raw(error.object, error.message);
  for (const [key, status] of record.statuses) setStatus(key, status);
}
