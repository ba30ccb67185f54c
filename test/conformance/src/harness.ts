/**
 * The conformance run: one system for all tests. base.yaml and the runtime Secrets go in once; then
 * each test's manifests are written, its preconditions and cases run in order (status checks against
 * `tendril-status`, request checks against the generated configuration), and its file is removed and
 * its objects waited out of `tendril-objects` before the next test. Every check is eventual: it is
 * evaluated again on each change of the buckets until it holds, or until nothing has changed for a
 * grace period after the system settled (or the per-check timeout passed).
 */
import { canonicalJson } from '@tendril/contract';
import { generateRuntimeResources } from './certificates.js';
import { featureName, isClaimed, loadCorpus, unimplementedKind, type Check, type ConformanceTest, type Ref } from './corpus.js';
import { CONTROLLER_NAME, GATEWAY_CLASS, Pods, mutate, parseDocs, prepare, renderDocs, type Doc } from './manifests.js';
import { evaluateStatus, keyOf, namespacesReady, type StatusView } from './status-checks.js';
import { CLUSTER, ConformanceSystem } from './system.js';
import { TRAFFIC_CHECKS, evaluateTraffic, type TrafficContext } from './traffic-checks.js';

export interface CaseResult {
  index: number;
  phase: 'precondition' | 'case';
  check: string;
  title?: string;
  passed: boolean;
  failure?: string;
  resolved?: string;
}

export interface TestResult {
  name: string;
  features: string[];
  claimed: boolean;
  /** pass: every precondition and case held; fail: one did not; not-run: a kind Tendril does not implement; skipped: skipIfSupported. */
  outcome: 'pass' | 'fail' | 'not-run' | 'skipped';
  reason?: string;
  cases: CaseResult[];
  /** When it failed: the watcher's and translator's log lines naming the test's objects (refusals, translation errors). */
  logs?: string[];
  ms: number;
}

export interface ConformanceReport {
  claimedFeatures: string[];
  tests: TestResult[];
  features: { feature: string; pass: number; total: number; claimed: boolean }[];
  ms: number;
}

export interface RunOptions {
  dir: string;
  claimed: ReadonlySet<string>;
  /** Only tests whose name matches (TENDRIL_CONFORMANCE_ONLY). */
  only?: RegExp;
  /** Per-check timeout (ms). */
  checkTimeoutMs?: number;
  /** How long a failing check waits for another change once the system settled (ms). */
  graceMs?: number;
  log?: (line: string) => void;
}

const BASE_FILE = '00-base.yaml';
const RUNTIME_FILE = '01-runtime.yaml';
const testFile = (test: ConformanceTest) => `test-${test.name}.yaml`;

const gatewayClass: Doc = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'GatewayClass',
  metadata: { name: GATEWAY_CLASS },
  spec: { controllerName: CONTROLLER_NAME },
};

