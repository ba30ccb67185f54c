/**
 * An immutable snapshot of every xDS resource of one generation, keyed by type URL, each resource
 * with its content hash and node selector. Streams ask it what one node sees of one type.
 */
import { createHash } from 'node:crypto';
import { type NodeSelector, XDS_TYPES, type XdsResourceEnvelope, type XdsType, envelopeBytes, xdsTypeOfUrl } from '@tendril/contract';

export interface SnapshotResource {
  name: string;
  typeUrl: string;
  /** sha256 of the bytes: the resource's version. */
  hash: string;
  bytes: Uint8Array;
  nodeSelector?: NodeSelector;
  /** Listeners and clusters: the SDS secret names their transport sockets refer to (sdsSecretNames of @tendril/envoy). */
  secrets?: readonly string[];
}

/** The proxy a stream serves, as far as selection cares. */
export interface NodeIdentity {
  id: string;
  cluster: string;
  /**
   * The connection proved the node id (a client certificate naming it, or loopback to a loopback
   * listener): only then may the stream be served Secrets.
   */
  proven?: boolean;
}

/** Why a node may not have a secret, or undefined when it may (see XdsSnapshot.secretRefusal). */
export type SecretRefusal = 'unproven' | 'unreferenced';

/**
 * The order xDS wants changes in: secrets and clusters before the endpoints that fill them, both before
 * listeners and the routes that point at clusters.
 */
export const PUSH_ORDER: readonly XdsType[] = ['secret', 'cluster', 'endpoint', 'listener', 'route'];
export const PUSH_ORDER_URLS: readonly string[] = PUSH_ORDER.map((t) => XDS_TYPES[t]);

/** The order removals go out in: what refers to others first (listeners name routes, clusters name endpoints). */
export const REMOVAL_ORDER_URLS: readonly string[] = (['listener', 'route', 'cluster', 'endpoint', 'secret'] as const).map((t) => XDS_TYPES[t]);

/** Position of a type URL in an order (default: push order); unknown types last. */
export function rankIn(typeUrl: string, order: readonly string[] = PUSH_ORDER_URLS): number {
  const index = order.indexOf(typeUrl);
  return index < 0 ? order.length : index;
}

/** Types whose state-of-the-world responses must hold every resource (absent = removed). */
export const FULL_STATE_TYPE_URLS: ReadonlySet<string> = new Set([XDS_TYPES.listener, XDS_TYPES.cluster]);

/** Types where a first request naming nothing means "everything" (legacy wildcard). */
export const WILDCARD_TYPE_URLS: ReadonlySet<string> = new Set([XDS_TYPES.listener, XDS_TYPES.cluster]);

export function selects(selector: NodeSelector | undefined, node: NodeIdentity | undefined): boolean {
  if (!selector || (!selector.nodeIds?.length && !selector.clusters?.length)) return true;
  if (!node) return false;
  return (selector.nodeIds?.includes(node.id) ?? false) || (selector.clusters?.includes(node.cluster) ?? false);
}

/**
 * Content hash of a set of resources, independent of their order: the version_info of a response.
 * Each (name, hash) pair is hashed once per resource object and the set's version is the XOR of those
 * 128-bit values, so a version costs O(resources) with no sorting and no rehashing of content.
 */
export function versionOf(resources: Iterable<Pick<SnapshotResource, 'name' | 'hash'>>): string {
  const folded = new Uint32Array(4);
  for (const resource of resources) {
    const own = pairDigest(resource);
    for (let i = 0; i < 4; i++) folded[i]! ^= own[i]!;
  }
  return [...folded].map((word) => word.toString(16).padStart(8, '0')).join('');
}

const pairDigests = new WeakMap<object, Uint32Array>();

function pairDigest(resource: Pick<SnapshotResource, 'name' | 'hash'>): Uint32Array {
  let digest = pairDigests.get(resource);
  if (!digest) {
    const bytes = createHash('sha256').update(`${resource.name}\n${resource.hash}`).digest();
    digest = new Uint32Array([bytes.readUInt32BE(0), bytes.readUInt32BE(4), bytes.readUInt32BE(8), bytes.readUInt32BE(12)]);
    pairDigests.set(resource, digest);
  }
  return digest;
}

export interface SnapshotSummary {
  generation: number;
  types: { type: XdsType; typeUrl: string; count: number; version: string }[];
  count: number;
}

