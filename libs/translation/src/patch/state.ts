/** What a patch needs to know of the last full translation, recorded at its end (recordPatchState). */
import type { KnownNames } from '@tendril/model';
import type { TranslationContext } from '../feature.js';
import { serviceIdOf } from '../feature.js';
import { readSlice, type ReadSlice } from '../features/services.js';
import type { TranslationMemo } from '../memo.js';
import type { IndexedObject } from '../objects.js';
import { Problems, type TranslationError } from '../problems.js';
import type { TranslationOutput } from '../translate.js';

export interface SliceRecord {
  entry: IndexedObject;
  /** `namespace/name` of the Service the slice names, if any. */
  service?: string;
}

/** The IR lists a unit's items live in, with the xDS type each is emitted as. */
export const IR_LISTS = [
  { list: 'clusters', type: 'cluster', name: (item: { name: string }) => item.name },
  { list: 'endpoints', type: 'endpoint', name: (item: { clusterName: string }) => item.clusterName },
  { list: 'secrets', type: 'secret', name: (item: { name: string }) => item.name },
  { list: 'listeners', type: 'listener', name: (item: { name: string }) => item.name },
  { list: 'routes', type: 'route', name: (item: { name: string }) => item.name },
] as const;
export type IrList = (typeof IR_LISTS)[number]['list'];
export const NAME_OF = new Map(IR_LISTS.map((entry) => [entry.list, entry.name as (item: unknown) => string] as const));
export const nameOf = (list: IrList, item: unknown) => NAME_OF.get(list)!(item);

/** What the last output was made of, kept by the memo between translations. */
export interface PatchState {
  cluster: string;
  output: TranslationOutput;
  /** This cluster's EndpointSlices that the index took, by key. */
  slices: Map<string, SliceRecord>;
  /** The same slices by the Service they name, sorted by key (as the services feature groups them). */
  slicesByService: Map<string, readonly IndexedObject[]>;
  /** Keys the index refused (their problems are in the output): a change to one goes through the full pass. */
  refused: ReadonlySet<string>;
  /** This cluster's Services and Secrets by `namespace/name`, Ingresses by key. */
  services: Map<string, IndexedObject>;
  secrets: Map<string, IndexedObject>;
  ingresses: Map<string, IndexedObject>;
  /** Where each item sits in output.ir (by list, then name) and output.xds (by `type name`); -1 when a name is there twice. */
  irAt: Record<IrList | 'l4Services', Map<string, number>>;
  xdsAt: Map<string, Map<string, number>>;
  /** Where each LB entry (by lbKey) and status (by key) sits in output.lb and output.statuses. */
  lbAt: Map<string, number>;
  statusAt: Map<string, number>;
  /** The Ingress load balancers' units that read each Service (`namespace/name`), and each unit's Ingresses (keys, in order). */
  ingressUnitsByService: Map<string, string[]>;
  unitIngresses: Map<string, string[]>;
  /** The same for Secrets (`namespace/name`), and the Secrets a Gateway names (loaded outside any unit). */
  ingressUnitsBySecret: Map<string, string[]>;
  secretsReadElsewhere: Set<string>;
  /**
   * Services something outside their own units reads besides Ingresses (routes' backendRefs and
   * parentRefs, CiliumEnvoyConfig services and backendServices), and the ids of load-balancer
   * entries (a Service of that name lends its address): a change to one goes through the full pass.
   */
  readElsewhere: Set<string>;
  /** Names the output's items hold, for checking references of patched items. */
  names: KnownNames;
  /** Every problem reported (before duplicates were merged), as `object\0message` -> count. */
  problemCounts: Map<string, number>;
}

export const problemKey = (object: string, message: string) => `${object}\u0000${message}`;

function positions<T>(items: readonly T[], keyOf: (item: T) => string | undefined): Map<string, number> {
  const at = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key !== undefined) at.set(key, at.has(key) ? -1 : i);
  });
  return at;
}

const byNamespacedName = (entries: readonly IndexedObject[]) => new Map(entries.map((entry) => [`${entry.ref.namespace}/${entry.ref.name}`, entry] as const));

