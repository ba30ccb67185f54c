/**
 * Endpoint-only changes without a translation pass (issue 3, section 7). Endpoints are what changes
 * most in a live cluster (every Pod started, stopped or made ready), and what an EndpointSlice feeds
 * is narrow: the unit of its Service (clusters, endpoints, L4 entry), nothing else. When the caller
 * says which objects changed (TranslationInput.changes) and they are all EndpointSlices of this
 * cluster, the last output is patched instead: the affected Services' units are rebuilt, their
 * endpoints and L4 entries put in place of the old ones, their problems swapped — work in proportion
 * to the change, not to the mesh (bench/translate-ingress.mjs). Like Istio's EDS-only pushes.
 *
 * Whatever this path cannot prove local falls back to the full pass (which replays unchanged units,
 * memo.ts): a Service that is global (its endpoints merge other clusters'), one whose endpoints a
 * feature copied (TranslationContext.endpointsOf: an HTTP/2 twin, a CiliumEnvoyConfig
 * backendService), an L4 entry some feature replaced by something other than a redirect, a unit
 * whose output is not clusters/endpoints/L4 alone, an object that disagrees with its key, or any
 * other kind of change. The output is the same as a full translation's either way (memo.test.ts).
 */
import { canonicalJson, lbKey, type KubeObject } from '@tendril/contract';
import { emptyIR, validate, type ClusterEndpointsIR, type L4ServiceIR, type MeshIR } from '@tendril/model';
import type { TranslationContext } from './feature.js';
import { serviceView } from './feature.js';
import { buildServiceUnit, isGlobal, readSlice, serviceUnitId, serviceUnitInputs, type ReadSlice } from './features/services.js';
import { desiredLbService } from './lb/lb-service.js';
import { ProxyPorts } from './allocate/proxy-ports.js';
import type { TranslationMemo, UnitRecord } from './memo.js';
import { ObjectIndex, indexEntry, type IndexedObject } from './objects.js';
import type { TranslationOptions } from './options.js';
import { Problems, compare, type TranslationError } from './problems.js';
import type { TranslationOutput, XdsOutput } from './translate.js';
import { XDS_EMITTERS } from './xds/index.js';

/** More changed objects than this go through the full pass (a burst is cheaper translated whole). */
export const PATCH_LIMIT = 256;

interface SliceRecord {
  entry: IndexedObject;
  /** `namespace/name` of the Service the slice names, if any. */
  service?: string;
}

/** What the last output was made of, kept by the memo between translations. */
export interface PatchState {
  cluster: string;
  output: TranslationOutput;
  /** This cluster's EndpointSlices that the index took, by key. */
  slices: Map<string, SliceRecord>;
  /** The same slices by the Service they name, sorted by key (as the services feature groups them). */
  slicesByService: Map<string, readonly IndexedObject[]>;
  /** Keys the index refused (their problems are in the output): a change to one goes through the full pass. */
  refused: ReadonlySet<string>;
  /** This cluster's Services by `namespace/name`. */
  services: Map<string, IndexedObject>;
  /** Where each cluster's endpoints sit in output.ir.endpoints and output.xds; -1 when named twice. */
  irEndpointAt: Map<string, number>;
  xdsEndpointAt: Map<string, number>;
  /** Where each L4 entry (`namespace/name`) sits in output.ir.l4Services and (by lbKey) in output.lb. */
  l4At: Map<string, number>;
  lbAt: Map<string, number>;
  /** Every problem reported (before duplicates were merged), as `object\0message` -> count. */
  problemCounts: Map<string, number>;
}

const problemKey = (object: string, message: string) => `${object}\u0000${message}`;

function positions<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const at = new Map<string, number>();
  items.forEach((item, i) => at.set(keyOf(item), at.has(keyOf(item)) ? -1 : i));
  return at;
}

