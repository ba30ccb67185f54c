/**
 * The objects of one translation, as mirrored from KV `tendril-objects`, indexed by kind. The key is
 * the identity (cluster, kind, namespace, name); a value whose kind disagrees with its key is refused.
 */
import { parseObjectKey, type KubeObject, type ObjectKind, type ObjectRef } from '@tendril/contract';
import type { SourceObject } from '@tendril/model';
import { Problems, compare } from './problems.js';
import type { Json } from './kube/fields.js';

/** The Kind each key kind must hold. */
export const KIND_NAMES: Record<ObjectKind, string> = {
  service: 'Service',
  endpointslice: 'EndpointSlice',
  ingress: 'Ingress',
  ingressclass: 'IngressClass',
  secret: 'Secret',
  namespace: 'Namespace',
  gatewayclass: 'GatewayClass',
  gateway: 'Gateway',
  httproute: 'HTTPRoute',
  grpcroute: 'GRPCRoute',
  tlsroute: 'TLSRoute',
  tcproute: 'TCPRoute',
  udproute: 'UDPRoute',
  backendtlspolicy: 'BackendTLSPolicy',
  listenerset: 'ListenerSet',
  referencegrant: 'ReferenceGrant',
  ciliumenvoyconfig: 'CiliumEnvoyConfig',
  ciliumclusterwideenvoyconfig: 'CiliumClusterwideEnvoyConfig',
  configmap: 'ConfigMap',
  node: 'Node',
  pod: 'Pod',
  networkpolicy: 'NetworkPolicy',
  ciliumnetworkpolicy: 'CiliumNetworkPolicy',
  ciliumclusterwidenetworkpolicy: 'CiliumClusterwideNetworkPolicy',
};

/** Other spellings of a Kind under the same key kind: the seed calls the cluster-wide config CiliumClusterEnvoyConfig. */
export const KIND_ALIASES: Partial<Record<ObjectKind, readonly string[]>> = {
  ciliumclusterwideenvoyconfig: ['CiliumClusterEnvoyConfig'],
};

function isKindOf(kind: ObjectKind, value: unknown): boolean {
  return value === KIND_NAMES[kind] || (KIND_ALIASES[kind]?.includes(value as string) ?? false);
}

export interface IndexedObject {
  key: string;
  ref: ObjectRef;
  source: SourceObject;
  object: Json;
}

/** parseObjectKey() through a cache of keys parsed before (kept by the memo); throws as it does. */
export function parseKey(key: string, parsed?: Map<string, ObjectRef>): ObjectRef {
  let ref = parsed?.get(key);
  if (!ref) {
    ref = parseObjectKey(key);
    parsed?.set(key, ref);
  }
  return ref;
}

/**
 * One `tendril-objects` entry as the index holds it, or undefined (with a problem when it is this
 * cluster's) when its key does not parse or the object disagrees with its key.
 */
export function indexEntry(cluster: string, key: string, object: KubeObject, problems: Problems, parsed?: Map<string, ObjectRef>): IndexedObject | undefined {
  let ref: ObjectRef;
  try {
    ref = parseKey(key, parsed);
  } catch (error) {
    problems.raw(key, `key: ${(error as Error).message}`);
    return undefined;
  }
  const source: SourceObject = { kind: KIND_NAMES[ref.kind], name: ref.name };
  if (ref.namespace !== undefined) source.namespace = ref.namespace;
  if (typeof object !== 'object' || object === null || !isKindOf(ref.kind, object.kind)) {
    if (ref.cluster === cluster) problems.field(source, 'kind', `expected ${KIND_NAMES[ref.kind]} under key ${key}, got ${JSON.stringify(object?.kind)}`);
    return undefined;
  }
  const metadata = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  if (metadata.name !== ref.name || (metadata.namespace !== undefined && metadata.namespace !== ref.namespace)) {
    // The watcher keys objects by their own metadata; a disagreement means a corrupt or forged entry.
    if (ref.cluster === cluster) problems.field(source, 'metadata', `name/namespace ${JSON.stringify(metadata.namespace ?? null)}/${JSON.stringify(metadata.name ?? null)} disagree with key ${key}`);
    return undefined;
  }
  return { key, ref, source, object: object as Json };
}

/**
 * A question features ask of the objects besides "the object under this key": "the EndpointSlices
 * naming Service Y", "the Services wanting L7 load balancing". Each object of `kinds` answers under
 * the parameters `paramsOf` gives it (none: it answers nothing); the index keeps every answer sorted by
 * key and up to date as objects change, so a question costs no walk, and a change tells which answers
 * moved (the parameters of the object before and after it).
 */
export interface ObjectQuery {
  readonly name: string;
  readonly kinds: readonly ObjectKind[];
  paramsOf(entry: IndexedObject): readonly string[];
}

const NONE: readonly IndexedObject[] = [];

