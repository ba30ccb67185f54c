// Incremental translation (memo.ts, patch/): with a memo kept across translations, and with the changed
// objects told or not, the output is exactly what a fresh translation gives, on random edit sequences
// over every golden input (objects replaced by equal copies, fields changed to other or junk values,
// objects deleted and restored, batches of several kinds); and a change to one object rebuilds only the
// units that read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { canonicalJson, type KubeObject } from '@tendril/contract';
import { TranslationMemo, translate, type TranslationOutput } from './index.js';
import { TEST_CLUSTER, goldenCases, manifestObjects } from './testing/golden.js';
import { Random } from './testing/random.js';

const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));

const VALUES: unknown[] = [null, 0, 1, 81, 8080, 70000, '', 'x', 'true', 'false', 'enabled', 'maglev', 'grpc', 'ClientIP', '10.0.0.9', '::1', [], {}, true, false];

function leafPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((item, i) => [i, item] as const) : Object.entries(value);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, item]) => leafPaths(item, [...prefix, key]));
}

/** A copy of `object` with one field (never kind or metadata.name/namespace, which make the key) changed. */
function edited(object: KubeObject, random: Random): KubeObject {
  const copy = structuredClone(object) as unknown as Record<string, unknown>;
  const candidates = leafPaths(copy).filter((path) => path.length > 0 && path[0] !== 'kind' && !(path[0] === 'metadata' && (path[1] === 'name' || path[1] === 'namespace')));
  if (candidates.length === 0) return copy as unknown as KubeObject;
  const path = random.pick(candidates);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = structuredClone(random.pick(VALUES));
  return copy as unknown as KubeObject;
}

/**
 * The outputs, and the IR's contents: the order of an IR list carries no meaning (the outputs made
 * from it are sorted), and a patch adds items at the end of a list and fills a removed item's place
 * with the last one.
 */
function comparable(output: TranslationOutput): string {
  const ir = Object.fromEntries(Object.entries(output.ir).map(([list, items]) => [list, (items as unknown[]).map((item) => canonicalJson(item)).sort()]));
  return canonicalJson({ xds: output.xds, lb: output.lb, statuses: output.statuses, errors: output.errors, ir });
}

test('with a memo, every translation of a random edit sequence equals a fresh translation', () => {
  const random = new Random(20261123);
  let steps = 0;
  for (const golden of goldenCases(testdata)) {
    const original = new Map(manifestObjects(golden.input));
    const objects = new Map(original);
    const memo = new TranslationMemo();
    // Told which object changed: what can be is patched into the last output (patch/), the rest is a full pass.
    const told = new TranslationMemo();
    for (let step = 0; step < 40; step++) {
      const keys = [...original.keys()];
      const key = random.pick(keys);
      const action = random.int(4);
      if (action === 0) objects.set(key, structuredClone(objects.get(key) ?? original.get(key)!));
      else if (action === 1) objects.set(key, edited(objects.get(key) ?? original.get(key)!, random));
      else if (action === 2) objects.delete(key);
      else objects.set(key, original.get(key)!);
      const fresh = comparable(translate({ cluster: TEST_CLUSTER, objects }));
      const what = `${golden.name}, step ${step}: ${['copied', 'edited', 'deleted', 'restored'][action]} ${key}`;
      assert.equal(comparable(translate({ cluster: TEST_CLUSTER, objects, memo })), fresh, what);
      assert.equal(comparable(translate({ cluster: TEST_CLUSTER, objects, memo: told, changes: [[key, objects.get(key)]] })), fresh, `${what} (changes given)`);
      steps++;
    }
  }
  assert.ok(steps >= 40 * 10, `only ${steps} steps ran`);
});

/** One golden input under random change: its objects as first read, and as changed so far. */
interface Sequence {
  name: string;
  original: Map<string, KubeObject>;
  objects: Map<string, KubeObject>;
  /** Names of the input's objects of one Kind. */
  names(kind: string): string[];
}

/**
 * For each golden input holding keys `pick` takes: `steps` batches of changes, each made by `change`
 * through `put` (undefined deletes), translated with the memo and the changes told, and compared with
 * a fresh translation. Answers how many batches ran and how many were patched (not the full pass).
 */
function patchSequences(
  seed: number,
  steps: number,
  pick: (key: string) => boolean,
  change: (sequence: Sequence, keys: string[], random: Random, put: (key: string, value: KubeObject | undefined) => void, step: number) => void,
  minKeys = 1,
): { steps: number; patched: number } {
  const random = new Random(seed);
  let ran = 0;
  let patched = 0;
  for (const golden of goldenCases(testdata)) {
    const original = new Map(manifestObjects(golden.input));
    const keys = [...original.keys()].filter(pick);
    if (keys.length < minKeys) continue;
    const sequence: Sequence = {
      name: golden.name,
      original,
      objects: new Map(original),
      names: (kind) => [...original.values()].filter((object) => object.kind === kind).map((object) => object.metadata.name),
    };
    const { objects } = sequence;
    const memo = new TranslationMemo();
    translate({ cluster: TEST_CLUSTER, objects, memo });
    for (let step = 0; step < steps; step++) {
      const changes = new Map<string, KubeObject | undefined>();
      change(sequence, keys, random, (key, value) => {
        if (value) objects.set(key, value);
        else objects.delete(key);
        changes.set(key, value);
      }, step);
      const incremental = translate({ cluster: TEST_CLUSTER, objects, memo, changes });
      if (memo.lastPass === 'patch') patched++;
      assert.equal(comparable(incremental), comparable(translate({ cluster: TEST_CLUSTER, objects })), `${golden.name}, step ${step}: ${[...changes.keys()].join(', ')}`);
      ran++;
    }
  }
  return { steps: ran, patched };
}

