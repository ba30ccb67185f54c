/**
 * What one translation feature gets to work with, and the shape every feature has. A leaf: it imports
 * no feature, so every feature, the memo and translate() may import it.
 */
import type { ObjectStatus } from '@tendril/contract';
import type { ClusterEndpointsIR, MeshIR } from '@tendril/model';
import type { ProxyPorts } from './allocate/proxy-ports.js';
import type { FeatureState } from './feature-state.js';
import type { ObjectIndex } from './objects.js';
import type { OwnedLoadBalancer } from './owned/owned-objects.js';
import type { TranslationOptions } from './options.js';
import type { Problems } from './problems.js';

export interface TranslationContext {
  index: ObjectIndex;
  ir: MeshIR;
  problems: Problems;
  options: TranslationOptions;
  /** Ports of the node proxy's listeners (see TranslationOptions.proxyPort). */
  proxyPorts: ProxyPorts;
  /** Desired status of an object, by its `tendril-objects` key. */
  setStatus(key: string, status: ObjectStatus): void;
  /**
   * Runs `build` as one unit of work, unique by `id` within a translation: when the caller keeps a
   * TranslationMemo and every input is identical (===) to last time, the unit's recorded output is
   * replayed instead. `build` must read nothing but its inputs and the options (see memo.ts).
   */
  unit(id: string, inputs: readonly unknown[], build: (context: TranslationContext) => void): void;
  /**
   * The endpoints an earlier feature built for cluster `clusterName`, for a feature that copies them
   * (an HTTP/2 twin, a CiliumEnvoyConfig backendService). Use this, never `ir.endpoints` directly, and
   * only outside units: an endpoint-only change patches the last output without running the features
   * (patch/) and must know whose endpoints were copied.
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
  /** Runs before any feature builds: claims what must not be allocated to others (proxy ports). */
  reserve?(context: TranslationContext): void;
  build(context: TranslationContext): void;
}