/** Where `key` is, or would go, in a list sorted by key. */
function position(list: readonly IndexedObject[], key: string): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (compare(list[mid]!.key, key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

function insert(map: Map<string, IndexedObject[]>, id: string, entry: IndexedObject): void {
  const list = map.get(id);
  if (!list) return void map.set(id, [entry]);
  const at = position(list, entry.key);
  if (list[at]?.key === entry.key) list[at] = entry;
  else list.splice(at, 0, entry);
}

function remove(map: Map<string, IndexedObject[]>, id: string, key: string): void {
  const list = map.get(id);
  if (!list) return;
  const at = position(list, key);
  if (list[at]?.key !== key) return;
  list.splice(at, 1);
  if (list.length === 0) map.delete(id);
}

export class ObjectIndex {
  private readonly byKey = new Map<string, IndexedObject>();
  /** By `cluster|kind|namespace|name`. */
  private readonly byName = new Map<string, IndexedObject>();
  /** Each kind split by cluster: features ask for the same kinds many times per translation. */
  private readonly localByKind = new Map<string, IndexedObject[]>();
  private readonly remoteByKind = new Map<string, IndexedObject[]>();
  /** Answers of the queries, by `query|param`, sorted by key. */
  private readonly answers = new Map<string, IndexedObject[]>();
  private readonly queriesOf = new Map<ObjectKind, ObjectQuery[]>();
  /** Keys of entries refused (key not parsed, or object disagreeing with it). */
  readonly refused = new Set<string>();

  constructor(
    /** The cluster this translation serves; other clusters' objects only feed global services. */
    readonly cluster: string,
    objects: Iterable<readonly [string, KubeObject]>,
    problems: Problems,
    /** Keys parsed by earlier translations (kept by the memo): parsing is the index's main cost. */
    private readonly parsed?: Map<string, ObjectRef>,
    queries: readonly ObjectQuery[] = [],
  ) {
    for (const query of queries) for (const kind of query.kinds) this.queriesOf.set(kind, [...(this.queriesOf.get(kind) ?? []), query]);
    const all: IndexedObject[] = [];
    for (const [key, object] of objects) {
      const entry = indexEntry(cluster, key, object, problems, parsed);
      if (entry) all.push(entry);
      else this.refused.add(key);
    }
    // Sorted once, then appended in order: every list and answer comes out sorted by key.
    all.sort((a, b) => compare(a.key, b.key));
    for (const entry of all) this.add(entry, (map, id) => {
      const list = map.get(id);
      if (list) list.push(entry);
      else map.set(id, [entry]);
    });
  }

  private add(entry: IndexedObject, put: (map: Map<string, IndexedObject[]>, id: string) => void): void {
    this.byKey.set(entry.key, entry);
    this.byName.set(nameId(entry.ref.cluster, entry.ref.kind, entry.ref.namespace, entry.ref.name), entry);
    put(entry.ref.cluster === this.cluster ? this.localByKind : this.remoteByKind, entry.ref.kind);
    for (const query of this.queriesOf.get(entry.ref.kind) ?? []) for (const param of query.paramsOf(entry)) put(this.answers, `${query.name}|${param}`);
  }

  /** Number of objects indexed. */
  get size(): number {
    return this.byKey.size;
  }

  /** Objects of one kind in this cluster, sorted by key. */
  local(kind: ObjectKind): readonly IndexedObject[] {
    return this.localByKind.get(kind) ?? NONE;
  }

  /** Objects of one kind in other clusters, sorted by key. */
  remote(kind: ObjectKind): readonly IndexedObject[] {
    return this.remoteByKind.get(kind) ?? NONE;
  }

  /** The object under `key`, if the index took it. */
  get(key: string): IndexedObject | undefined {
    return this.byKey.get(key);
  }

  /** The object of this kind, namespace and name (in this cluster unless another is named). */
  find(kind: ObjectKind, namespace: string | undefined, name: string, cluster = this.cluster): IndexedObject | undefined {
    return this.byName.get(nameId(cluster, kind, namespace, name));
  }

  /** The objects answering `query` under `param`, sorted by key. */
  query(query: ObjectQuery, param: string): readonly IndexedObject[] {
    return this.answers.get(`${query.name}|${param}`) ?? NONE;
  }

  /** The parameters `entry` answers each query of its kind under, as `query|param`. */
  answersOf(entry: IndexedObject): string[] {
    return (this.queriesOf.get(entry.ref.kind) ?? []).flatMap((query) => query.paramsOf(entry).map((param) => `${query.name}|${param}`));
  }

  /**
   * Puts `object` under `key` (undefined: removes it) and answers the entries before and after; or
   * undefined, changing nothing, when the index refused the key before or refuses it now (a problem
   * of the whole translation: the caller translates everything again).
   */
  put(key: string, object: KubeObject | undefined): { before?: IndexedObject; after?: IndexedObject } | undefined {
    if (this.refused.has(key)) return undefined;
    const before = this.byKey.get(key);
    let after: IndexedObject | undefined;
    if (object !== undefined) {
      after = indexEntry(this.cluster, key, object, new Problems(), this.parsed);
      if (!after) return undefined;
    }
    if (before) {
      this.byKey.delete(key);
      this.byName.delete(nameId(before.ref.cluster, before.ref.kind, before.ref.namespace, before.ref.name));
      remove(before.ref.cluster === this.cluster ? this.localByKind : this.remoteByKind, before.ref.kind, key);
      for (const id of this.answersOf(before)) remove(this.answers, id, key);
    }
    if (after) this.add(after, (map, id) => insert(map, id, after));
    return { ...(before ? { before } : {}), ...(after ? { after } : {}) };
  }
}

function nameId(cluster: string, kind: string, namespace: string | undefined, name: string): string {
  return `${cluster}|${kind}|${namespace ?? ''}|${name}`;
}
