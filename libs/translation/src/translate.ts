/**
 * objects -> IR (+ statuses) -> outputs. Pure and deterministic: same objects, same output, in the same
 * order, whatever order the objects came in. A feature that throws on unexpected input costs only its
 * own output; the error names the feature so the bug can be found.
 */
import { canonicalJson, lbKey, type ObjectStatus } from '@tendril/contract';
import { emptyIR, validate, type MeshIR } from '@tendril/model';
import type { TranslationContext } from './context.js';
import { FEATURES } from './features/index.js';
import { desiredLbService } from './lb/lb-service.js';
import { PROXY_PORTS_STATE, ProxyPorts } from './allocate/proxy-ports.js';
import { ObjectIndex } from './objects.js';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from './options.js';
import { replayUnit, type TranslationMemo } from './memo.js';
import { patchChanges, recordPatchState } from './patch/index.js';
import { Problems, compare } from './problems.js';
import { XDS_EMITTERS, XDS_TYPE_ORDER } from './xds/index.js';
import { ownedObjects, readNodes, type OwnedLoadBalancer, type OwnedOutput } from './owned/owned-objects.js';
import type { TranslationInput, TranslationOutput, XdsOutput } from './output.js';

export type { TranslationInput, TranslationOutput, XdsOutput, StatusOutput } from './output.js';

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
      keep: (token, state) => memo?.keep(token, state),
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
  memo?.keep(PROXY_PORTS_STATE, base.proxyPorts); // the picks, for patch/ to add or drop a name
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