/** A random change to an EndpointSlice: other endpoints, conditions, ports, its Service, or a field set to junk. */
function sliceEdit(object: KubeObject, services: string[], random: Random): KubeObject {
  const copy = structuredClone(object) as unknown as { metadata: { labels?: Record<string, string> }; endpoints?: unknown[]; ports?: unknown[] };
  const action = random.int(6);
  const endpoint = () => ({ addresses: [`127.0.${random.int(4)}.${1 + random.int(20)}`], conditions: { ready: random.int(4) > 0, serving: true, terminating: random.int(5) === 0 } });
  if (action === 0) copy.endpoints = Array.from({ length: random.int(4) }, endpoint);
  else if (action === 1) copy.endpoints = [...(Array.isArray(copy.endpoints) ? copy.endpoints : []), endpoint()];
  else if (action === 2 && Array.isArray(copy.ports) && copy.ports.length) copy.ports[0] = { ...(copy.ports[0] as object), port: 1 + random.int(9000) };
  else if (action === 3 && services.length) copy.metadata.labels = { ...copy.metadata.labels, 'kubernetes.io/service-name': random.pick(services) };
  else if (action === 4 && Array.isArray(copy.ports) && copy.ports.length) copy.ports[0] = { ...(copy.ports[0] as object), name: random.pick(['http', 'grpc', 'other', '']) };
  else return edited(object, random);
  return copy as unknown as KubeObject;
}

test('EndpointSlice changes told to the memo patch the last output, equal to a fresh translation', () => {
  // Ours and other clusters' (those of a global Service count here too), one to three at a time.
  const { steps, patched } = patchSequences(4242, 30, (key) => key.split('.')[1] === 'endpointslice', ({ original, objects, names }, keys, random, put) => {
    for (let n = 1 + random.int(3); n > 0; n--) {
      const base = random.pick(keys);
      const action = random.int(8);
      // A new slice of the same Service, under a key of its own.
      const key = action === 7 ? `${base}-extra` : base;
      const current = objects.get(key) ?? original.get(base)!;
      put(key, action === 5 ? undefined : action === 6 ? original.get(base)! : sliceEdit(action === 7 ? { ...current, metadata: { ...current.metadata, name: `${current.metadata.name}-extra` } } : current, names('Service'), random));
    }
  });
  assert.ok(steps >= 30 * 10, `only ${steps} steps ran`);
  // Most golden inputs have plain Services: most of these changes must take the patch, not the full pass.
  assert.ok(patched > steps / 2, `only ${patched} of ${steps} changes were patched`);
  console.log(`# slice changes: ${patched} of ${steps} patched`);
});

function service(i: number): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: 'default' }, spec: { clusterIP: `127.96.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80 }] } } as KubeObject;
}

function slice(i: number, address: string): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-a`, namespace: 'default', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
  } as KubeObject;
}

