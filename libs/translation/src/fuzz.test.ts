// Fuzzing translation: 10,000 generated objects (valid copies of the golden inputs, half-valid copies
// with one field replaced by junk, and garbage) in namespaces of their own, next to the golden inputs.
// No exception escapes (not even one a feature catches), every object refused for its shape gets a
// reason naming it, and what the golden inputs translate to is unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { objectKey, parseObjectKey, type KubeObject, type ObjectKind } from '@tendril/contract';
import { translate, type TranslationOutput } from './index.js';
import { TEST_CLUSTER, goldenCases, manifestObjects } from './testing/golden.js';
import { Random } from './testing/random.js';

const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));
const TOTAL = 10000;
const BATCHES = 10;

const JUNK: unknown[] = [null, -1, 0, 70000, 1.5, '', 'x', '::::', '999.1.1.1', '/../..', '(', true, false, [], [1, 'a'], {}, { a: { b: [] } }, 'constructor', '__proto__', 'a'.repeat(300)];
const KINDS: ObjectKind[] = ['service', 'endpointslice', 'ingress', 'ingressclass', 'secret', 'ciliumenvoyconfig', 'ciliumclusterwideenvoyconfig'];
const KIND_OF: Record<string, string> = { service: 'Service', endpointslice: 'EndpointSlice', ingress: 'Ingress', ingressclass: 'IngressClass', secret: 'Secret', ciliumenvoyconfig: 'CiliumEnvoyConfig', ciliumclusterwideenvoyconfig: 'CiliumClusterwideEnvoyConfig' };
/** Kinds whose readers check the shape of their spec (or top-level lists): garbage there must be reported. */
const CHECKED: Record<string, string> = { Service: 'spec', EndpointSlice: 'endpoints', Ingress: 'spec' };

function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((item, i) => [i, item] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([key, item]) => paths(item, [...prefix, key]))];
}

function setAt(root: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
}

interface Generated {
  key: string;
  object: KubeObject;
  /** Garbage with a wrong-typed field its reader checks: must be reported. */
  mustBeReported: boolean;
}

const CLUSTER_SCOPED = new Set<ObjectKind>(['ingressclass', 'ciliumclusterwideenvoyconfig', 'namespace', 'gatewayclass']);

function keyOf(kind: ObjectKind, namespace: string, name: string): string {
  return objectKey({ cluster: TEST_CLUSTER, kind, ...(CLUSTER_SCOPED.has(kind) ? {} : { namespace }), name });
}

/**
 * An Ingress copy claims hosts of its own and its own (dedicated) load balancer: two Ingresses with
 * the same host, or any Ingress joining the shared load balancer, change what the others get by design.
 */
function ownSpace(ingress: KubeObject, name: string): void {
  const annotations = { ...((ingress.metadata as { annotations?: Record<string, string> }).annotations ?? {}) };
  for (const key of Object.keys(annotations)) if (key.endsWith('/loadbalancer-mode')) delete annotations[key];
  (ingress.metadata as { annotations?: Record<string, string> }).annotations = annotations;
  const rename = (host: unknown) => (typeof host !== 'string' || host === '' ? host : host.startsWith('*.') ? `*.${name}.${host.slice(2)}` : `${name}.${host}`);
  const spec = (ingress as { spec?: { rules?: { host?: unknown }[]; tls?: { hosts?: unknown[] }[] } }).spec;
  for (const rule of spec?.rules ?? []) if (rule.host !== undefined) rule.host = rename(rule.host);
  for (const tls of spec?.tls ?? []) if (tls.hosts) tls.hosts = tls.hosts.map(rename);
}

/**
 * A hand-written config copy lets its listeners be placed (no address): two configs binding one port
 * refuse the later one by design, which would change what the golden configs get.
 */
function ownPorts(config: KubeObject): void {
  const resources = (config as { spec?: { resources?: unknown } }).spec?.resources;
  if (!Array.isArray(resources)) return;
  for (const resource of resources) if (resource && typeof resource === 'object' && String((resource as Record<string, unknown>)['@type']).endsWith('.Listener')) delete (resource as Record<string, unknown>)['address'];
}

function generate(random: Random, templates: [ObjectKind, KubeObject][], index: number): Generated {
  const namespace = `fuzz-${index % 97}`;
  const name = `f${index}`;
  const roll = random.next();
  if (roll < 0.34) {
    // garbage: a kind with junk where its reader expects an object or a list
    const kind = random.pick(KINDS);
    const object = { apiVersion: 'v1', kind: KIND_OF[kind]!, metadata: CLUSTER_SCOPED.has(kind) ? { name } : { name, namespace }, spec: random.pick(JUNK), endpoints: random.pick(JUNK) } as KubeObject;
    const checked = CHECKED[object.kind];
    const junk = checked ? (object as Record<string, unknown>)[checked] : undefined;
    const wrongType = junk !== null && junk !== undefined && (typeof junk !== 'object' || (checked === 'spec' && Array.isArray(junk)) || (checked === 'endpoints' && !Array.isArray(junk)));
    return { key: keyOf(kind, namespace, name), object, mustBeReported: wrongType };
  }
  const [kind, picked] = random.pick(templates);
  const template = structuredClone(picked);
  template.metadata = CLUSTER_SCOPED.has(kind) ? { ...template.metadata, name } : { ...template.metadata, name, namespace };
  if (CLUSTER_SCOPED.has(kind)) delete (template.metadata as { namespace?: string }).namespace;
  if (kind === 'ingress') ownSpace(template, name);
  if (kind === 'ciliumenvoyconfig' || kind === 'ciliumclusterwideenvoyconfig') ownPorts(template);
  if (roll < 0.67) {
    // half-valid: one field anywhere replaced with junk (metadata's identity kept, so the key holds)
    const candidates = paths(template).filter((path) => path.length > 0 && !(path[0] === 'metadata' && (path[1] === 'name' || path[1] === 'namespace' || path.length === 1)) && path[0] !== 'kind');
    if (candidates.length) setAt(template as Record<string, unknown>, random.pick(candidates), random.pick(JUNK));
  }
  return { key: keyOf(kind, namespace, name), object: template, mustBeReported: false };
}