/** Records what patchEndpoints() needs from a full translation's index, problems and output. */
export function recordPatchState(memo: TranslationMemo, context: TranslationContext, problems: TranslationError[], output: TranslationOutput): void {
  const quiet = new Problems();
  const slices = new Map<string, SliceRecord>();
  const slicesByService = new Map<string, IndexedObject[]>();
  for (const entry of context.index.local('endpointslice')) {
    const { view } = readSlice(context, entry, quiet);
    const service = view.serviceName !== undefined && view.source.namespace !== undefined ? `${view.source.namespace}/${view.serviceName}` : undefined;
    slices.set(entry.key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) {
      const list = slicesByService.get(service);
      if (list) list.push(entry);
      else slicesByService.set(service, [entry]);
    }
  }
  const problemCounts = new Map<string, number>();
  for (const problem of problems) {
    const key = problemKey(problem.object, problem.message);
    problemCounts.set(key, (problemCounts.get(key) ?? 0) + 1);
  }
  const state: PatchState = {
    cluster: context.index.cluster,
    output,
    slices,
    slicesByService,
    refused: new Set(context.index.refused),
    services: new Map(context.index.local('service').map((entry) => [`${entry.ref.namespace}/${entry.ref.name}`, entry] as const)),
    irEndpointAt: positions(output.ir.endpoints, (group) => group.clusterName),
    xdsEndpointAt: positions(
      output.xds.map((item) => (item.type === 'endpoint' ? item.name : '')),
      (name) => name,
    ),
    l4At: positions(output.ir.l4Services, (service) => `${service.namespace}/${service.name}`),
    lbAt: positions(output.lb, (entry) => lbKey(entry)),
    problemCounts,
  };
  state.xdsEndpointAt.delete('');
  memo.patchState = state;
}

/**
 * The output of a translation of `objects` after `changes`, patched into the last output when the
 * changes are EndpointSlices whose effect stays in their Services' units; undefined otherwise (the
 * caller runs the full pass). Nothing is recorded unless the whole patch succeeds.
 */