/** A random edit of an Ingress: paths, backends, TLS, annotations, class, or a field set to junk. */
function ingressEdit(object: KubeObject, services: string[], secrets: string[], random: Random): KubeObject {
  const copy = structuredClone(object) as unknown as { metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> };
  if (typeof copy.spec !== 'object' || copy.spec === null || Array.isArray(copy.spec)) return edited(object, random);
  const spec = copy.spec;
  const rules = Array.isArray(spec['rules']) ? (spec['rules'] as { host?: string; http?: { paths?: Record<string, unknown>[] } }[]) : [];
  const paths = rules.flatMap((rule) => (Array.isArray(rule.http?.paths) ? rule.http!.paths! : []));
  const backend = () => ({ service: { name: random.pick([...services, 'missing']), port: random.int(3) === 0 ? { name: random.pick(['http', 'grpc', 'nope']) } : { number: random.pick([80, 443, 8080, 9000]) } } });
  const annotation = () => random.pick([
    ['ingress.cilium.io/request-timeout', random.pick(['5s', '1m', 'soon'])],
    ['ingress.cilium.io/force-https', random.pick(['enabled', 'disabled', 'maybe'])],
    ['ingress.cilium.io/tls-passthrough', random.pick(['enabled', 'disabled'])],
    ['ingress.cilium.io/loadbalancer-mode', random.pick(['dedicated', 'shared', 'odd'])],
    ['ingress.cilium.io/service-type', random.pick(['NodePort', 'LoadBalancer'])],
    ['ingress.cilium.io/insecure-node-port', random.pick(['30080', 'x'])],
    ['kubernetes.io/ingress.class', random.pick(['cilium', 'nginx'])],
  ]);
  const action = random.int(8);
  if (action === 0 && paths.length) random.pick(paths)['path'] = random.pick(['/', '/a', '/b/c', '/x']);
  else if (action === 1 && paths.length) random.pick(paths)['backend'] = backend();
  else if (action === 2 && paths.length) random.pick(paths)['pathType'] = random.pick(['Exact', 'Prefix', 'ImplementationSpecific']);
  else if (action === 3) spec['tls'] = random.int(3) === 0 ? [] : [{ hosts: rules.map((rule) => rule.host).filter((host) => host), secretName: random.pick([...secrets, 'missing-tls']) }];
  else if (action === 4) {
    const [name, value] = annotation()!;
    copy.metadata.annotations = { ...copy.metadata.annotations, [name]: value };
  } else if (action === 5) spec['defaultBackend'] = backend();
  else if (action === 6 && rules.length) rules.push({ host: `extra-${random.int(3)}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend() }] } });
  else return edited(object, random);
  return copy as unknown as KubeObject;
}

test('Ingress edits told to the memo patch the last output, equal to a fresh translation', () => {
  const { steps, patched } = patchSequences(777, 40, (key) => key.startsWith(`${TEST_CLUSTER}.ingress.`), ({ original, objects, names }, keys, random, put) => {
    const key = random.pick(keys);
    put(key, random.int(10) === 0 ? original.get(key)! : ingressEdit(objects.get(key)!, names('Service'), names('Secret'), random));
  });
  assert.ok(steps >= 40 * 3, `only ${steps} steps ran`);
  assert.ok(patched > steps / 3, `only ${patched} of ${steps} edits were patched`);
  console.log(`# ingress edits: ${patched} of ${steps} patched`);
});

/** A random edit of a Service: ports, annotations, type, affinity, labels, or a field set to junk. */
function serviceEdit(object: KubeObject, random: Random): KubeObject {
  const copy = structuredClone(object) as unknown as { metadata: { annotations?: Record<string, string>; labels?: Record<string, string> }; spec: Record<string, unknown> };
  if (typeof copy.spec !== 'object' || copy.spec === null || Array.isArray(copy.spec)) return edited(object, random);
  const spec = copy.spec;
  const ports = Array.isArray(spec['ports']) ? (spec['ports'] as Record<string, unknown>[]) : [];
  const annotate = (name: string, value: string) => (copy.metadata.annotations = { ...copy.metadata.annotations, [name]: value });
  const action = random.int(10);
  if (action === 0) copy.metadata.labels = { ...copy.metadata.labels, release: String(random.int(5)) };
  else if (action === 1) annotate('io.cilium/lb-mode', random.pick(['least-request', 'random', 'maglev', 'ring-hash', 'bogus']));
  else if (action === 2) annotate('service.cilium.io/lb-algorithm', random.pick(['maglev', 'random', 'bogus']));
  else if (action === 3) spec['sessionAffinity'] = random.pick(['ClientIP', 'None']);
  else if (action === 4) spec['type'] = random.pick(['ClusterIP', 'NodePort', 'LoadBalancer']);
  else if (action === 5 && ports.length) random.pick(ports)['appProtocol'] = random.pick(['grpc', 'http', 'kubernetes.io/h2c']);
  else if (action === 6 && ports.length) random.pick(ports)['port'] = random.pick([80, 81, 443, 9090]);
  else if (action === 7) spec['externalIPs'] = random.int(2) ? ['127.0.50.1'] : [];
  else if (action === 8 && ports.length) random.pick(ports)['name'] = random.pick(['http', 'https', 'grpc', 'web']);
  else return edited(object, random);
  return copy as unknown as KubeObject;
}

test('Service edits told to the memo patch the last output, equal to a fresh translation', () => {
  const { steps, patched } = patchSequences(31337, 30, (key) => key.startsWith(`${TEST_CLUSTER}.service.`), ({ original, objects }, keys, random, put) => {
    const key = random.pick(keys);
    put(key, random.int(10) === 0 ? original.get(key)! : serviceEdit(objects.get(key)!, random));
  });
  assert.ok(steps >= 30 * 10, `only ${steps} steps ran`);
  assert.ok(patched > steps / 4, `only ${patched} of ${steps} edits were patched`);
  console.log(`# service edits: ${patched} of ${steps} patched`);
});

test('Secret edits told to the memo patch the last output, equal to a fresh translation', () => {
  const isSecret = (key: string) => key.startsWith(`${TEST_CLUSTER}.secret.`);
  const { steps, patched } = patchSequences(4711, 30, isSecret, ({ original, objects }, keys, random, put, step) => {
    const key = random.pick(keys);
    const copy = structuredClone(objects.get(key)!) as unknown as Record<string, unknown>;
    const action = random.int(5);
    // A rotated certificate (another Secret's pair), a broken one, another type, a label, or junk.
    if (action === 0) copy['data'] = structuredClone(random.pick(keys.map((other) => (original.get(other) as unknown as { data?: unknown }).data)));
    else if (action === 1) copy['data'] = { 'tls.crt': Buffer.from('not a certificate').toString('base64'), 'tls.key': 'eA==' };
    else if (action === 2) copy['type'] = random.pick(['Opaque', 'kubernetes.io/tls']);
    else if (action === 3) copy['metadata'] = { ...(copy['metadata'] as object), labels: { rotated: String(step) } };
    put(key, action === 4 ? edited(objects.get(key)!, random) : (copy as unknown as KubeObject));
  });
  assert.ok(steps >= 30 * 3, `only ${steps} steps ran`);
  // Most of these Secrets are a Gateway's, which takes the full pass; the Ingress ones are patched.
  assert.ok(patched >= 15, `only ${patched} of ${steps} edits were patched`);
  console.log(`# secret edits: ${patched} of ${steps} patched`);
});

/** A random edit of a route: weights, backends, paths, headers, filters, timeouts; sometimes its parents or hostnames, or junk. */
function routeEdit(object: KubeObject, services: string[], random: Random): KubeObject {
  const copy = structuredClone(object) as unknown as { spec: Record<string, unknown> };
  if (typeof copy.spec !== 'object' || copy.spec === null || Array.isArray(copy.spec)) return edited(object, random);
  const rules = Array.isArray(copy.spec['rules']) ? (copy.spec['rules'] as Record<string, unknown>[]).filter((rule) => typeof rule === 'object' && rule !== null) : [];
  const rule = rules.length ? random.pick(rules) : undefined;
  const refs = rule && Array.isArray(rule['backendRefs']) ? (rule['backendRefs'] as Record<string, unknown>[]).filter((ref) => typeof ref === 'object' && ref !== null) : [];
  const action = random.int(11);
  if (action === 0 && refs.length) random.pick(refs)['weight'] = random.int(4) * 25;
  else if (action === 1 && rule) rule['backendRefs'] = [...refs, { name: random.pick([...services, 'missing']), port: random.pick([80, 8080, 9000]), weight: 1 + random.int(3) }];
  else if (action === 2 && refs.length > 1) rule!['backendRefs'] = refs.slice(1);
  else if (action === 3 && rule) rule['matches'] = [{ path: { type: random.pick(['PathPrefix', 'Exact']), value: random.pick(['/', '/v2', '/api']) } }];
  else if (action === 4 && rule) rule['matches'] = [{ headers: [{ name: 'x-canary', value: random.pick(['yes', 'no']) }] }];
  else if (action === 5 && rule) rule['filters'] = [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-edit', value: String(random.int(9)) }] } }];
  else if (action === 6 && rule) rule['timeouts'] = { request: random.pick(['5s', '10s', 'soon']) };
  else if (action === 7) copy.spec['hostnames'] = [random.pick(['a.example.com', 'b.example.com', '*.example.com'])];
  else if (action === 8 && refs.length) random.pick(refs)['port'] = random.pick([80, 8080, 9000]);
  else if (action === 9 && Array.isArray(copy.spec['parentRefs']) && copy.spec['parentRefs'].length) {
    // Another listener of its Gateway, or none named.
    const parent = { ...(copy.spec['parentRefs'] as Record<string, unknown>[])[0] };
    if (random.int(2)) parent['sectionName'] = random.pick(['http', 'https', 'web-gw', 'nope']);
    else delete parent['sectionName'];
    copy.spec['parentRefs'] = [parent];
  } else return edited(object, random);
  return copy as unknown as KubeObject;
}

test('route edits told to the memo patch the last output, equal to a fresh translation', () => {
  const isRoute = (key: string) => /\.(httproute|grpcroute|tlsroute)\./.test(key) && key.startsWith(`${TEST_CLUSTER}.`);
  const { steps, patched } = patchSequences(2026, 30, isRoute, ({ original, objects, names }, keys, random, put) => {
    const key = random.pick(keys);
    // Edited, restored, deleted (and later restored or edited anew: created).
    const choice = random.int(10);
    put(key, choice === 0 ? original.get(key)! : choice === 1 ? undefined : routeEdit(objects.get(key) ?? original.get(key)!, names('Service'), random));
  });
  assert.ok(steps >= 30 * 8, `only ${steps} steps ran`);
  assert.ok(patched > steps / 3, `only ${patched} of ${steps} edits were patched`);
  console.log(`# route edits: ${patched} of ${steps} patched`);
});

test('Gateway, GatewayClass, ReferenceGrant and CiliumEnvoyConfig changes told to the memo give what a fresh translation gives', () => {
  const picked = (key: string) => key.startsWith(`${TEST_CLUSTER}.`) && /\.(gateway|gatewayclass|referencegrant|ciliumenvoyconfig|ciliumclusterwideenvoyconfig)\./.test(key);
  const { steps } = patchSequences(606, 30, picked, ({ original, objects }, keys, random, put) => {
    const key = random.pick(keys);
    // Edited, restored, deleted (and later restored or edited anew: created).
    const choice = random.int(8);
    put(key, choice === 0 ? original.get(key)! : choice === 1 ? undefined : edited(objects.get(key) ?? original.get(key)!, random));
  });
  assert.ok(steps >= 30 * 8, `only ${steps} steps ran`);
});

test('batches mixing EndpointSlices, Services, Ingresses, Secrets, routes, Gateways and CiliumEnvoyConfigs are patched step by step, equal to a fresh translation', () => {
  const mixed = (key: string) => key.startsWith(`${TEST_CLUSTER}.`) && /\.(endpointslice|service|ingress|secret|httproute|grpcroute|tlsroute|gateway|ciliumenvoyconfig)\./.test(key);
  const { steps, patched } = patchSequences(
    99,
    20,
    mixed,
    ({ original, objects, names }, keys, random, put, step) => {
      const changed = new Map<string, KubeObject | undefined>();
      for (let n = 2 + random.int(3); n > 0; n--) {
        const key = random.pick(keys);
        const current = changed.get(key) ?? objects.get(key) ?? original.get(key)!;
        const kind = key.split('.')[1];
        // Services come and go too (deleted, then restored).
        const value =
          kind === 'service' && random.int(3) === 0 ? (objects.has(key) ? undefined : original.get(key)!)
          : kind === 'endpointslice' ? sliceEdit(current, names('Service'), random)
          : kind === 'service' ? serviceEdit(current, random)
          : kind === 'ingress' ? ingressEdit(current, names('Service'), names('Secret'), random)
          : kind === 'secret' ? ({ ...current, metadata: { ...current.metadata, labels: { step: String(step) } } } as KubeObject)
          : kind === 'gateway' || kind === 'ciliumenvoyconfig' ? edited(current, random)
          : routeEdit(current, names('Service'), random);
        changed.set(key, value);
        put(key, value);
      }
    },
    2,
  );
  assert.ok(steps >= 20 * 10, `only ${steps} steps ran`);
  assert.ok(patched > steps / 5, `only ${patched} of ${steps} batches were patched`);
  console.log(`# mixed batches: ${patched} of ${steps} patched`);
});

test('one changed EndpointSlice rebuilds only its Service: the other resources are the very same objects', () => {
  const objects = new Map<string, KubeObject>();
  for (let i = 0; i < 200; i++) {
    objects.set(`${TEST_CLUSTER}.service.default.svc-${i}`, service(i));
    objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-${i}-a`, slice(i, `127.0.${i >> 8}.${(i & 255) + 1}`));
  }
  const memo = new TranslationMemo();
  const first = translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.equal(memo.stats.reused, 0);
  assert.equal(memo.stats.built, 600, 'a unit of each slice (its own problems), a services unit and a proxyless unit per Service');

  objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-7-a`, slice(7, '127.0.9.9'));
  const second = translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.deepEqual(memo.stats, { built: 2, reused: 598 }, 'the slice and its Service');
  const before = new Map(first.xds.map((item) => [`${item.type} ${item.name}`, item.resource]));
  const changed = second.xds.filter((item) => before.get(`${item.type} ${item.name}`) !== item.resource).map((item) => `${item.type} ${item.name}`);
  // The Service's unit was rebuilt (cluster and endpoints, equal cluster content); nothing else was.
  assert.deepEqual(changed, ['cluster default/svc-7:80', 'endpoint default/svc-7:80']);
  const cla = second.xds.find((item) => item.name === 'default/svc-7:80' && item.type === 'endpoint')!.resource;
  assert.match(JSON.stringify(cla), /127\.0\.9\.9/);
  assert.equal(second.lb.find((entry) => entry.name === 'svc-7')!.backends[0]!.address, '127.0.9.9');

  // Deleting a Service forgets its units; other options start over.
  objects.delete(`${TEST_CLUSTER}.service.default.svc-3`);
  const third = translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.deepEqual(memo.stats, { built: 0, reused: 598 }, 'its slice stays, its two units go');
  assert.equal(third.xds.some((item) => item.name === 'default/svc-3:80'), false);
  translate({ cluster: TEST_CLUSTER, objects, memo, options: { alsCluster: '' } });
  assert.deepEqual(memo.stats, { built: 598, reused: 0 });
});

test('an edited Ingress rebuilds its load balancer alone; an EndpointSlice change rebuilds no load balancer', () => {
  const objects = new Map<string, KubeObject>();
  const ingress = (g: number, path: string) =>
    ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `web-${g}`, namespace: 'default' },
      spec: { ingressClassName: 'cilium', rules: [{ host: `web-${g}.example.com`, http: { paths: [0, 1].map((i) => ({ path: `${path}${i}`, pathType: 'Prefix', backend: { service: { name: `svc-${g * 2 + i}`, port: { number: 80 } } } })) } }] },
    }) as unknown as KubeObject;
  for (let i = 0; i < 40; i++) {
    objects.set(`${TEST_CLUSTER}.service.default.svc-${i}`, service(i));
    objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-${i}-a`, slice(i, `127.0.0.${i + 1}`));
  }
  for (let g = 0; g < 20; g++) objects.set(`${TEST_CLUSTER}.ingress.default.web-${g}`, ingress(g, '/a'));
  const memo = new TranslationMemo();
  translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.equal(memo.stats.built, 40 + 40 + 40 + 20 + 20, 'slices, services, proxyless targets, Ingresses (their own problems), load balancers');

  objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-5-a`, slice(5, '127.0.1.5'));
  translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.deepEqual(memo.stats, { built: 2, reused: 158 }, 'the slice and its Service');

  objects.set(`${TEST_CLUSTER}.ingress.default.web-3`, ingress(3, '/b'));
  const edited = translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.deepEqual(memo.stats, { built: 2, reused: 158 }, 'the Ingress and its load balancer');
  const route = edited.xds.find((item) => item.type === 'route' && item.name.includes('web-3'))!;
  assert.match(JSON.stringify(route.resource), /\/b0/);
  assert.equal(comparable(edited), comparable(translate({ cluster: TEST_CLUSTER, objects })));
});

