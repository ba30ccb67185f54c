/** What a patch needs to know of the last full translation, recorded at its end (recordPatchState). */
import { featureState } from '../feature-state.js';
import type { KnownNames, L4ServiceIR } from '@tendril/model';
import type { TranslationContext } from '../context.js';
import { gatewayLoadBalancerName } from '../names.js';
import { serviceIdOf } from '../kube/service.js';
import { readSlice, sliceServiceId } from '../features/services.js';
import type { TranslationMemo } from '../memo.js';
import type { IndexedObject } from '../objects.js';
import { Problems, type TranslationError } from '../problems.js';
import type { TranslationOutput } from '../output.js';

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
/** An IR list whose items a patch places by name (an L4 service by `namespace/name`). */
export type IrOrL4 = IrList | 'l4Services';
const NAME_OF = new Map<IrOrL4, (item: unknown) => string>([
  ...IR_LISTS.map((entry) => [entry.list, entry.name as (item: unknown) => string] as const),
  ['l4Services', (item) => `${(item as L4ServiceIR).namespace}/${(item as L4ServiceIR).name}`],
]);
export const nameOf = (list: IrOrL4, item: unknown) => NAME_OF.get(list)!(item);

/** What the last output was made of, kept by the memo between translations. */
export const PATCH_STATE = featureState<PatchState>('patch');

export interface PatchState extends IngressIndex {
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
  /**
   * Where each item sits in output.ir (by list, then name); -1 when a name is there twice. (output.xds,
   * output.lb and output.statuses are sorted: found by binary search, as a patch may add or remove items.)
   */
  irAt: Record<IrOrL4, Map<string, number>>;