function tryParse(key: string): ReturnType<typeof parseObjectKey> | undefined {
  try {
    return parseObjectKey(key);
  } catch {
    return undefined;
  }
}

/** Where two renderings part, with a little context: the assertion diff alone cuts long lines. */
function firstDifference(actual: string[], expected: string[]): string {
  const index = actual.findIndex((item, i) => item !== expected[i]);
  if (index < 0) return `lengths ${actual.length} vs ${expected.length}`;
  const [a, b] = [actual[index]!, expected[index] ?? ''];
  let at = 0;
  while (a[at] === b[at]) at++;
  return `item ${index}: ...${a.slice(Math.max(0, at - 80), at + 200)} <> ...${b.slice(Math.max(0, at - 80), at + 200)}`;
}

/** Allocated numbers (node proxy ports, Ingress LB addresses) shift when other names collide; compare without them. */
function normalized(output: TranslationOutput, keep: (name: string) => boolean, keys: Set<string>): string[] {
  const items = [
    ...output.xds.filter((item) => keep(item.name)).map(({ type, name, resource }) => ({ type, name, resource })),
    ...output.lb.filter((entry) => keep(`${entry.namespace}/${entry.name}`)),
    ...output.statuses.filter((status) => keys.has(status.key)),
  ];
  return items.map((item) =>
    JSON.stringify(item)
      .replace(/"portValue":\d+/g, '"portValue":"<port>"')
      .replace(/"l7Proxy":\{"port":\d+(,"frontendPorts":\{[^}]*\})?\}/g, '"l7Proxy":"<port>"')
      .replace(/127\.101\.\d+\.\d+/g, '<ingress address>')
      .replace(/127\.102\.\d+\.\d+/g, '<gateway address>')
      .replace(/redirected to port \d+/g, 'redirected to port <port>'),
  );
}

test(`fuzz: ${TOTAL} generated objects beside the golden inputs`, () => {
  const base = new Map<string, KubeObject>();
  for (const golden of goldenCases(testdata)) for (const [key, object] of manifestObjects(golden.input)) base.set(key, object);
  // Objects of this cluster only: other clusters' copies would join global services by name.
  const templates: [ObjectKind, KubeObject][] = [];
  for (const [key, object] of base) {
    const ref = tryParse(key); // the invalid-inputs case has deliberately broken keys
    if (ref?.cluster === TEST_CLUSTER && object.kind === KIND_OF[ref.kind]) templates.push([ref.kind, object]);
  }
  const reference = translate({ cluster: TEST_CLUSTER, objects: base });
  const referenceNames = new Set([...reference.xds.map((item) => item.name), ...reference.lb.map((entry) => `${entry.namespace}/${entry.name}`)]);
  const keep = (name: string) => referenceNames.has(name);
  const keys = new Set(reference.statuses.map((status) => status.key));
  const expected = normalized(reference, keep, keys);

  const random = new Random(20261123);
  let reported = 0;
  for (let batch = 0; batch < BATCHES; batch++) {
    const generated = Array.from({ length: TOTAL / BATCHES }, (_, i) => generate(random, templates, batch * (TOTAL / BATCHES) + i));
    const objects = new Map(base);
    for (const item of generated) objects.set(item.key, item.object);
    let output: TranslationOutput;
    try {
      output = translate({ cluster: TEST_CLUSTER, objects });
    } catch (error) {
      assert.fail(`batch ${batch}: translate threw ${(error as Error).stack}`);
    }
    assert.deepEqual(output.errors.filter((error) => error.object.startsWith('feature/')), [], `batch ${batch}: a feature threw`);
    for (const error of output.errors) assert.ok(error.object && error.message, `batch ${batch}: an error without object or reason: ${JSON.stringify(error)}`);
    const named = new Set(output.errors.map((error) => error.object));
    for (const item of generated.filter((candidate) => candidate.mustBeReported)) {
      const ref = parseObjectKey(item.key);
      const object = ref.namespace === undefined ? `${item.object.kind}/${ref.name}` : `${ref.namespace}/${item.object.kind}/${ref.name}`;
      assert.ok(named.has(object), `batch ${batch}: ${item.key} (${JSON.stringify(item.object)}) was refused without a reason`);
      reported++;
    }
    const actual = normalized(output, keep, keys);
    assert.deepEqual(actual, expected, `batch ${batch}: the golden inputs' output changed: ${firstDifference(actual, expected)}`);
  }
  assert.ok(reported > TOTAL / 10, `only ${reported} garbage objects were checked for a reason`);
});