/** Records what patchChanges() needs from a full translation's index, problems and output. */
export function recordPatchState(memo: TranslationMemo, context: TranslationContext, problems: TranslationError[], output: TranslationOutput, lbKeys: readonly string[]): void {
  const quiet = new Problems();
  const slices = new Map<string, SliceRecord>();
  const slicesByService = new Map<string, IndexedObject[]>();
  for (const entry of context.index.local('endpointslice')) {
    const service = serviceOfSlice(readSlice(context, entry, quiet));
    slices.set(entry.key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) {
      const list = slicesByService.get(service);
      if (list) list.push(entry);
      else slicesByService.set(service, [entry]);
    }
  }
  const problemCounts = new Map<string, number>();
  for (const problem of problems) {
    const key = problemKey(problem.object, problem.message);
    problemCounts.set(key, (problemCounts.get(key) ?? 0) + 1);
  }
  const services = byNamespacedName(context.index.local('service'));
  const ingresses = new Map(context.index.local('ingress').map((entry) => [entry.key, entry] as const));

  const ingressOfObject = new Map([...ingresses.values()].map((entry) => [entry.object as object, entry.key] as const));
  const secrets = byNamespacedName(context.index.local('secret'));
  const secretOfObject = new Map([...secrets].map(([id, entry]) => [entry.object as object, id] as const));
  const ingressUnitsBySecret = new Map<string, string[]>();
  const ingressUnitsByService = new Map<string, string[]>();
  const unitIngresses = new Map<string, string[]>();
  const readElsewhere = new Set<string>();
  for (const [id, record] of memo.recordedUnits()) {
    if (id.startsWith('ingress ')) {
      readElsewhere.add(id.slice('ingress '.length));
      const keys: string[] = [];
      for (const input of record.inputs) {
        const service = typeof input === 'object' && input !== null ? serviceIdOf(input) : undefined;
        if (service !== undefined) ingressUnitsByService.set(service, [...new Set([...(ingressUnitsByService.get(service) ?? []), id])]);
        const secret = typeof input === 'object' && input !== null ? secretOfObject.get(input) : undefined;
        if (secret !== undefined) ingressUnitsBySecret.set(secret, [...new Set([...(ingressUnitsBySecret.get(secret) ?? []), id])]);
        const ingress = typeof input === 'object' && input !== null ? ingressOfObject.get(input) : undefined;
        if (ingress !== undefined) keys.push(ingress);
      }
      unitIngresses.set(id, keys);
    } else if (id.startsWith('gateway ')) for (const entry of record.ir.l4Services) readElsewhere.add(`${entry.namespace}/${entry.name}`);
  }
  for (const kind of ['httproute', 'grpcroute', 'tlsroute', 'ciliumenvoyconfig', 'ciliumclusterwideenvoyconfig'] as const) {
    for (const entry of context.index.local(kind)) for (const id of mentions(entry)) readElsewhere.add(id);
  }
  const secretsReadElsewhere = new Set(context.index.local('gateway').flatMap((entry) => mentions(entry)));
  const { ir } = output;
  const irAt = { l4Services: positions(ir.l4Services, (service) => `${service.namespace}/${service.name}`) } as PatchState['irAt'];
  for (const { list } of IR_LISTS) irAt[list] = positions(ir[list] as unknown[], NAME_OF.get(list)!);
  // xDS positions by type, then name (the output is sorted by type: one map per run of a type).
  const xdsAt = new Map<string, Map<string, number>>();
  output.xds.forEach((item, i) => {
    let byName = xdsAt.get(item.type);
    if (!byName) xdsAt.set(item.type, (byName = new Map()));
    byName.set(item.name, byName.has(item.name) ? -1 : i);
  });
  memo.patchState = {
    cluster: context.index.cluster,
    output,
    slices,
    slicesByService,
    refused: new Set(context.index.refused),
    services,
    secrets,
    ingresses,
    ingressUnitsByService,
    unitIngresses,
    ingressUnitsBySecret,
    secretsReadElsewhere,
    readElsewhere,
    irAt,
    xdsAt,
    lbAt: positions(lbKeys, (key) => key),
    statusAt: positions(output.statuses, (entry) => entry.key),
    names: {
      clusters: irAt.clusters,
      endpoints: irAt.endpoints,
      routes: irAt.routes,
      secrets: irAt.secrets,
      caSecrets: new Set(ir.secrets.filter((secret) => secret.trustedCa !== undefined).map((secret) => secret.name)),
    },
    problemCounts,
  } satisfies PatchState;
}

/**
 * Every `namespace/name` an object could mean by a reference (a Service of a route or
 * CiliumEnvoyConfig, a Secret of a Gateway): each object in its spec
 * with a string `name` (a backendRef, a parentRef, a services entry), in its own namespace unless it
 * says another. More than it uses is fine: a Service named here just takes the full pass.
 */
export function mentions(entry: IndexedObject): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    if (typeof record['name'] === 'string') found.push(`${typeof record['namespace'] === 'string' ? record['namespace'] : (entry.ref.namespace ?? '')}/${record['name']}`);
    for (const item of Object.values(record)) walk(item);
  };
  walk(entry.object['spec']);
  return found;
}

export function serviceOfSlice(slice: ReadSlice): string | undefined {
  const { view } = slice;
  return view.serviceName !== undefined && view.source.namespace !== undefined ? `${view.source.namespace}/${view.serviceName}` : undefined;
}

