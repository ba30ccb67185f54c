/** What translate() takes and gives (translate.ts). */
import type { KubeObject, LbService, NodeSelector, ObjectStatus, XdsType } from '@tendril/contract';
import type { MeshIR } from '@tendril/model';
import type { TranslationMemo } from './memo.js';
import type { TranslationOptions } from './options.js';
import type { OwnedOutput } from './owned/owned-objects.js';
import type { TranslationError } from './problems.js';
import type { Resource } from './xds/cluster.js';

export interface TranslationInput {
  /** The cluster this control plane serves (first token of object keys). */
  cluster: string;
  /** `tendril-objects` key -> object. */
  objects: Iterable<readonly [string, KubeObject]>;
  /** Deployment choices; each defaults to DEFAULT_TRANSLATION_OPTIONS (Cilium's behaviour). */
  options?: Partial<TranslationOptions>;
  /**
   * Kept by the caller across translations so that unchanged objects are not translated again
   * (memo.ts). The output is the same with or without it.
   */
  memo?: TranslationMemo;
  /**
   * The objects changed since the last translation with `memo` (undefined: deleted), when the caller
   * knows them. With it, a change whose effect stays in a few units (EndpointSlices, an edited
   * Ingress: patch/) patches the last output instead of running every feature; it must then be every change since that translation. The output is the
   * same either way. A patched output shares its arrays with the output it was patched from (they are
   * changed in place, which keeps a patch in proportion to the change): whoever keeps an output across
   * such translations must copy what it keeps.
   */
  changes?: Iterable<readonly [string, KubeObject | undefined]>;
}

export interface XdsOutput {
  type: XdsType;
  name: string;
  /** The Envoy resource in proto3 JSON. */
  resource: Resource;
  /** Only these proxies (by node id or node.cluster) get it; absent: every proxy. */
  nodeSelector?: NodeSelector;
  /**
   * Set for hand-written resources (CiliumEnvoyConfig): the key of the object holding them. Envoy's
   * own rules are checked on them before publishing; a refusal goes to that object's status.
   */
  objectKey?: string;
}

export interface StatusOutput {
  /** The object's `tendril-objects` key, which is also its `tendril-status` key. */
  key: string;
  status: ObjectStatus;
}

export interface TranslationOutput {
  /** Sorted by XDS_TYPE_ORDER, then name. */
  xds: XdsOutput[];
  /** Sorted by lbKey. */
  lb: LbService[];
  /** Sorted by key. */
  statuses: StatusOutput[];
  /**
   * The objects Tendril owns in the cluster (owned/): the Services and EndpointSlices of the Ingress and
   * Gateway load balancers, by `tendril-owned` key, sorted by key. Always whole (a patched output too).
   */
  owned: OwnedOutput[];
  /** Sorted by object, then message. */
  errors: TranslationError[];
  /** The IR the outputs were built from, for dumps and debugging. */
  ir: MeshIR;
  /** Numbers the outputs made with one memo (absent without a memo). */
  serial?: number;
  /**
   * Set when this output is output `base` (same memo) with a few items replaced, added or removed
   * (patch/). Errors are the same array unless one came or went.
   * A publisher that published `base` may write just these.
   */
  patch?: {
    base: number;
    /** Items put: new values, or new items. */
    xds: XdsOutput[];
    lb: LbService[];
    statuses: StatusOutput[];
    /** Items gone (their last values). */
    removed: { xds: XdsOutput[]; lb: LbService[]; statuses: StatusOutput[] };
  };
}