test('an EndpointSlice change told to the memo patches the last output: only its endpoints and LB entry change', () => {
  const objects = new Map<string, KubeObject>();
  for (let i = 0; i < 200; i++) {
    objects.set(`${TEST_CLUSTER}.service.default.svc-${i}`, service(i));
    objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-${i}-a`, slice(i, `127.0.${i >> 8}.${(i & 255) + 1}`));
  }
  // svc-9 is load-balanced at L7: its LB entry is redirected to the node proxy, and stays so.
  const l7 = service(9) as unknown as { metadata: Record<string, unknown> };
  l7.metadata['annotations'] = { 'service.cilium.io/lb-l7': 'enabled' };
  objects.set(`${TEST_CLUSTER}.service.default.svc-9`, l7 as unknown as KubeObject);
  const memo = new TranslationMemo();
  let last: TranslationOutput | undefined;
  const change = (key: string, value: KubeObject | undefined) => {
    if (value) objects.set(key, value);
    else objects.delete(key);
    const before = new Map((last?.xds ?? []).map((item) => [`${item.type} ${item.name}`, item.resource]));
    const output = (last = translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[key, value]] }));
    const changed = output.xds.filter((item) => before.get(`${item.type} ${item.name}`) !== item.resource).map((item) => `${item.type} ${item.name}`);
    assert.equal(comparable(output), comparable(translate({ cluster: TEST_CLUSTER, objects })), `after ${key}`);
    return { output, changed };
  };
  const first = (last = translate({ cluster: TEST_CLUSTER, objects, memo }));
  assert.equal(memo.lastPass, 'full');
  const redirect = first.lb.find((entry) => entry.name === 'svc-9')!.l7Proxy;
  assert.ok(redirect, 'svc-9 is redirected');

  const patched = change(`${TEST_CLUSTER}.endpointslice.default.svc-7-a`, slice(7, '127.0.9.9'));
  let { output } = patched;
  const { changed } = patched;
  assert.equal(memo.lastPass, 'patch');
  assert.deepEqual(memo.stats, { built: 2, reused: 0 }, 'the slice and its Service');
  assert.deepEqual(changed, ['endpoint default/svc-7:80'], 'the cluster keeps its resource; nothing else changes');
  assert.deepEqual(output.patch?.xds.map((item) => item.name), ['default/svc-7:80']);
  assert.deepEqual(output.patch?.lb.map((entry) => entry.name), ['svc-7']);
  assert.equal(output.patch?.base, first.serial);
  assert.equal(output.lb.find((entry) => entry.name === 'svc-7')!.backends[0]!.address, '127.0.9.9');

  ({ output } = change(`${TEST_CLUSTER}.endpointslice.default.svc-9-a`, slice(9, '127.0.9.10')));
  assert.equal(memo.lastPass, 'patch');
  assert.deepEqual(output.lb.find((entry) => entry.name === 'svc-9')!.l7Proxy, redirect, 'the redirect stays');

  // A slice naming a port its Service lacks: an error appears, and goes with the slice.
  const odd = slice(4, '127.0.4.4') as unknown as { metadata: { name: string }; ports: { name: string }[] };
  odd.metadata.name = 'svc-4-b';
  odd.ports[0]!.name = 'metrics';
  ({ output } = change(`${TEST_CLUSTER}.endpointslice.default.svc-4-b`, odd as unknown as KubeObject));
  assert.equal(memo.lastPass, 'patch');
  assert.match(JSON.stringify(output.errors), /has no port \\"metrics\\"/);
  ({ output } = change(`${TEST_CLUSTER}.endpointslice.default.svc-4-b`, undefined));
  assert.equal(memo.lastPass, 'patch');
  assert.deepEqual(output.errors, []);

  // Any other kind of change takes the full pass.
  change(`${TEST_CLUSTER}.service.default.svc-3`, service(300));
  assert.equal(memo.lastPass, 'full');
});

test('a Service edit is patched into the Ingress load balancers that route to it, and not where it lends a Gateway its address', () => {
  const objects = new Map<string, KubeObject>();
  const named = (name: string, portName: string, clusterIP: string) =>
    ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP, ports: [{ name: portName, port: 80 }] } }) as unknown as KubeObject;
  objects.set(`${TEST_CLUSTER}.service.default.web`, named('web', 'http', '127.96.0.1'));
  objects.set(`${TEST_CLUSTER}.endpointslice.default.web-a`, { ...slice(0, '127.0.0.1'), metadata: { name: 'web-a', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } } } as KubeObject);
  objects.set(`${TEST_CLUSTER}.ingress.default.site`, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'site', namespace: 'default' },
    spec: { ingressClassName: 'cilium', rules: [{ host: 'site.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } }] } }] },
  } as unknown as KubeObject);
  objects.set(`${TEST_CLUSTER}.gateway.default.gw`, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'default' },
    spec: { gatewayClassName: 'cilium', listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }] },
  } as unknown as KubeObject);
  objects.set(`${TEST_CLUSTER}.service.default.cilium-gateway-gw`, named('cilium-gateway-gw', 'http', '127.96.0.2'));
  const memo = new TranslationMemo();
  translate({ cluster: TEST_CLUSTER, objects, memo });
  const edit = (key: string, value: KubeObject) => {
    objects.set(key, value);
    const output = translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[key, value]] });
    assert.equal(comparable(output), comparable(translate({ cluster: TEST_CLUSTER, objects })), `after editing ${key}`);
    return output;
  };
  const site = (output: TranslationOutput) => JSON.stringify(output.xds.find((item) => item.type === 'route' && item.name.includes('site'))!.resource);

  // The Ingress routes by port name: renaming the port makes its route answer 503, and back.
  let output = edit(`${TEST_CLUSTER}.service.default.web`, named('web', 'web', '127.96.0.1'));
  assert.equal(memo.lastPass, 'patch');
  assert.match(site(output), /503/);
  assert.match(JSON.stringify(output.errors), /has no TCP port with name \\"http\\"/);
  output = edit(`${TEST_CLUSTER}.service.default.web`, named('web', 'http', '127.96.0.1'));
  assert.equal(memo.lastPass, 'patch');
  assert.match(site(output), /default\/web:80/);
  assert.deepEqual(output.errors, []);

  // A GRPCRoute on the Gateway sends to this Service, whose port speaks gRPC: without appProtocol the
  // route needs an HTTP/2 twin of its cluster, which only the Gateway feature makes: the full pass.
  objects.set(`${TEST_CLUSTER}.service.default.rpc`, { ...named('rpc', 'grpc', '127.96.0.4'), spec: { clusterIP: '127.96.0.4', ports: [{ name: 'grpc', port: 50051, appProtocol: 'grpc' }] } } as unknown as KubeObject);
  objects.set(`${TEST_CLUSTER}.grpcroute.default.rpc`, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: { name: 'rpc', namespace: 'default' },
    spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'rpc', port: 50051 }] }] },
  } as unknown as KubeObject);
  translate({ cluster: TEST_CLUSTER, objects, memo });
  output = edit(`${TEST_CLUSTER}.service.default.rpc`, { ...named('rpc', 'grpc', '127.96.0.4'), spec: { clusterIP: '127.96.0.4', ports: [{ name: 'grpc', port: 50051 }] } } as unknown as KubeObject);
  assert.equal(memo.lastPass, 'full');
  assert.ok(output.xds.some((item) => item.type === 'cluster' && item.name !== 'default/rpc:50051' && item.name.includes('rpc')), 'the HTTP/2 twin is there');

  // A Gateway with nothing to serve yet (a TLS passthrough listener, no route) has no LB entry, but
  // takes its address from its Service all the same: creating that Service takes the full pass.
  objects.set(`${TEST_CLUSTER}.gateway.default.quiet`, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'quiet', namespace: 'default' },
    spec: { gatewayClassName: 'cilium', listeners: [{ name: 'tls', protocol: 'TLS', port: 443, tls: { mode: 'Passthrough' } }] },
  } as unknown as KubeObject);
  translate({ cluster: TEST_CLUSTER, objects, memo });
  output = edit(`${TEST_CLUSTER}.service.default.cilium-gateway-quiet`, named('cilium-gateway-quiet', 'tls', '127.96.0.9'));
  assert.equal(memo.lastPass, 'full');

  // A hand-written cluster named like this Service's (`default/web:80`) is refused while the Service
  // is there: deleting the Service frees the name, which only the full pass sees.
  objects.set(`${TEST_CLUSTER}.ciliumenvoyconfig.default.hand`, {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumEnvoyConfig',
    metadata: { name: 'hand', namespace: 'default' },
    spec: { resources: [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'default/web:80', type: 'STATIC', connectTimeout: '1s' }] },
  } as unknown as KubeObject);
  translate({ cluster: TEST_CLUSTER, objects, memo });
  objects.delete(`${TEST_CLUSTER}.service.default.web`);
  output = translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[`${TEST_CLUSTER}.service.default.web`, undefined]] });
  assert.equal(memo.lastPass, 'full');
  assert.equal(comparable(output), comparable(translate({ cluster: TEST_CLUSTER, objects })));
  objects.set(`${TEST_CLUSTER}.service.default.web`, named('web', 'http', '127.96.0.1'));
  translate({ cluster: TEST_CLUSTER, objects, memo });

  // The Gateway takes its address from this Service: that is not the Service's own unit, so the full pass.
  output = edit(`${TEST_CLUSTER}.service.default.cilium-gateway-gw`, named('cilium-gateway-gw', 'http', '127.96.0.3'));
  assert.equal(memo.lastPass, 'full');
  assert.deepEqual(output.lb.find((entry) => entry.name === 'cilium-gateway-gw')!.frontends.map((frontend) => frontend.address).filter((address) => address.startsWith('127.96')), ['127.96.0.3']);
});

test('a rotated Secret that two Ingresses serve is patched into both load balancers', () => {
  const golden = goldenCases(testdata).find((candidate) => candidate.name === 'ingress-tls-force-https')!;
  const secret = manifestObjects(golden.input).find(([key]) => key.startsWith(`${TEST_CLUSTER}.secret.`))![1] as unknown as { metadata: { name: string; namespace: string }; data: Record<string, string> };
  const objects = new Map<string, KubeObject>();
  const secretKey = `${TEST_CLUSTER}.secret.default.shared-cert`;
  objects.set(secretKey, { ...secret, metadata: { name: 'shared-cert', namespace: 'default' } } as unknown as KubeObject);
  objects.set(`${TEST_CLUSTER}.service.default.svc-0`, service(0));
  for (const name of ['a', 'b']) {
    objects.set(`${TEST_CLUSTER}.ingress.default.${name}`, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, namespace: 'default' },
      spec: { ingressClassName: 'cilium', tls: [{ hosts: [`${name}.example.com`], secretName: 'shared-cert' }], rules: [{ host: `${name}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc-0', port: { number: 80 } } } }] } }] },
    } as unknown as KubeObject);
  }
  const memo = new TranslationMemo();
  const first = translate({ cluster: TEST_CLUSTER, objects, memo });
  assert.equal(first.xds.filter((item) => item.type === 'secret').length, 1, 'one SDS secret for both');
  // Rotated: the key and certificate replaced by another valid pair (EC P-256, CN=mismatch.example.com), then back.
  const otherPair = {
    'tls.crt': 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrekNDQVRtZ0F3SUJBZ0lVUVNSMklXcnpOcmp4cjUyWWpVUkI2dGFYWTZZd0NnWUlLb1pJemowRUF3SXcKSHpFZE1Cc0dBMVVFQXd3VWJXbHpiV0YwWTJndVpYaGhiWEJzWlM1amIyMHdIaGNOTWpZeE1qQTNNakF6TURFeApXaGNOTXpZeE1qQTBNakF6TURFeFdqQWZNUjB3R3dZRFZRUUREQlJ0YVhOdFlYUmphQzVsZUdGdGNHeGxMbU52CmJUQlpNQk1HQnlxR1NNNDlBZ0VHQ0NxR1NNNDlBd0VIQTBJQUJPWnlmZHI0a1kvekpVUDNIWTBFL2pEN2xuWEgKNkYvcDIvSFpETHlQM1JrRGJBT1QvQ0FqUEt6KzVUcXpVRlg0L3gvWXJJWnpjb3htenhDQk1qemdRYkdqVXpCUgpNQjBHQTFVZERnUVdCQlR2VW1hc0JhTUFmTnpzN0ZkK21qM2dNelFEaWpBZkJnTlZIU01FR0RBV2dCVHZVbWFzCkJhTUFmTnpzN0ZkK21qM2dNelFEaWpBUEJnTlZIUk1CQWY4RUJUQURBUUgvTUFvR0NDcUdTTTQ5QkFNQ0EwZ0EKTUVVQ0lFL1V5ZE1aTGgzTDJEYkxyd3owVU5UODQwNFJGUUxDblpFZXdwUWFoK0pVQWlFQWt1SWFOeXh0OVdXbgpURG4wSGVtYnlHVkE4dXlIY3BzYkM5eVRvK0RWaWRzPQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==',
    'tls.key': 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ09taEZKOHZFNVBjUEVkNDYKbEhlSnV0QWtHUHU5cFV0bWJ6VzljcEJWNk9DaFJBTkNBQVRtY24zYStKR1A4eVZEOXgyTkJQNHcrNVoxeCtoZgo2ZHZ4MlF5OGo5MFpBMndEay93Z0l6eXMvdVU2czFCVitQOGYyS3lHYzNLTVpzOFFnVEk4NEVHeAotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==',
  };
  for (const data of [otherPair, secret.data]) {
    const rotated = { ...secret, metadata: { name: 'shared-cert', namespace: 'default', labels: { at: String(data === secret.data) } }, data } as unknown as KubeObject;
    objects.set(secretKey, rotated);
    const output = translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[secretKey, rotated]] });
    assert.equal(memo.lastPass, 'patch');
    assert.equal(memo.stats.built, 2, 'both load balancers rebuilt');
    assert.equal(comparable(output), comparable(translate({ cluster: TEST_CLUSTER, objects })));
  }
});