export class XdsSnapshot {
  private constructor(
    readonly generation: number,
    private readonly byType: ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>>,
    /** Names changed (put or removed) since the previous snapshot, by type; undefined = unknown (a full build). */
    private readonly changes?: ReadonlyMap<string, ReadonlySet<string>>,
    /** Secret name -> the listeners and clusters referring to it (by `<typeUrl> <name>`). */
    private readonly referrers: ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>> = referrersOf(byType),
  ) {}

  /**
   * The next snapshot from this one and a set of changes: only the maps of the types that changed are
   * copied, and the snapshot remembers which names changed so streams look at those alone.
   */
  apply(generation: number, put: Iterable<SnapshotResource>, removed: Iterable<{ typeUrl: string; name: string }>): XdsSnapshot {
    const byType = new Map(this.byType);
    const changes = new Map<string, Set<string>>();
    const referrers = new Referrers(this.referrers);
    const writable = (typeUrl: string) => {
      let names = changes.get(typeUrl);
      if (!names) {
        changes.set(typeUrl, (names = new Set()));
        byType.set(typeUrl, new Map(this.byType.get(typeUrl)));
      }
      return { names, ofType: byType.get(typeUrl) as Map<string, SnapshotResource> };
    };
    for (const { typeUrl, name } of removed) {
      const { names, ofType } = writable(typeUrl);
      const old = ofType.get(name);
      if (ofType.delete(name)) names.add(name);
      if (old) referrers.replace(old, undefined);
    }
    for (const resource of put) {
      const { names, ofType } = writable(resource.typeUrl);
      const old = ofType.get(resource.name);
      if (old?.hash !== resource.hash || !sameSelector(old?.nodeSelector, resource.nodeSelector)) {
        names.add(resource.name);
        referrers.replace(old, resource);
      }
      ofType.set(resource.name, resource);
    }
    // A secret whose referrers changed may now go to other nodes (or no longer): streams look at it again.
    if (referrers.touched.size > 0) {
      const { names } = writable(XDS_TYPES.secret);
      for (const name of referrers.touched) names.add(name);
    }
    return new XdsSnapshot(generation, byType, changes, referrers.result());
  }

  /**
   * Why this node may not have the secret, or undefined when it may: a node is served a Secret only
   * when its connection proved its node id and a listener or cluster it is served refers to it. A
   * workload certificate (a Secret named by a SPIFFE ID) is granted by its own node selector instead:
   * the translator selects it to the nodes running that workload, whose agent asks for it by name.
   */
  secretRefusal(name: string, node: NodeIdentity | undefined): SecretRefusal | undefined {
    if (!node?.proven) return 'unproven';
    if (name.startsWith('spiffe://')) {
      const selector = this.byType.get(XDS_TYPES.secret)?.get(name)?.nodeSelector;
      if (selector && (selector.nodeIds?.length || selector.clusters?.length) && selects(selector, node)) return undefined;
    }
    for (const referrer of this.referrers.get(name)?.values() ?? []) if (selects(referrer.nodeSelector, node)) return undefined;
    return 'unreferenced';
  }

  /** Names of a type changed since the previous snapshot; undefined when unknown (treat all as changed). */
  changedNames(typeUrl: string): ReadonlySet<string> | undefined {
    if (!this.changes) return undefined;
    return this.changes.get(typeUrl) ?? EMPTY;
  }

  /** One resource of a type, if it exists and this node sees it. */
  get(typeUrl: string, name: string, node: NodeIdentity | undefined): SnapshotResource | undefined {
    const resource = this.byType.get(typeUrl)?.get(name);
    if (!resource || !selects(resource.nodeSelector, node)) return undefined;
    return typeUrl === XDS_TYPES.secret && this.secretRefusal(name, node) ? undefined : resource;
  }

  static empty(generation = 0): XdsSnapshot {
    return new XdsSnapshot(generation, new Map());
  }

  static fromResources(generation: number, resources: Iterable<SnapshotResource>): XdsSnapshot {
    const byType = new Map<string, Map<string, SnapshotResource>>();
    for (const resource of resources) {
      let ofType = byType.get(resource.typeUrl);
      if (!ofType) byType.set(resource.typeUrl, (ofType = new Map()));
      if (ofType.has(resource.name)) throw new Error(`snapshot ${generation}: ${resource.typeUrl} ${resource.name} appears twice`);
      ofType.set(resource.name, resource);
    }
    return new XdsSnapshot(generation, byType);
  }