export async function runConformance(options: RunOptions): Promise<ConformanceReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const checkTimeoutMs = options.checkTimeoutMs ?? 10000;
  const graceMs = options.graceMs ?? 1000;
  const corpus = loadCorpus(options.dir);
  const system = new ConformanceSystem();
  const pods = new Pods();
  const pems = new Map<string, Record<string, string>>();
  const results: TestResult[] = [];
  try {
    const [runtime] = await Promise.all([generateRuntimeResources(corpus.runtime.resources), system.start()]);
    for (const { resource, data } of runtime) pems.set(`${resource.kind}/${resource.namespace}/${resource.name}`, data);
    const baseDocs = [gatewayClass, ...prepare(parseDocs(corpus.base), pods)];
    const runtimeDocs: Doc[] = runtime.map(({ resource, data }) =>
      resource.kind === 'Secret'
        ? {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'kubernetes.io/tls',
            metadata: { name: resource.name, namespace: resource.namespace },
            data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          }
        : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: resource.name, namespace: resource.namespace }, data },
    );
    const view = statusView(system);
    const settle = settler(system, view);
    await settle(() => {
      system.writeFile(BASE_FILE, renderDocs(baseDocs));
      system.writeFile(RUNTIME_FILE, renderDocs(runtimeDocs));
    }, [...baseDocs, ...runtimeDocs], []);
    log(`base: ${baseDocs.length + runtimeDocs.length} objects in tendril-objects (${Date.now() - started} ms)`);

    for (const test of corpus.tests) {
      if (options.only && !options.only.test(test.name)) continue;
      const testStarted = Date.now();
      const claimed = isClaimed(test, options.claimed);
      const features = test.features.map(featureName);
      const kind = unimplementedKind(test);
      if (kind) {
        results.push({ name: test.name, features, claimed, outcome: 'not-run', reason: `needs ${kind}, which Tendril does not implement`, cases: [], ms: 0 });
        continue;
      }
      const skipping = (test.skipIfSupported ?? []).map(featureName).filter((f) => options.claimed.has(f));
      if (skipping.length) {
        results.push({ name: test.name, features, claimed, outcome: 'skipped', reason: `skipped because ${skipping.join(', ')} is supported`, cases: [], ms: 0 });
        continue;
      }
      const raw = parseDocs(corpus.manifests(test));
      for (const doc of raw) {
        if (doc['kind'] === 'Secret' && doc['data']) pems.set(`Secret/${doc['metadata']?.['namespace']}/${doc['metadata']?.['name']}`, Object.fromEntries(Object.entries(doc['data'] as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])));
        if (doc['kind'] === 'ConfigMap' && doc['data']) pems.set(`ConfigMap/${doc['metadata']?.['namespace']}/${doc['metadata']?.['name']}`, doc['data'] as Record<string, string>);
      }
      const docs = prepare(raw, pods);
      await settle(() => system.writeFile(testFile(test), renderDocs(docs)), docs, []);
      const ctx: TrafficContext = {
        get config() {
          return system.envoyConfig();
        },
        pods: pods.byAddress,
        appProtocols: pods.appProtocols,
        defaultPort: (gateway) => defaultPort(view, test, gateway),
        pem: (ref, key) => pems.get(`${ref.kind}/${ref.namespace}/${ref.name}`)?.[key],
        gatewayAddress: (gateway) => (view.status('Gateway', gateway.namespace, gateway.name)?.status as { addresses?: { value?: string }[] } | undefined)?.addresses?.[0]?.value,
      };
      const cases: CaseResult[] = [];
      let failed: CaseResult | undefined;
      const steps: [Check, 'precondition' | 'case'][] = [...test.preconditions.map((c) => [c, 'precondition'] as [Check, 'precondition']), ...test.cases.map((c) => [c, 'case'] as [Check, 'case'])];
      const generations = new Map<string, number | undefined>();
      for (const [index, [check, phase]] of steps.entries()) {
        let result: CaseResult;
        if (check.check === 'mutate') {
          const ref = { kind: String(check['kind']), namespace: check['namespace'] as string | null, name: String(check['name']) };
          generations.set(`${ref.kind}/${ref.namespace}/${ref.name}`, view.object(ref.kind, ref.namespace, ref.name)?.metadata.generation);
          const before = docs.find((d) => d['kind'] === ref.kind && d['metadata']?.['name'] === ref.name);
          const previous = before ? canonicalJson(before) : undefined;
          const done = mutate(docs, check);
          if (done) await settle(() => system.writeFile(testFile(test), renderDocs(docs)), docs, check['action'] === 'delete' ? [ref] : [], previous !== undefined && check['action'] !== 'delete' ? ref : undefined);
          result = { index, phase, check: check.check, title: check.title, passed: done, failure: done ? undefined : `${ref.kind} ${ref.namespace ?? ''}/${ref.name} is not in the test's manifests` };
        } else if (check.check === 'generationChanged') {
          const key = `${check['kind']}/${check['namespace']}/${check['name']}`;
          const now = view.object(String(check['kind']), check['namespace'] as string | null, String(check['name']))?.metadata.generation;
          const before = generations.get(key);
          result = { index, phase, check: check.check, title: check.title, passed: now !== undefined && now !== before, failure: now !== undefined && now !== before ? undefined : `metadata.generation ${before} -> ${now}` };
        } else if (check.check === 'populateEndpointSlices') {
          const from = check['endpointsFrom'] as { deployment: string; namespace: string };
          const sourcePods = pods.ofDeployment(from.namespace, from.deployment);
          for (const doc of docs) {
            if (doc['kind'] !== 'EndpointSlice' || !(check['endpointSlices'] as string[]).includes(doc['metadata']?.['name']) || doc['addressType'] !== 'IPv4') continue;
            doc['endpoints'] = sourcePods.map((pod) => ({ addresses: [pod.address], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', namespace: pod.namespace, name: pod.name } }));
          }
          await settle(() => system.writeFile(testFile(test), renderDocs(docs)), docs, []);
          result = { index, phase, check: check.check, passed: true };
        } else {
          const evaluate = (): { failure?: string; resolved?: string } => {
            if (check.check === 'namespacesReady') {
              const gateways = [...baseDocs, ...docs].filter((d) => d['kind'] === 'Gateway').map((d) => ({ namespace: d['metadata']['namespace'], name: d['metadata']['name'], annotations: d['metadata']['annotations'] }));
              return { failure: namespacesReady(view, gateways, check['namespaces'] as string[]) };
            }
            if (TRAFFIC_CHECKS.has(check.check)) return evaluateTraffic(ctx, check, test.gateway);
            return { failure: evaluateStatus(view, check, test) };
          };
          const outcome = await eventually(system, evaluate, checkTimeoutMs, graceMs);
          result = { index, phase, check: check.check, title: check.title, passed: !outcome.failure, failure: outcome.failure, resolved: outcome.resolved };
        }
        cases.push(result);
        if (!result.passed) {
          failed ??= result;
          // as in Go: a failed precondition (or a mutation) ends the test; cases are subtests of their own and all run
          if (phase === 'precondition' || check.check === 'mutate' || check.check === 'populateEndpointSlices') break;
        }
      }
      const logs = failed
        ? [...new Set(docs.flatMap((d) => system.grep(`${d['metadata']?.['namespace'] ?? ''}/${d['kind']}/${d['metadata']?.['name']}`)))].filter((line) => /WARN|ERROR|translation error|refused/.test(line)).slice(0, 10)
        : undefined;
      const notRun = steps.length - cases.length;
      const failures = cases.filter((c) => !c.passed).length;
      await settle(() => system.removeFile(testFile(test)), [], docs.map((d) => ({ kind: d['kind'], namespace: d['metadata']?.['namespace'], name: d['metadata']?.['name'] })));
      const outcome = failed ? 'fail' : 'pass';
      results.push({ name: test.name, features, claimed, outcome, reason: failed ? `${failures} step(s) failed, first ${failed.phase} ${failed.index + 1} (${failed.check}${failed.title ? `: ${failed.title}` : ''})${notRun ? `; ${notRun} later steps not run` : ''}` : undefined, cases, ...(logs?.length ? { logs } : {}), ms: Date.now() - testStarted });
      log(`${outcome === 'pass' ? 'PASS' : 'FAIL'} ${test.name} (${Date.now() - testStarted} ms)${failed ? `: ${failed.failure}` : ''}`);
    }
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${system.output()}`);
  } finally {
    await system.dispose();
  }
  return { claimedFeatures: [...options.claimed].sort(), tests: results, features: featureTable(results, options.claimed), ms: Date.now() - started };
}

function statusView(system: ConformanceSystem): StatusView {
  return {
    cluster: CLUSTER,
    object: (kind, namespace, name) => {
      const key = keyOf(CLUSTER, kind, isClusterScoped(kind) ? undefined : namespace, name);
      return (kind === 'Secret' ? system.secrets : system.objects).entries.get(key);
    },
    status: (kind, namespace, name) => system.status.entries.get(keyOf(CLUSTER, kind, isClusterScoped(kind) ? undefined : namespace, name)),
    objectsOf: (kind, namespace) =>
      [...(kind === 'Secret' ? system.secrets : system.objects).entries]
        .filter(([, object]) => object.kind === kind && object.metadata.namespace === namespace)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, object]) => object),
  };
}

const isClusterScoped = (kind: string) => ['GatewayClass', 'Namespace'].includes(kind);

/**
 * Waits for the system to take in a change of the manifest folder: every object of `present` is in
 * `tendril-objects` (and `changed`, when given, at a new generation), every one of `absent` gone; then
 * the translator has run after it and the buckets stay quiet for a moment.
 */
function settler(system: ConformanceSystem, view: StatusView) {
  return async (write: () => void, present: Doc[], absent: { kind: string; namespace?: string | null; name: string }[], changed?: { kind: string; namespace: string | null; name: string }) => {
    const before = changed ? view.object(changed.kind, changed.namespace, changed.name)?.metadata.generation : undefined;
    const publishBefore = await system.lastPublish();
    write();
    const mirroredNow = () =>
      present.every((d) => view.object(String(d['kind']), d['metadata']?.['namespace'], String(d['metadata']?.['name']))) &&
      absent.every((r) => !view.object(r.kind, r.namespace, r.name)) &&
      (!changed || view.object(changed.kind, changed.namespace, changed.name)?.metadata.generation !== before);
    const deadline = Date.now() + 15000;
    while (!mirroredNow() && Date.now() < deadline) await system.nextChange(500);
    // the translator publishes after the change (debounce 20 ms, ceiling 200 ms), from as many objects as we see ...
    const ran = Date.now() + 5000;
    const published = async () => {
      const now = await system.lastPublish();
      let objects: number | undefined;
      try {
        objects = (JSON.parse(now) as { objects?: number }).objects;
      } catch {
        objects = undefined; // no answer (yet): keep waiting
      }
      return now !== publishBefore && objects === system.objects.entries.size + system.secrets.entries.size;
    };
    while (Date.now() < ran && !(await published())) await system.nextChange(100);
    // ... and its outputs stop changing
    for (let i = 0; i < 20; i++) {
      const revision = system.revision;
      await system.nextChange(150);
      if (system.revision === revision) break;
    }
  };
}

async function eventually(system: ConformanceSystem, evaluate: () => { failure?: string; resolved?: string }, timeoutMs: number, graceMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let outcome: { failure?: string; resolved?: string };
    try {
      outcome = evaluate();
    } catch (error) {
      outcome = { failure: `harness error: ${(error as Error).stack ?? error}` };
    }
    if (!outcome.failure || Date.now() >= deadline) return outcome;
    const revision = system.revision;
    await system.nextChange(Math.min(graceMs, deadline - Date.now()));
    if (system.revision === revision) return outcome;
  }
}

/** The port a request without `port` goes to: the listener a gatewayAndRoutesAccepted precondition names, else the first listener. */
function defaultPort(view: StatusView, test: ConformanceTest, gateway: Ref): number | undefined {
  const object = view.object('Gateway', gateway.namespace, gateway.name) as Doc | undefined;
  const listeners = (object?.['spec']?.['listeners'] ?? []) as Doc[];
  const named = test.preconditions.find((p) => p.check === 'gatewayAndRoutesAccepted' && (p.gateway as Ref | undefined)?.name === gateway.name)?.['listeners'] as string[] | undefined;
  const listener = (named?.[0] ? listeners.find((l) => l['name'] === named[0]) : undefined) ?? listeners[0];
  return listener ? Number(listener['port']) : undefined;
}

function featureTable(results: TestResult[], claimed: ReadonlySet<string>) {
  const rows = new Map<string, { feature: string; pass: number; total: number; claimed: boolean }>();
  for (const result of results) {
    for (const feature of result.features) {
      const row = rows.get(feature) ?? { feature, pass: 0, total: 0, claimed: claimed.has(feature) };
      row.total++;
      if (result.outcome === 'pass') row.pass++;
      rows.set(feature, row);
    }
  }
  return [...rows.values()].sort((a, b) => a.feature.localeCompare(b.feature));
}

export function renderReport(report: ConformanceReport): string {
  const lines: string[] = [];
  const width = Math.max(...report.tests.map((t) => t.name.length), 10);
  lines.push(`Gateway API conformance: ${report.tests.filter((t) => t.outcome === 'pass').length}/${report.tests.length} tests pass (${Math.round(report.ms / 1000)} s); claimed features: ${report.claimedFeatures.join(', ') || 'none'}`);
  lines.push('');
  lines.push(`${'test'.padEnd(width)}  outcome  claimed  cases  detail`);
  for (const test of report.tests) {
    const passed = test.cases.filter((c) => c.passed).length;
    lines.push(`${test.name.padEnd(width)}  ${test.outcome.padEnd(7)}  ${(test.claimed ? 'yes' : 'no').padEnd(7)}  ${`${passed}/${test.cases.length}`.padEnd(5)}  ${test.reason ?? ''}`);
    for (const failed of test.cases.filter((c) => !c.passed)) {
      lines.push(`${''.padEnd(width)}    ${failed.phase} ${failed.index + 1} ${failed.check}${failed.title ? ` "${failed.title}"` : ''}: ${failed.failure}`);
      if (failed.resolved) lines.push(`${''.padEnd(width)}      resolved: ${failed.resolved}`);
    }
    for (const line of test.logs ?? []) lines.push(`${''.padEnd(width)}    log: ${line}`);
  }
  lines.push('');
  lines.push(`${'feature'.padEnd(50)}  pass/total  claimed`);
  for (const row of report.features) lines.push(`${row.feature.padEnd(50)}  ${`${row.pass}/${row.total}`.padEnd(10)}  ${row.claimed ? 'yes' : 'no'}`);
  return lines.join('\n');
}

