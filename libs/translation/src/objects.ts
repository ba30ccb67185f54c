/**
 * The objects of one translation, as mirrored from KV `tendril-objects`, indexed by kind. The key is
 * the identity (cluster, kind, namespace, name); a value whose kind disagrees with its key is refused.
 */
import { parseObjectKey, type KubeObject, type ObjectKind, type ObjectRef } from '@tendril/contract';
import type { SourceObject } from '@tendril/model';
import { compare, type Problems } from './problems.js';
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

export class ObjectIndex {
  private readonly byKind = new Map<ObjectKind, IndexedObject[]>();
  /** Each kind split by cluster once: features ask for the same kinds many times per translation. */
  private readonly localByKind = new Map<ObjectKind, readonly IndexedObject[]>();
  private readonly remoteByKind = new Map<ObjectKind, readonly IndexedObject[]>();
  /** Keys of entries refused (key not parsed, or object disagreeing with it). */
  readonly refused = new Set<string>();

  constructor(
    /** The cluster this translation serves; other clusters' objects only feed global services. */
    readonly cluster: string,
    objects: Iterable<readonly [string, KubeObject]>,
    problems: Problems,
    /** Keys parsed by earlier translations (kept by the memo): parsing is the index's main cost. */
    parsed?: Map<string, ObjectRef>,
  ) {
    for (const [key, object] of objects) {
      const entry = indexEntry(cluster, key, object, problems, parsed);
      if (!entry) {
        this.refused.add(key);
        continue;
      }
      const list = this.byKind.get(entry.ref.kind) ?? [];
      list.push(entry);
      this.byKind.set(entry.ref.kind, list);
    }
    for (const [kind, list] of this.byKind) {
      list.sort((a, b) => compare(a.key, b.key));
      this.localByKind.set(kind, list.filter((entry) => entry.ref.cluster === cluster));
      this.remoteByKind.set(kind, list.filter((entry) => entry.ref.cluster !== cluster));
    }
  }

  /** Number of objects indexed. */
  get size(): number {
    let count = 0;
    for (const list of this.byKind.values()) count += list.length;
    return count;
  }

  /** Objects of one kind in this cluster, sorted by key. */
  local(kind: ObjectKind): readonly IndexedObject[] {
    return this.localByKind.get(kind) ?? [];
  }

  /** Objects of one kind in other clusters, sorted by key. */
  remote(kind: ObjectKind): readonly IndexedObject[] {
    return this.remoteByKind.get(kind) ?? [];
  }
}