  static fromEnvelopes(generation: number, envelopes: Iterable<XdsResourceEnvelope>): XdsSnapshot {
    return XdsSnapshot.fromResources(generation, [...envelopes].map(resourceOfEnvelope));
  }

  /** Resources of one type this node sees, by name. */
  visible(typeUrl: string, node: NodeIdentity | undefined): Map<string, SnapshotResource> {
    const out = new Map<string, SnapshotResource>();
    const secrets = typeUrl === XDS_TYPES.secret;
    if (secrets && !node?.proven) return out;
    for (const [name, resource] of this.byType.get(typeUrl) ?? []) {
      if (selects(resource.nodeSelector, node) && !(secrets && this.secretRefusal(name, node))) out.set(name, resource);
    }
    return out;
  }

  get count(): number {
    let count = 0;
    for (const ofType of this.byType.values()) count += ofType.size;
    return count;
  }

  summary(): SnapshotSummary {
    const types = PUSH_ORDER.map((type) => {
      const ofType = [...(this.byType.get(XDS_TYPES[type])?.values() ?? [])];
      return { type, typeUrl: XDS_TYPES[type], count: ofType.length, version: versionOf(ofType) };
    });
    return { generation: this.generation, types, count: this.count };
  }
}

const EMPTY: ReadonlySet<string> = new Set();

const referrerKey = (resource: SnapshotResource) => `${resource.typeUrl} ${resource.name}`;

function referrersOf(byType: ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>>): Map<string, Map<string, SnapshotResource>> {
  const out = new Map<string, Map<string, SnapshotResource>>();
  for (const typeUrl of [XDS_TYPES.listener, XDS_TYPES.cluster]) {
    for (const resource of byType.get(typeUrl)?.values() ?? []) {
      for (const secret of resource.secrets ?? []) {
        let of = out.get(secret);
        if (!of) out.set(secret, (of = new Map()));
        of.set(referrerKey(resource), resource);
      }
    }
  }
  return out;
}

/** The secret -> referrers index of the next snapshot, copied only where it changes; notes the secrets touched. */
class Referrers {
  readonly touched = new Set<string>();
  private copy: Map<string, Map<string, SnapshotResource>> | undefined;
  private readonly copied = new Set<string>();

  constructor(private readonly base: ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>>) {}

  /** A listener or cluster `old` is now `next` (undefined: absent); other types refer to no secret. */
  replace(old: SnapshotResource | undefined, next: SnapshotResource | undefined): void {
    for (const secret of old?.secrets ?? []) this.writable(secret).delete(referrerKey(old!));
    for (const secret of next?.secrets ?? []) this.writable(secret).set(referrerKey(next!), next!);
  }

  private writable(secret: string): Map<string, SnapshotResource> {
    this.touched.add(secret);
    this.copy ??= new Map(this.base as Map<string, Map<string, SnapshotResource>>);
    if (!this.copied.has(secret)) {
      this.copied.add(secret);
      this.copy.set(secret, new Map(this.base.get(secret)));
    }
    return this.copy.get(secret)!;
  }

  result(): ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>> {
    if (!this.copy) return this.base;
    for (const secret of this.copied) if (this.copy.get(secret)!.size === 0) this.copy.delete(secret);
    return this.copy;
  }
}

function sameSelector(a: NodeSelector | undefined, b: NodeSelector | undefined): boolean {
  return JSON.stringify(a?.nodeIds ?? []) === JSON.stringify(b?.nodeIds ?? []) && JSON.stringify(a?.clusters ?? []) === JSON.stringify(b?.clusters ?? []);
}

export function resourceOfEnvelope(envelope: XdsResourceEnvelope): SnapshotResource {
  if (!xdsTypeOfUrl(envelope.typeUrl)) throw new Error(`${envelope.type}/${envelope.name}: unknown type URL ${envelope.typeUrl}`);
  const resource: SnapshotResource = { name: envelope.name, typeUrl: envelope.typeUrl, hash: envelope.hash, bytes: envelopeBytes(envelope) };
  if (envelope.nodeSelector) resource.nodeSelector = envelope.nodeSelector;
  return resource;
}