test('a Service created or deleted is patched in, and so are the Ingress load balancers routing to it', () => {
  const objects = new Map<string, KubeObject>();
  const ingress = (backend: string) =>
    ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'site', namespace: 'default' },
      spec: { ingressClassName: 'cilium', rules: [{ host: 'site.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: backend, port: { number: 80 } } } }] } }] },
    }) as unknown as KubeObject;
  for (let i = 0; i < 20; i++) {
    objects.set(`${TEST_CLUSTER}.service.default.svc-${i}`, service(i));
    objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-${i}-a`, slice(i, `127.0.0.${i + 1}`));
  }
  objects.set(`${TEST_CLUSTER}.ingress.default.site`, ingress('svc-30'));
  // Its slice first, as happens when the Service is applied after its Pods.
  objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-30-a`, slice(30, '127.0.0.30'));
  const memo = new TranslationMemo();
  translate({ cluster: TEST_CLUSTER, objects, memo });
  const change = (key: string, value: KubeObject | undefined) => {
    if (value) objects.set(key, value);
    else objects.delete(key);
    const output = translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[key, value]] });
    assert.equal(memo.lastPass, 'patch', `${key} patched`);
    assert.equal(comparable(output), comparable(translate({ cluster: TEST_CLUSTER, objects })), `after ${key}`);
    return output;
  };
  const site = (output: TranslationOutput) => JSON.stringify(output.xds.find((item) => item.type === 'route' && item.name.includes('site'))!.resource);

  let output = change(`${TEST_CLUSTER}.service.default.svc-30`, service(30));
  assert.match(site(output), /default\/svc-30:80/, 'the Ingress routes to the new Service');
  assert.ok(output.xds.some((item) => item.type === 'endpoint' && item.name === 'default/svc-30:80' && JSON.stringify(item.resource).includes('127.0.0.30')));
  assert.ok(output.lb.some((entry) => entry.name === 'svc-30'));
  assert.equal(output.patch?.removed.xds.length, 0);

  // The Ingress now routes to svc-3; then svc-3 goes: the Ingress answers 503, svc-30 is left alone.
  change(`${TEST_CLUSTER}.ingress.default.site`, ingress('svc-3'));
  output = change(`${TEST_CLUSTER}.service.default.svc-3`, undefined);
  assert.match(site(output), /503/);
  assert.deepEqual(output.patch?.removed.xds.map((item) => `${item.type} ${item.name}`).sort(), ['cluster default/svc-3:80', 'endpoint default/svc-3:80', 'listener svc-3.default.svc.cluster.local:80', 'route svc-3.default.svc.cluster.local:80']);
  assert.deepEqual(output.patch?.removed.lb.map((entry) => entry.name), ['svc-3']);
  assert.match(JSON.stringify(output.errors), /Service default\/svc-3 not found/);
  // And comes back.
  output = change(`${TEST_CLUSTER}.service.default.svc-3`, service(3));
  assert.match(site(output), /default\/svc-3:80/);
  assert.deepEqual(output.errors, []);
});

