/**
 * objects -> IR (+ statuses) -> outputs. Pure and deterministic: same objects, same output, in the same
 * order, whatever order the objects came in. A feature that throws on unexpected input costs only its
 * own output; the error names the feature so the bug can be found.
 */
import { canonicalJson, lbKey, type ObjectStatus } from '@tendril/contract';
import { emptyIR, validate } from '@tendril/model';
import type { IrList, TranslationContext } from './context.js';
import { FEATURES, QUERIES, QUERY_BY_NAME } from './features/index.js';
import { desiredLbService } from './lb/lb-service.js';
import { PROXY_PORTS_STATE, ProxyPorts } from './allocate/proxy-ports.js';
import { ObjectIndex } from './objects.js';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from './options.js';
import { replayUnit, rootReader, sameParams, type RootRecord, type TranslationMemo } from './memo.js';
import { buildUnit, irName, makeContext, readsUnchanged, type Env } from './run.js';
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
  const index = new ObjectIndex(input.cluster, input.objects, problems, memo?.keys, QUERIES);
  const proxyPorts = new ProxyPorts(options.proxyPort, options.proxyPortCount);
  // Whether an earlier feature made an item: name sets made again only when their list changed.
  const nameSets = new Map<IrList, { items: unknown[]; length: number; names: Set<string> }>();
  const env: Env = {
    index,
    queries: QUERY_BY_NAME,
    options,
    proxyPorts,
    made: (list, name) => {
      const items = ir[list] as unknown[];
      let known = nameSets.get(list);
      if (!known || known.items !== items || known.length !== items.length) nameSets.set(list, (known = { items, length: items.length, names: new Set(items.map((item) => irName(list, item))) }));
      return known.names.has(name);
    },
    endpointsOf: (clusterName) => ir.endpoints.find((group) => group.clusterName === clusterName),
    keep: (token, state) => memo?.keep(token, state),
    view: <T>(object: object, kind: string, sink: Problems, read: (sink: Problems) => T): T => (memo ? memo.view(object, kind, sink, read) : read(sink)),
  };
  const setStatus = (key: string, status: ObjectStatus) => statuses.set(key, status);
  // Each feature's own code runs in a context of its own, recording what it reads and makes outside units.
  const roots = FEATURES.map((feature) => {
    const record: RootRecord = { reads: new Set(), errors: [], statuses: [], owned: [], units: [], loops: [] };
    const reads = new Map<string, unknown>();
    const rootProblems = new Problems();
    const unit: TranslationContext['unit'] = (id, params, build) => {
      record.units.push(id);
      if (!memo) return build(context);
      const built = memo.unit(id, (known) => known.feature === feature.name && sameParams(known.params, params) && readsUnchanged(env, known.reads), () => buildUnit(env, feature.name, params, build));
      replayUnit(built, ir, problems, setStatus);
    };
    const own = (balancer: OwnedLoadBalancer) => {
      record.owned.push(balancer);
      owned.set(`${balancer.namespace}/${balancer.name}`, balancer);
    };
    const rootSetStatus = (key: string, status: ObjectStatus) => {
      record.statuses.push([key, status]);
      setStatus(key, status);
    };
    const context = makeContext(env, { ir, problems: rootProblems, setStatus: rootSetStatus }, reads, false, unit, own, record.loops);
    return { feature, context, record, reads, rootProblems };
  });
  const guarded = (name: string, run: () => void) => {
    try {
      run();
    } catch (error) {
      problems.raw(`feature/${name}`, `translation failed: ${(error as Error).message}`);
    }
  };
  for (const { feature, context } of roots) if (feature.reserve) guarded(feature.name, () => feature.reserve!(context));
  for (const { feature, context } of roots) {
    proxyPorts.phase = feature.name;
    guarded(feature.name, () => feature.build(context));
  }
  for (const { feature, record, reads, rootProblems } of roots) {
    record.errors = rootProblems.entries();
    for (const error of record.errors) problems.raw(error.object, error.message);
    record.reads = new Set(reads.keys());
    memo?.roots.set(feature.name, record);
    memo?.dependents.set(rootReader(feature.name), record.reads);
  }
  if (memo) memo.index = index;
  memo?.keep(PROXY_PORTS_STATE, proxyPorts); // the picks, for patch/ to add or drop a name
  for (const problem of validate(ir, memo?.checked)) problems.raw(problem.object, `${problem.path}: ${problem.message}`);

  const xds: XdsOutput[] = [];
  const emitOnce = memo ? <T>(node: object, build: () => T) => memo.emit(node, build) : <T>(_node: object, build: () => T) => build();
  for (const emitter of XDS_EMITTERS) for (const item of emitter.emit(ir, options, emitOnce)) xds.push({ type: emitter.type, ...item });
  memo?.end(index.size);
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

  const nodes = readNodes(index.local('node').map((entry) => ({ name: entry.ref.name, object: entry.object })));
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
  if (memo) recordPatchState(memo, problems.entries(), output);
  return output;
}