export function patchEndpoints(
  memo: TranslationMemo,
  cluster: string,
  options: TranslationOptions,
  changes: Iterable<readonly [string, KubeObject | undefined]>,
): TranslationOutput | undefined {
  const state = memo.patchState as PatchState | undefined;
  if (!state || state.cluster !== cluster || !memo.sameSettings(options, cluster)) return undefined;
  const changed = new Map<string, KubeObject | undefined>();
  for (const [key, object] of changes) {
    changed.set(key, object);
    if (changed.size > PATCH_LIMIT) return undefined;
  }

  memo.stats = { built: 0, reused: 0 };
  const quiet = new Problems();
  const context = unitContext(memo, cluster, options, emptyIR(), quiet);
  const counts = new Map<string, number>(); // problem key -> change in count
  const count = (errors: readonly TranslationError[], by: number) => {
    for (const error of errors) {
      const key = problemKey(error.object, error.message);
      counts.set(key, (counts.get(key) ?? 0) + by);
    }
  };
  const sliceProblems = (entry: IndexedObject) => {
    const sink = new Problems();
    readSlice(context, entry, sink);
    return sink.entries();
  };

  // The slices after the change, by Service: copies of the lists the change touches.
  const lists = new Map<string, IndexedObject[]>();
  const listOf = (service: string) => {
    let list = lists.get(service);
    if (!list) lists.set(service, (list = [...(state.slicesByService.get(service) ?? [])]));
    return list;
  };
  const slices = new Map<string, SliceRecord | undefined>();
  for (const [key, object] of changed) {
    if (state.refused.has(key)) return undefined;
    const before = state.slices.get(key);
    if (object !== undefined && before?.entry.object === object) continue;
    if (object === undefined && !before) {
      // Not a slice the index took: a deletion of something else, or of a slice it refused.
      if (!key.startsWith(`${cluster}.endpointslice.`)) return undefined;
      continue;
    }
    let entry: IndexedObject | undefined;
    if (object !== undefined) {
      const refused = new Problems();
      entry = indexEntry(cluster, key, object, refused, memo.keys);
      if (!entry || entry.ref.kind !== 'endpointslice' || entry.ref.cluster !== cluster) return undefined;
    }
    if (before) {
      count(sliceProblems(before.entry), -1);
      if (before.service !== undefined) {
        const list = listOf(before.service);
        list.splice(list.indexOf(before.entry), 1);
      }
    }
    if (!entry) {
      slices.set(key, undefined);
      continue;
    }
    count(sliceProblems(entry), +1);
    const { view } = readSlice(context, entry, quiet);
    const service = view.serviceName !== undefined && view.source.namespace !== undefined ? `${view.source.namespace}/${view.serviceName}` : undefined;
    slices.set(key, service === undefined ? { entry } : { entry, service });
    if (service !== undefined) {
      const list = listOf(service);
      let at = list.length;
      while (at > 0 && compare(list[at - 1]!.key, key) > 0) at--;
      list.splice(at, 0, entry);
    }
  }

  const output = state.output;
  const rebuilt: [string, UnitRecord][] = [];
  const endpointAt = new Map<number, ClusterEndpointsIR>();
  const xdsAt = new Map<number, XdsOutput>();
  const l4At = new Map<number, L4ServiceIR>();
  const lbAt = new Map<number, ReturnType<typeof desiredLbService>>();
  const emitOnce = <T>(node: object, build: () => T) => memo.emit(node, build);
  const endpointEmitter = XDS_EMITTERS.find((emitter) => emitter.type === 'endpoint')!;
  for (const [id, list] of lists) {
    const service = state.services.get(id);
    if (!service) continue; // slices of no Service: only their own problems count
    const view = serviceView(context, service, quiet);
    if (view.type === 'ExternalName') continue;
    if (isGlobal(view)) return undefined;
    const unitId = serviceUnitId(service);
    const old = memo.recorded(unitId);
    if (!old) return undefined;
    const own: ReadSlice[] = list.map((entry) => readSlice(context, entry, quiet));
    const record = memo.rebuild(serviceUnitInputs(service, own, []), (ir, problems, setStatus) => buildServiceUnit(unitContext(memo, cluster, options, ir, problems, setStatus), view, own, []));
    if (!endpointsAndL4Only(old) || !endpointsAndL4Only(record)) return undefined;
    // Clusters come from the Service alone: equal ones keep their identity (and their Envoy resource).
    if (old.ir.clusters.length !== record.ir.clusters.length) return undefined;
    for (let i = 0; i < old.ir.clusters.length; i++) if (canonicalJson(old.ir.clusters[i]) !== canonicalJson(record.ir.clusters[i])) return undefined;
    record.ir.clusters = old.ir.clusters;

    if (old.ir.endpoints.length !== record.ir.endpoints.length) return undefined;
    for (let i = 0; i < old.ir.endpoints.length; i++) {
      const [before, after] = [old.ir.endpoints[i]!, record.ir.endpoints[i]!];
      if (before.clusterName !== after.clusterName || memo.endpointReads.has(before.clusterName)) return undefined;
      const at = state.irEndpointAt.get(before.clusterName);
      const xdsIndex = state.xdsEndpointAt.get(before.clusterName);
      if (at === undefined || at < 0 || output.ir.endpoints[at] !== before || xdsIndex === undefined || xdsIndex < 0) return undefined;
      endpointAt.set(at, after);
      const [emitted] = endpointEmitter.emit({ ...emptyIR(), endpoints: [after] }, options, emitOnce);
      xdsAt.set(xdsIndex, { type: 'endpoint', ...emitted! });
    }

    if (old.ir.l4Services.length !== record.ir.l4Services.length || old.ir.l4Services.length > 1) return undefined;
    const [unitBefore, unitAfter] = [old.ir.l4Services[0], record.ir.l4Services[0]];
    let finalBefore: L4ServiceIR | undefined;
    let finalAfter: L4ServiceIR | undefined;
    if (unitBefore && unitAfter) {
      const at = state.l4At.get(id);
      finalBefore = at === undefined || at < 0 ? undefined : output.ir.l4Services[at];
      if (!finalBefore) return undefined;
      if (finalBefore === unitBefore) finalAfter = unitAfter;
      else if (isRedirectOf(finalBefore, unitBefore)) finalAfter = { ...unitAfter, l7Redirect: finalBefore.l7Redirect };
      else return undefined; // replaced by something else (a load balancer's entry of the same name)
      const entry = memo.emit(finalAfter, () => desiredLbService(cluster, finalAfter!));
      const lbIndex = state.lbAt.get(lbKey(entry));
      if (lbIndex === undefined || lbIndex < 0) return undefined;
      l4At.set(at!, finalAfter);
      lbAt.set(lbIndex, entry);
    }

    count(old.errors, -1);
    count(record.errors, +1);
    // Checks of these items (validate); those between items give the same answer before and after,
    // as the names, frontends and redirects they compare did not change.
    const checked = (endpoints: ClusterEndpointsIR[], l4: L4ServiceIR | undefined): TranslationError[] =>
      validate({ ...emptyIR(), clusters: old.ir.clusters, endpoints, l4Services: l4 ? [l4] : [] }, memo.checked).map((problem) => ({ object: problem.object, message: `${problem.path}: ${problem.message}` }));
    count(checked(old.ir.endpoints, finalBefore), -1);
    count(checked(record.ir.endpoints, finalAfter), +1);
    rebuilt.push([unitId, record]);
  }

  // Problems after the change; the list is rebuilt only when one appeared or went.
  let appearedOrWent = false;
  for (const [key, delta] of counts) {
    const before = state.problemCounts.get(key) ?? 0;
    if (before + delta < 0) return undefined; // not what the last pass recorded: let the full pass decide
    if ((before > 0) !== (before + delta > 0)) appearedOrWent = true;
  }

  // Certain now: record and answer.
  for (const [id, record] of rebuilt) memo.replace(id, record);
  for (const [key, delta] of counts) {
    const after = (state.problemCounts.get(key) ?? 0) + delta;
    if (after === 0) state.problemCounts.delete(key);
    else state.problemCounts.set(key, after);
  }
  const errors = appearedOrWent
    ? [...state.problemCounts.keys()].sort(compare).map((key) => {
        const split = key.indexOf('\u0000');
        return { object: key.slice(0, split), message: key.slice(split + 1) };
      })
    : output.errors;
  for (const [key, record] of slices) {
    if (record) state.slices.set(key, record);
    else state.slices.delete(key);
  }
  for (const [service, list] of lists) {
    if (list.length) state.slicesByService.set(service, list);
    else state.slicesByService.delete(service);
  }
  // In place: copying the arrays would cost in proportion to the mesh (see TranslationInput.changes).
  for (const [at, item] of endpointAt) output.ir.endpoints[at] = item;
  for (const [at, item] of l4At) output.ir.l4Services[at] = item;
  for (const [at, item] of xdsAt) output.xds[at] = item;
  for (const [at, item] of lbAt) output.lb[at] = item;
  const serial = memo.nextSerial();
  state.output = {
    xds: output.xds,
    lb: output.lb,
    statuses: output.statuses,
    errors,
    ir: output.ir,
    serial,
    patch: { base: output.serial!, xds: [...xdsAt.values()], lb: [...lbAt.values()] },
  };
  memo.lastPass = 'endpoints';
  return state.output;
}