test('patches keep no trace of objects gone: EndpointSlices coming and going for a long time leave the memo its size', () => {
  const objects = new Map<string, KubeObject>();
  for (let i = 0; i < 50; i++) {
    objects.set(`${TEST_CLUSTER}.service.default.svc-${i}`, service(i));
    objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-${i}-a`, slice(i, `127.0.0.${i + 1}`));
  }
  const memo = new TranslationMemo();
  translate({ cluster: TEST_CLUSTER, objects, memo });
  const keysAfterPass = memo.keys.size;
  // Slices are recreated under new generated names as Pods roll: 2,000 come and go, all patched.
  for (let n = 0; n < 2000; n++) {
    const key = `${TEST_CLUSTER}.endpointslice.default.svc-${n % 50}-r${n}`;
    const value = { ...slice(n % 50, `127.0.1.${(n % 200) + 1}`), metadata: { name: `svc-${n % 50}-r${n}`, namespace: 'default', labels: { 'kubernetes.io/service-name': `svc-${n % 50}` } } } as KubeObject;
    objects.set(key, value);
    translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[key, value]] });
    assert.equal(memo.lastPass, 'patch');
    objects.delete(key);
    translate({ cluster: TEST_CLUSTER, objects, memo, changes: [[key, undefined]] });
    assert.equal(memo.lastPass, 'patch');
  }
  assert.ok(memo.keys.size <= keysAfterPass + 1, `${memo.keys.size} parsed keys kept, ${keysAfterPass} after the pass`);
  assert.equal(comparable(translate({ cluster: TEST_CLUSTER, objects, memo, changes: [] })), comparable(translate({ cluster: TEST_CLUSTER, objects })));
});

test('Ingresses created and deleted are patched when no other load balancer\'s port or address moves, equal to a fresh translation', () => {
  const random = new Random(515);
  // Few node-proxy ports and addresses: picks collide and probe, as they would in a crowded range.
  const options = { proxyPortCount: 7, ingressCidr: '127.101.0.0/29' };
  const ingress = (i: number, path: string) =>
    ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `web-${i}`, namespace: 'default' },
      spec: { ingressClassName: 'cilium', rules: [{ host: `web-${i}.example.com`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: `svc-${i % 4}`, port: { number: 80 } } } }] } }] },
    }) as unknown as KubeObject;
  const objects = new Map<string, KubeObject>();
  for (let i = 0; i < 4; i++) {
    objects.set(`${TEST_CLUSTER}.service.default.svc-${i}`, service(i));
    objects.set(`${TEST_CLUSTER}.endpointslice.default.svc-${i}-a`, slice(i, `127.0.0.${i + 1}`));
  }
  for (let i = 0; i < 3; i++) objects.set(`${TEST_CLUSTER}.ingress.default.web-${i}`, ingress(i, '/'));
  const memo = new TranslationMemo();
  translate({ cluster: TEST_CLUSTER, objects, memo, options });
  let patched = 0;
  const steps = 200;
  for (let step = 0; step < steps; step++) {
    const i = random.int(9);
    const key = `${TEST_CLUSTER}.ingress.default.web-${i}`;
    const value = objects.has(key) && random.int(2) ? undefined : ingress(i, random.pick(['/', '/a', '/b']));
    if (value) objects.set(key, value);
    else objects.delete(key);
    const output = translate({ cluster: TEST_CLUSTER, objects, memo, options, changes: [[key, value]] });
    if (memo.lastPass === 'patch') patched++;
    assert.equal(comparable(output), comparable(translate({ cluster: TEST_CLUSTER, objects, options })), `step ${step}: ${value ? 'put' : 'deleted'} ${key}`);
  }
  console.log(`# ingresses created and deleted: ${patched} of ${steps} patched`);
  assert.ok(patched > steps / 4, `only ${patched} of ${steps} patched`);
  assert.ok(patched < steps, 'some picks moved others: those took the full pass');
});