  /** Each Ingress load balancer's unit's Ingresses (keys, in order). */
  unitIngresses: Map<string, string[]>;
  /** The Secrets a Gateway names (loaded outside any unit). */
  secretsReadElsewhere: Set<string>;
  /**
   * Services something outside their own units reads besides Ingresses (routes' backendRefs and
   * parentRefs, CiliumEnvoyConfig services and backendServices), and the ids of load-balancer
   * entries (a Service of that name lends its address): a change to one goes through the full pass.
   */
  readElsewhere: Set<string>;
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

const byNamespacedName = (entries: readonly IndexedObject[]) => new Map(entries.map((entry) => [`${entry.ref.namespace}/${entry.ref.name}`, entry] as const));

/** Records what patchChanges() needs from a full translation's index, problems and output. */
export function recordPatchState(memo: TranslationMemo, context: TranslationContext, problems: TranslationError[], output: TranslationOutput): void {
  const quiet = new Problems();
  const slices = new Map<string, SliceRecord>();
  const slicesByService = new Map<string, IndexedObject[]>();
  for (const entry of context.index.local('endpointslice')) {
    const service = sliceServiceId(readSlice(context, entry, quiet).view);
    slices.set(entry.key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) {
      const list = slicesByService.get(service);
      if (list) list.push(entry);
      else slicesByService.set(service, [entry]);
    }
  }
  const problemCounts = new Map<string, number>();
  count(problemCounts, problems, +1);
  const services = byNamespacedName(context.index.local('service'));
  const ingresses = new Map(context.index.local('ingress').map((entry) => [entry.key, entry] as const));

  const ingressOfObject = new Map([...ingresses.values()].map((entry) => [entry.object as object, entry.key] as const));
  const secrets = byNamespacedName(context.index.local('secret'));
  for (const entry of [...ingresses.values(), ...secrets.values()]) noteEntry(entry);
  const unitIngresses = new Map<string, string[]>();
  const readElsewhere = new Set<string>();
  const reads: IngressIndex = { ingressUnitsByService: new Map(), ingressUnitsBySecret: new Map(), missingServices: new Map(), unitReads: new Map() };
  for (const [id, record] of memo.recordedUnits()) {
    if (id.startsWith('ingress ')) {
      readElsewhere.add(id.slice('ingress '.length));
      unitIngresses.set(id, record.inputs.flatMap((input) => (typeof input === 'object' && input !== null && ingressOfObject.has(input) ? [ingressOfObject.get(input)!] : [])));
      indexIngressUnit(reads, id, ingressReads(record.inputs));
    } else if (id.startsWith('gateway ')) for (const entry of record.ir.l4Services) readElsewhere.add(`${entry.namespace}/${entry.name}`);
  }
  for (const kind of ['httproute', 'grpcroute', 'tlsroute', 'ciliumenvoyconfig', 'ciliumclusterwideenvoyconfig'] as const) {
    for (const entry of context.index.local(kind)) for (const id of mentions(entry)) readElsewhere.add(id);
  }
  // A Gateway takes its address from a Service of its LB entry's name, whether or not it has an entry.
  for (const entry of context.index.local('gateway')) readElsewhere.add(`${entry.ref.namespace}/${gatewayLoadBalancerName(entry.ref.name)}`);
  const secretsReadElsewhere = new Set(context.index.local('gateway').flatMap((entry) => mentions(entry)));
  const { ir } = output;
  const irAt = Object.fromEntries([...NAME_OF.keys()].map((list) => [list, positions(ir[list] as unknown[], NAME_OF.get(list)!)])) as PatchState['irAt'];
  memo.keep(PATCH_STATE, {
    cluster: context.index.cluster,
    output,
    slices,
    slicesByService,
    refused: new Set(context.index.refused),
    services,
    secrets,
    ingresses,
    ...reads,
    unitIngresses,
    secretsReadElsewhere,
    readElsewhere,
    patchedServices: new Set(),
    irAt,
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

/** What an Ingress load balancer's unit reads, by `namespace/name`: Services, Secrets, Services it misses. */
export interface IngressReads {
  services: string[];
  secrets: string[];
  missing: string[];
}

/** Which Ingress load balancers' units read what (both ways), kept up to date as units are rebuilt. */
export interface IngressIndex {
  ingressUnitsByService: Map<string, string[]>;
  ingressUnitsBySecret: Map<string, string[]>;
  /** Units routing to a Service that does not exist. */
  missingServices: Map<string, string[]>;
  unitReads: Map<string, IngressReads>;
}

/** The index entries of Ingresses and Secrets, by object: what an Ingress unit's inputs are. */
const ENTRIES = new WeakMap<object, IndexedObject>();

/** Notes an Ingress or Secret entry, so that units reading its object can be told what they read. */
export function noteEntry(entry: IndexedObject): void {
  ENTRIES.set(entry.object, entry);
}

/** What an Ingress load balancer's unit read, from its inputs (ingress.ts ingressUnitInputs). */
export function ingressReads(inputs: readonly unknown[]): IngressReads {
  const reads: IngressReads = { services: [], secrets: [], missing: [] };
  let namespace = 'default';
  for (const input of inputs) {
    // ingress.ts names a missing backend Service so, after the Ingress that routes to it.
    if (typeof input === 'string' && input.startsWith('no Service ')) reads.missing.push(`${namespace}/${input.slice('no Service '.length)}`);
    if (typeof input !== 'object' || input === null) continue;
    const service = serviceIdOf(input);
    const entry = ENTRIES.get(input);
    if (service !== undefined) reads.services.push(service);
    else if (entry?.ref.kind === 'ingress') namespace = entry.ref.namespace ?? 'default';
    else if (entry?.ref.kind === 'secret') reads.secrets.push(`${entry.ref.namespace}/${entry.ref.name}`);
  }
  return reads;
}

/** Records what unit `id` reads now (undefined: it is gone), in place of what it read before. */
export function indexIngressUnit(index: IngressIndex, id: string, reads: IngressReads | undefined): void {
  const lists = [
    [index.ingressUnitsByService, 'services'],
    [index.ingressUnitsBySecret, 'secrets'],
    [index.missingServices, 'missing'],
  ] as const;
  const before = index.unitReads.get(id);
  for (const [map, field] of lists) {
    for (const key of before?.[field] ?? []) {
      const units = (map.get(key) ?? []).filter((unit) => unit !== id);
      if (units.length) map.set(key, units);
      else map.delete(key);
    }
    for (const key of new Set(reads?.[field] ?? [])) map.set(key, [...(map.get(key) ?? []).filter((unit) => unit !== id), id]);
  }
  if (reads) index.unitReads.set(id, reads);
  else index.unitReads.delete(id);
}

/**
 * Every `namespace/name` an object could mean by a reference (a Service of a route or
 * CiliumEnvoyConfig, a Secret of a Gateway; a Service a hand-written resource's `ns/svc:port` name
 * collides with): each object in its spec
 * with a string `name` (a backendRef, a parentRef, a services entry), in its own namespace unless it
 * says another. More than it uses is fine: a Service named here just takes the full pass.
 */
export function mentions(entry: IndexedObject): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    const name = record['name'];
    if (typeof name === 'string') {
      found.push(`${typeof record['namespace'] === 'string' ? record['namespace'] : (entry.ref.namespace ?? '')}/${name}`);
      // A hand-written resource named like a Service's (`ns/svc:port`, unqualified): that Service too.
      if (name.includes('/')) found.push(name.split(':')[0]!);
    }
    for (const item of Object.values(record)) walk(item);
  };
  walk(entry.object['spec']);
  return found;
}