function endpointsAndL4Only(record: UnitRecord): boolean {
  const { ir } = record;
  return ir.listeners.length === 0 && ir.routes.length === 0 && ir.secrets.length === 0 && ir.envoyConfigs.length === 0 && record.statuses.length === 0;
}

/** Whether `copy` is `original` with only its redirect changed (lb/redirect.ts makes such copies). */
function isRedirectOf(copy: L4ServiceIR, original: L4ServiceIR): boolean {
  const keys = Object.keys(original) as (keyof L4ServiceIR)[];
  if (Object.keys(copy).length !== keys.length) return false;
  return keys.every((key) => key === 'l7Redirect' || copy[key] === original[key]);
}

/** A context for building one unit outside a pass: units read nothing but their inputs and the options. */
function unitContext(memo: TranslationMemo, cluster: string, options: TranslationOptions, ir: MeshIR, problems: Problems, setStatus: TranslationContext['setStatus'] = () => {}): TranslationContext {
  const context: TranslationContext = {
    index: new ObjectIndex(cluster, [], problems),
    ir,
    problems,
    options,
    proxyPorts: new ProxyPorts(options.proxyPort, options.proxyPortCount),
    setStatus,
    unit: (_id, _inputs, build) => build(context),
    endpointsOf: () => undefined,
    view: (object, kind, sink, read) => memo.view(object, kind, sink, read),
  };
  return context;
}
