/**
 * What one translation feature gets to work with, and the shape every feature has. A leaf: it imports
 * no feature, so every feature, the memo and translate() may import it.
 */
import type { ObjectKind, ObjectStatus } from '@tendril/contract';
import type { ClusterEndpointsIR, MeshIR } from '@tendril/model';
import type { FeatureState } from './feature-state.js';
import type { IndexedObject, ObjectQuery } from './objects.js';
import type { OwnedLoadBalancer } from './owned/owned-objects.js';
import type { TranslationOptions } from './options.js';
import type { Problems } from './problems.js';

/** The objects of a translation, as a feature reads them: each read is recorded (reads.ts). */
export interface ObjectReader {
  /** The cluster this translation serves; other clusters' objects only feed global services. */
  readonly cluster: string;
  /** Every object of a kind in this cluster, sorted by key, read whole: any change of the kind touches it. */
  local(kind: ObjectKind): readonly IndexedObject[];
  /** Every object of a kind in other clusters, sorted by key, read whole. */
  remote(kind: ObjectKind): readonly IndexedObject[];
  /**
   * The objects of a kind in this cluster, sorted by key, read only for which there are: only an object
   * created or deleted touches it. Read an object's contents through TranslationContext.object().
   */
  keys(kind: ObjectKind): readonly IndexedObject[];
}

/** Node-proxy ports (allocate/proxy-ports.ts): picked by a feature outside its units. */
export interface PortAllocator {
  /** The first port, for the shared Ingress listener. */
  shared(): number;
  /** A port of its own for this listener name, or undefined when the range is full. */
  portFor(name: string): number | undefined;
  /** Keeps a port a hand-written listener binds out of the picks. */
  reserve(port: number): void;
}

/** The IR lists an earlier feature's items may be looked up in (l4Services by `namespace/name`). */
export type IrList = 'clusters' | 'endpoints' | 'secrets' | 'listeners' | 'routes' | 'l4Services';

export interface TranslationContext {
  index: ObjectReader;
  ir: MeshIR;
  problems: Problems;
  options: TranslationOptions;
  /** Ports of the node proxy's listeners (see TranslationOptions.proxyPort). */
  proxyPorts: PortAllocator;
  /** Desired status of an object, by its `tendril-objects` key. */
  setStatus(key: string, status: ObjectStatus): void;
  /** The object of this kind, namespace and name in this cluster (recorded as read, there or not). */
  object(kind: ObjectKind, namespace: string | undefined, name: string): IndexedObject | undefined;
  /** The objects answering an index query (objects.ts ObjectQuery), sorted by key; recorded as read. */
  query(query: ObjectQuery, param: string): readonly IndexedObject[];
  /** The parameters `entry` answers `query` under; recorded as read (a change that keeps them does not touch it). */
  paramsOf(query: ObjectQuery, entry: IndexedObject): readonly string[];
  /** Whether an earlier feature made IR item `name` of `list`; recorded as read (its presence only). */
  made(list: IrList, name: string): boolean;
  /**
   * Records a read of an earlier feature's IR item (`list`, `name`: its contents) or, with no name, of
   * the sockets every listener binds: for code outside units that reads `ir` directly.
   */
  readsIr(list: IrList | 'sockets', name?: string): void;
  /**
   * Runs `build` as one unit of work, unique by `id` within a translation. `build` reads objects and
   * earlier features' items only through its context (recorded), and captures nothing but `params`:
   * what the feature decided for the unit outside it (a port, the objects of a load balancer). With a
   * TranslationMemo the unit's recorded output is replayed while its reads give what they gave and
   * `params` are identical (===); a told change rebuilds it by the same `build` (memo.ts, patch/).
   */
  unit(id: string, params: readonly unknown[], build: (context: TranslationContext) => void): void;
  /**
   * One unit per object of `kind` in this cluster, `<prefix> <key>`, built by `build` with the
   * object's namespace and name (read it with object()). An object created or deleted adds or removes
   * its unit alone, without running the feature's own code again.
   */
  eachObject(kind: ObjectKind, prefix: string, build: (unit: TranslationContext, namespace: string | undefined, name: string) => void): void;
  /**
   * The endpoints an earlier feature built for cluster `clusterName`, for a feature that copies them
   * (an HTTP/2 twin, a CiliumEnvoyConfig backendService). Use this, never `ir.endpoints` directly.
   */
  endpointsOf(clusterName: string): ClusterEndpointsIR | undefined;
  /**
   * Keeps a feature's state after a pass (its views, what attached where) with the memo, under the
   * feature's own token, for patch/ to patch a change into the output without the pass. Nothing
   * without a memo.
   */
  keep<T>(token: FeatureState<T>, state: T): void;
  /**
   * Declares a load balancer's Service that Tendril owns in the cluster (owned/), by the feature that
   * picked its node-proxy ports; called outside units, once per load balancer and pass.
   */
  own(balancer: OwnedLoadBalancer): void;
  /** `read(problems)` of an object, computed once per object while it is unchanged (see memo.ts). */
  view<T>(object: object, kind: string, problems: Problems, read: (problems: Problems) => T): T;
}

/** One Kubernetes feature (Services, Ingress, Gateway API...): objects -> IR (+ statuses). */
export interface Feature {
  readonly name: string;
  /**
   * Whether a told change may run this feature's own code again alone (patch/): it then writes no
   * IR item outside its units, and reads other features' items only through made() and readsIr().
   * Otherwise a change touching what that code read takes the full pass.
   */
  readonly rerunnable?: boolean;
  /** Queries its code asks of the index (TranslationContext.query). */
  readonly queries?: readonly ObjectQuery[];
  /** Runs before any feature builds: claims what must not be allocated to others (proxy ports). */
  reserve?(context: TranslationContext): void;
  build(context: TranslationContext): void;
}
