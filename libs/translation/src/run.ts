/**
 * The contexts features run in, recording what they read (reads.ts): the full pass's (translate.ts)
 * and a patch's (patch/), which builds a unit again by the same code, or runs a feature's own code
 * again with its units kept where nothing they read changed.
 */
import type { ObjectStatus } from '@tendril/contract';
import type { ClusterEndpointsIR, MeshIR } from '@tendril/model';
import type { IrList, PortAllocator, TranslationContext } from './context.js';
import type { FeatureState } from './feature-state.js';
import { emptyRecord, type ObjectLoop, type UnitRecord } from './memo.js';
import type { ObjectIndex, ObjectQuery } from './objects.js';
import type { TranslationOptions } from './options.js';
import type { OwnedLoadBalancer } from './owned/owned-objects.js';
import { objectRead, SOCKETS_READ } from './reads.js';
import { Problems } from './problems.js';

/** What every context of one translation (or patch) shares. */
export interface Env {
  index: ObjectIndex;
  queries: ReadonlyMap<string, ObjectQuery>;
  options: TranslationOptions;
  proxyPorts: PortAllocator;
  /** Whether an earlier feature made IR item `name` of `list`. */
  made(list: IrList, name: string): boolean;
  endpointsOf(clusterName: string): ClusterEndpointsIR | undefined;
  keep<T>(token: FeatureState<T>, state: T): void;
  view<T>(object: object, kind: string, problems: Problems, read: (problems: Problems) => T): T;
}

/**
 * A context writing to `ir`, `problems` and `setStatus` and recording each read in `reads` (with what
 * it gave when `values`, for a unit's reads to be compared by the next full pass).
 */
export function makeContext(
  env: Env,
  out: { ir: MeshIR; problems: Problems; setStatus: (key: string, status: ObjectStatus) => void },
  reads: Map<string, unknown>,
  values: boolean,
  unit: TranslationContext['unit'],
  own: (balancer: OwnedLoadBalancer) => void,
  loops: ObjectLoop[] = [],
): TranslationContext {
  const { index } = env;
  return {
    eachObject: (kind, prefix, build) => {
      loops.push({ kind, prefix, build });
      for (const entry of index.local(kind)) {
        const { namespace, name } = entry.ref;
        unit(`${prefix} ${entry.key}`, [], (context) => build(context, namespace, name));
      }
    },
    index: {
      cluster: index.cluster,
      local: (kind) => (reads.set(`a|${kind}`, undefined), index.local(kind)),
      remote: (kind) => (reads.set(`A|${kind}`, undefined), index.remote(kind)),
      keys: (kind) => (reads.set(`l|${kind}`, undefined), index.local(kind)),
    },
    ir: out.ir,
    problems: out.problems,
    options: env.options,
    proxyPorts: env.proxyPorts,
    setStatus: out.setStatus,
    object: (kind, namespace, name) => {
      const entry = index.find(kind, namespace, name);
      reads.set(objectRead(index.cluster, kind, namespace, name), entry?.object);
      return entry;
    },
    query: (query, param) => {
      const answer = index.query(query, param);
      reads.set(`q|${query.name}|${param}`, values ? answer.map((entry) => entry.object) : undefined);
      return answer;
    },
    paramsOf: (query, entry) => {
      reads.set(`v|${query.name}|${entry.key}`, undefined);
      return query.paramsOf(entry);
    },
    made: (list, name) => {
      const there = env.made(list, name);
      reads.set(`p|${list}|${name}`, there);
      return there;
    },
    readsIr: (list, name) => void reads.set(list === 'sockets' ? SOCKETS_READ : `i|${list}|${name}`, undefined),
    unit,
    endpointsOf: (clusterName) => {
      reads.set(`i|endpoints|${clusterName}`, undefined);
      return env.endpointsOf(clusterName);
    },
    keep: env.keep,
    own,
    view: env.view,
  };
}

/** Builds unit `id` of `feature` by `build`, recording its reads and output. */
export function buildUnit(env: Env, feature: string, params: readonly unknown[], build: UnitRecord['build']): UnitRecord {
  const record = emptyRecord(feature, params, build);
  const problems = new Problems();
  const context: TranslationContext = makeContext(
    env,
    { ir: record.ir, problems, setStatus: (key, status) => record.statuses.push([key, status]) },
    record.reads,
    true,
    (_id, _params, nested) => nested(context), // a unit within a unit is part of it
    () => {
      throw new Error('a load balancer is owned outside units');
    },
  );
  build(context);
  record.errors = problems.entries();
  return record;
}

/** Whether every read of a unit gives what it gave (a full pass replays the unit then). */
export function readsUnchanged(env: Env, reads: ReadonlyMap<string, unknown>): boolean {
  for (const [key, value] of reads) {
    const parts = key.split('|');
    switch (parts[0]) {
      case 'o':
        if (env.index.find(parts[2] as never, parts[3] || undefined, parts.slice(4).join('|'), parts[1])?.object !== value) return false;
        break;
      case 'q': {
        const query = env.queries.get(parts[1]!);
        const answer = query ? env.index.query(query, parts.slice(2).join('|')) : [];
        const seen = value as unknown[];
        if (answer.length !== seen.length || answer.some((entry, i) => entry.object !== seen[i])) return false;
        break;
      }
      case 'p':
        if (env.made(parts[1] as IrList, parts.slice(2).join('|')) !== value) return false;
        break;
      default:
        return false; // whole kinds, IR contents, sockets: not for units to read
    }
  }
  return true;
}

/** The name an IR item goes by in its list (an L4 service: `namespace/name`). */
export function irName(list: IrList, item: unknown): string {
  if (list === 'endpoints') return (item as { clusterName: string }).clusterName;
  if (list === 'l4Services') return `${(item as { namespace: string }).namespace}/${(item as { name: string }).name}`;
  return (item as { name: string }).name;
}
