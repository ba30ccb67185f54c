/**
 * objects -> IR (+ statuses) -> outputs. Pure and deterministic: same objects, same output, in the same
 * order, whatever order the objects came in. A feature that throws on unexpected input costs only its
 * own output; the error names the feature so the bug can be found.
 */
import { canonicalJson, lbKey, type KubeObject, type NodeSelector, type LbService, type ObjectStatus, type XdsType } from '@tendril/contract';
import { emptyIR, validate, type MeshIR } from '@tendril/model';
import type { TranslationContext } from './feature.js';
import { FEATURES } from './features/index.js';
import { desiredLbService } from './lb/lb-service.js';
import { ProxyPorts } from './allocate/proxy-ports.js';
import { ObjectIndex } from './objects.js';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from './options.js';
import { replayUnit, type TranslationMemo } from './memo.js';
import { patchChanges, recordPatchState } from './patch/index.js';
import { Problems, compare, type TranslationError } from './problems.js';
import { XDS_EMITTERS, XDS_TYPE_ORDER, type Resource } from './xds/index.js';
import { ownedObjects, readNodes, type OwnedLoadBalancer, type OwnedOutput } from './owned/owned-objects.js';

const OWNED_OUTPUTS = new WeakMap<TranslationMemo, { version: number; cluster: string; output: OwnedOutput[] }>();

/** The owned objects of the memo's load balancers and nodes, made again only when they changed. */
function ownedOf(memo: TranslationMemo, cluster: string): OwnedOutput[] {
  const last = OWNED_OUTPUTS.get(memo);
  if (last && last.version === memo.ownedVersion && last.cluster === cluster) return last.output;
  const output = ownedObjects(cluster, memo.owned.values(), memo.ownedNodes);
  OWNED_OUTPUTS.set(memo, { version: memo.ownedVersion, cluster, output });
  return output;
}

function sameOwned(a: Map<string, OwnedLoadBalancer>, b: Map<string, OwnedLoadBalancer>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, balancer] of a) {
    const other = b.get(id);
    if (!other || canonicalJson(other) !== canonicalJson(balancer)) return false;
  }
  return true;
}

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

export function translate(input: TranslationInput): TranslationOutput {
  const options: TranslationOptions = { ...DEFAULT_TRANSLATION_OPTIONS, ...input.options };
  const memo = input.memo;
  if (memo && input.changes) {
    const patched = patchChanges(memo, input.cluster, options, input.changes);
    if (patched) return { ...patched, owned: ownedOf(memo, input.cluster) };
  }
  const problems = new Problems();
  const ir = emptyIR();
  const statuses = new Map<string, ObjectStatus>();
  const owned = new Map<string, OwnedLoadBalancer>();
  memo?.begin(options, input.cluster);
  const base = {
    index: new ObjectIndex(input.cluster, input.objects, problems, memo?.keys),
    options,
    proxyPorts: new ProxyPorts(options.proxyPort, options.proxyPortCount),
    view: <T>(object: object, kind: string, sink: Problems, read: (sink: Problems) => T): T => (memo ? memo.view(object, kind, sink, read) : read(sink)),
  };
  const contextOf = (ir: MeshIR, problems: Problems, setStatus: TranslationContext['setStatus'], nested: boolean): TranslationContext => {
    const context: TranslationContext = {
      ...base,
      ir,
      problems,
      setStatus,
      own: (balancer) => owned.set(`${balancer.namespace}/${balancer.name}`, balancer),
      stash: (feature, state) => {
        if (memo) memo.stash[feature] = state;
      },
      endpointsOf: (clusterName) => {
        memo?.endpointReads.add(clusterName);
        return root.ir.endpoints.find((group) => group.clusterName === clusterName);
      },
      unit: (id, unitInputs, build) => {
        if (!memo || nested) return build(context);
        const record = memo.unit(id, unitInputs, (unitIr, unitProblems, unitSetStatus) => build(contextOf(unitIr, unitProblems, unitSetStatus, true)));
        replayUnit(record, ir, problems, setStatus);
      },
    };
    return context;
  };
  const context = contextOf(ir, problems, (key, status) => statuses.set(key, status), false);
  const root = context;
  for (const feature of FEATURES) {
    try {
      feature.reserve?.(context);
    } catch (error) {
      problems.raw(`feature/${feature.name}`, `translation failed: ${(error as Error).message}`);
    }
  }
  for (const feature of FEATURES) {
    base.proxyPorts.phase = feature.name;
    try {
      feature.build(context);
    } catch (error) {
      problems.raw(`feature/${feature.name}`, `translation failed: ${(error as Error).message}`);
    }
  }
  if (memo) memo.stash['proxy-ports'] = base.proxyPorts; // the picks, for patch/ to add or drop a name
  for (const problem of validate(ir, memo?.checked)) problems.raw(problem.object, `${problem.path}: ${problem.message}`);

  const xds: XdsOutput[] = [];
  const emitOnce = memo ? <T>(node: object, build: () => T) => memo.emit(node, build) : <T>(_node: object, build: () => T) => build();
  for (const emitter of XDS_EMITTERS) for (const item of emitter.emit(ir, options, emitOnce)) xds.push({ type: emitter.type, ...item });
  memo?.end(base.index.size);
  const rank = new Map(XDS_TYPE_ORDER.map((type, i) => [type, i]));
  xds.sort((a, b) => rank.get(a.type)! - rank.get(b.type)! || compare(a.name, b.name));

  // Keys computed once each, not in every comparison.
  const lb = ir.l4Services
    .map((service) => {
      const entry = emitOnce(service, () => desiredLbService(input.cluster, service));
      return { key: lbKey(entry), entry };
    })
    .sort((a, b) => compare(a.key, b.key))
    .map(({ entry }) => entry);

  const nodes = readNodes(base.index.local('node').map((entry) => ({ name: entry.ref.name, object: entry.object })));
  let ownedOutput: OwnedOutput[];
  if (memo) {
    if (!sameOwned(memo.owned, owned) || canonicalJson(memo.ownedNodes) !== canonicalJson(nodes)) memo.ownedVersion++;
    memo.owned = owned;
    memo.ownedNodes = nodes;
    ownedOutput = ownedOf(memo, input.cluster);
  } else ownedOutput = ownedObjects(input.cluster, owned.values(), nodes);
  const output: TranslationOutput = {
    xds,
    lb,
    statuses: [...statuses].sort(([a], [b]) => compare(a, b)).map(([key, status]) => ({ key, status })),
    owned: ownedOutput,
    errors: problems.sorted(),
    ir,
  };
  if (memo) output.serial = memo.nextSerial();
  if (memo) recordPatchState(memo, context, problems.entries(), output);
  return output;
}
