/**
 * What a translation may reuse from the ones before it, so that a change to one object re-translates
 * only what depends on it. The caller (the translator) keeps one TranslationMemo across translate()
 * calls; translate() without one translates everything, and the output is the same either way
 * (memo.test.ts checks it on random edit sequences).
 *
 * A unit of work (one Service with its EndpointSlices, one Ingress load balancer, one Gateway...) is
 * built by its feature's own code through a TranslationContext that records what it read (reads.ts):
 * objects by key, index queries, IR items of earlier features. A full pass replays a unit whose reads
 * give what they gave last time (the KV mirror replaces an object only when its entry changes, so an
 * unchanged object is the same JS object) and whose parameters (what its feature decided for it
 * outside: a port, the Ingresses of a load balancer) are identical. A told change rebuilds only the
 * units whose reads it touched (patch/). Views of objects (readService...) and emitted Envoy resources
 * are cached per object in WeakMaps, so they go when the object goes. Units not used by a translation
 * are dropped at its end: the memo never outgrows the input.
 *
 * Rules for a unit's build function: it reads objects and earlier features' output only through its
 * context, and captures nothing but its parameters; never stateful allocators (proxy ports, address
 * pools), whose picks its feature makes outside and hands in as parameters. No feature changes an IR
 * item in place: one that must (a redirect to the node proxy) replaces it with a copy (lb/redirect.ts).
 */
import { canonicalJson, type ObjectRef, type ObjectStatus } from '@tendril/contract';
import { emptyIR, type IRProblem, type MeshIR } from '@tendril/model';
import type { TranslationContext } from './context.js';
import type { FeatureState } from './feature-state.js';
import type { ObjectIndex } from './objects.js';
import type { TranslationOptions } from './options.js';
import type { OwnedLoadBalancer, OwnedNode } from './owned/owned-objects.js';
import { Dependents } from './reads.js';
import { Problems, type TranslationError } from './problems.js';

export interface UnitRecord {
  /** The feature that built it. */
  feature: string;
  params: readonly unknown[];
  /** What it read (read keys, reads.ts) with what each gave, for the full pass to compare. */
  reads: Map<string, unknown>;
  /** Builds it again (patch/): its feature's code, with nothing captured but its parameters. */
  build: (context: TranslationContext) => void;
  ir: MeshIR;
  errors: TranslationError[];
  statuses: [string, ObjectStatus][];
}

/** What a feature's own code outside its units read and made in the last pass. */
export interface RootRecord {
  reads: Set<string>;
  errors: TranslationError[];
  statuses: [string, ObjectStatus][];
  owned: OwnedLoadBalancer[];
  /** The ids of its units, in the order it built them. */
  units: string[];
  /** Its loops of one unit per object (TranslationContext.eachObject). */
  loops: ObjectLoop[];
}

export interface ObjectLoop {
  kind: string;
  prefix: string;
  build: (unit: TranslationContext, namespace: string | undefined, name: string) => void;
}

interface ViewRecord {
  view: unknown;
  errors: TranslationError[];
}

export interface MemoStats {
  /** Units built in the last translation (their reads or parameters changed, or they were new). */
  built: number;
  /** Units replayed unchanged in the last translation (a full pass). */
  reused: number;
}

/** The reader id of a feature's own code outside its units. */
export const rootReader = (feature: string) => `root ${feature}`;

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
  /**
   * The owned load balancers (owned/) of the last translation, by `namespace/name`, and the nodes; a
   * patch updates them, and `ownedVersion` moves with every change.
   */
  owned = new Map<string, OwnedLoadBalancer>();
  ownedNodes: OwnedNode[] = [];
  ownedVersion = 0;
  /** The objects of the last translation, kept up to date by patches. */
  index?: ObjectIndex;
  /** Who read what in the last translation (units by id, features' own code by rootReader()). */
  dependents = new Dependents();
  /** Each feature's own code outside its units in the last translation. */
  roots = new Map<string, RootRecord>();
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
    this.states = new Map();
    this.dependents = new Dependents();
    this.roots = new Map();
    this.index = undefined;
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

  /** Puts a record rebuilt outside a pass (patch/) in place, once the patch using it is certain. */
  replace(id: string, record: UnitRecord): void {
    this.units.set(id, record);
    this.dependents.set(id, record.reads.keys());
  }

  /** Forgets unit `id` (it is gone), once the patch removing it is certain. */
  forget(id: string): void {
    this.units.delete(id);
    this.dependents.drop(id);
  }

  /** Ends a translation: units it did not use are forgotten. */
  end(liveKeys: number): void {
    this.units = this.touched;
    this.touched = new Map();
    for (const [id, record] of this.units) this.dependents.set(id, record.reads.keys());
    if (this.keys.size > 2 * liveKeys + 1024) this.keys = new Map(); // deleted keys accumulate; start over now and then
  }

  /**
   * Unit `id` of a full pass: its recorded output when `same(record)` says its reads and parameters
   * are unchanged; else built (by `build`, which records what it reads) and recorded.
   */
  unit(id: string, same: (record: UnitRecord) => boolean, build: () => UnitRecord): UnitRecord {
    const known = this.units.get(id) ?? this.touched.get(id);
    if (known && same(known)) {
      this.touched.set(id, known);
      this.stats.reused++;
      return known;
    }
    const record = build();
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

/** An empty record of unit `id` of `feature`, to be filled by its build. */
export function emptyRecord(feature: string, params: readonly unknown[], build: UnitRecord['build']): UnitRecord {
  return { feature, params: [...params], reads: new Map(), build, ir: emptyIR(), errors: [], statuses: [] };
}

export function sameParams(a: readonly unknown[], b: readonly unknown[]): boolean {
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
