import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, kubeObjectCodec, objectStatusCodec } from '@tendril/contract';
import { STANDARD_RESOURCE_TYPES, freePort, startKubeApiServer, startNatsServer, waitFor, type KubeApiServer, type TestNatsServer } from '@tendril/testing';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const TLS_ROUTE = STANDARD_RESOURCE_TYPES.find((t) => t.kind === 'TLSRoute')!;
const SECRET_DATA = 'c2VjcmV0LWtleS1tYXRlcmlhbA==';

const service = (namespace: string, name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace, labels, managedFields: [{ manager: 'kubectl', operation: 'Apply' }] },
  spec: { clusterIP: '10.96.0.10', ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

interface Watcher {
  process: ChildProcess;
  port: number;
  output: string;
}

async function startWatcher(env: Record<string, string>): Promise<Watcher> {
  const port = await freePort();
  const watcher: Watcher = { port, output: '', process: undefined as unknown as ChildProcess };
  watcher.process = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  watcher.process.stdout!.on('data', (d) => (watcher.output += d));
  watcher.process.stderr!.on('data', (d) => (watcher.output += d));
  return watcher;
}

function stopWatcher(watcher: Watcher, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (watcher.process.exitCode !== null || watcher.process.signalCode !== null) return Promise.resolve(watcher.process.exitCode);
  return new Promise((resolve) => {
    watcher.process.once('exit', (code) => resolve(code));
    watcher.process.kill(signal);
  });
}

async function readyz(watcher: Watcher): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${watcher.port}/readyz`);
  return { status: response.status, body: await response.json() };
}

async function watcherErrors(nc: NatsConnection): Promise<any[]> {
  return JSON.parse(new TextDecoder().decode((await nc.request('tendril.k8s-watcher.errors', new Uint8Array(), { timeout: 5000 })).data));
}

/** One object of every kind the watcher mirrors (TLSRoute aside: its CRD comes later). */
const EVERY_KIND = [
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['198.18.0.10'] }], ports: [{ port: 8080 }] },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'default' }, spec: { ingressClassName: 'cilium', defaultBackend: { service: { name: 'web', port: { number: 80 } } } } },
  { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'cilium' }, spec: { controller: 'cilium.io/ingress-controller' } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'cilium' }, spec: { controllerName: 'io.cilium/gateway-controller' } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { gatewayClassName: 'cilium', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'grpc', namespace: 'default' }, spec: { parentRefs: [{ name: 'gw' }] } },
  { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'grant', namespace: 'default' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'other' }], to: [{ group: '', kind: 'Service' }] } },
  { apiVersion: 'cilium.io/v2', kind: 'CiliumEnvoyConfig', metadata: { name: 'cec', namespace: 'default' }, spec: { resources: [] } },
  { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideEnvoyConfig', metadata: { name: 'ccec' }, spec: { resources: [] } },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
  { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'cnp', namespace: 'default' }, spec: { endpointSelector: { matchLabels: { app: 'web' } }, ingress: [{ fromEntities: ['cluster'] }] } },
  { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'ccnp' }, spec: { endpointSelector: {}, egress: [{ toEntities: ['world'] }] } },
];

/** A Pod as the kubelet reports it: most of its status changes with every probe and is no policy input. */
const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-0', namespace: 'default', labels: { app: 'web' }, annotations: { note: 'x' } },
  spec: { nodeName: 'n1', serviceAccountName: 'web', containers: [{ name: 'web', image: 'web:1' }] },
  status: {
    phase: 'Running',
    podIP: '198.18.0.20',
    podIPs: [{ ip: '198.18.0.20' }],
    hostIP: '198.18.0.11',
    conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z' }],
    containerStatuses: [{ name: 'web', ready: true, restartCount: 0, image: 'web:1', imageID: 'sha256:1', started: true }],
  },
};

async function metric(watcher: Watcher, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${watcher.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe('k8s-watcher in Kubernetes mode, against a list/watch API server', () => {
  let nats: TestNatsServer;
  let api: KubeApiServer;
  let nc: NatsConnection;
  let objects: KV;
  let dir: string;
  let env: Record<string, string>;
  const watchers: Watcher[] = [];
  let leader: Watcher;

  const keys = async (prefix = '') => {
    const out: string[] = [];
    for await (const key of await objects.keys()) out.push(key);
    return out.filter((key) => key.startsWith(prefix)).sort();
  };
  const object = async (key: string) => {
    const entry = await objects.get(key);
    return entry && entry.operation === 'PUT' ? (kubeObjectCodec.decode(entry.value) as any) : undefined;
  };

  before(async () => {
    // values over max_payload travel in chunks; a bucket an operator made with a value size limit
    // is what refuses a write here
    nats = await startNatsServer();
    api = await startKubeApiServer({ bookmarkIntervalMs: 300 });
    api.unserve('TLSRoute'); // its CRD is not installed at first
    for (let i = 0; i < 1000; i++) if (i !== 500) api.create(service('bulk', `svc-${i}`));
    // stored as a client could never write it (a label that is a number): the watcher cannot decode it
    api.create({ ...service('bulk', 'svc-500'), metadata: { name: 'svc-500', namespace: 'bulk', labels: { app: 7 as unknown as string } } }, { raw: true });
    for (const object of EVERY_KIND) api.create(object);
    api.create(POD);
    api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bulk' } });
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cert', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y2VydA==', 'tls.key': SECRET_DATA } });
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'password', namespace: 'default' }, type: 'Opaque', data: { password: SECRET_DATA } });
    api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'client-ca', namespace: 'default' }, data: { 'ca.crt': '-----BEGIN CERTIFICATE-----' } });
    api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-settings', namespace: 'default' }, data: { 'settings.json': '{}' } });
    api.create({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: 'default' },
      spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'svc-0', port: 80 }] }] },
      status: { parents: [{ parentRef: { name: 'other-gw' }, controllerName: 'example.com/other', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: '2024-01-01T00:00:00Z' }] }] },
    });
    dir = mkdtempSync(join(tmpdir(), 'tendril-kube-'));
    writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig());
    env = {
      TENDRIL_NATS_URL: nats.url,
      KUBECONFIG: join(dir, 'kubeconfig'),
      TENDRIL_LEASE_DURATION_MS: '3000',
      TENDRIL_LEASE_RENEW_DEADLINE_MS: '2000',
      TENDRIL_LEASE_RETRY_MS: '300',
      TENDRIL_CRD_RETRY_MS: '500',
      TENDRIL_WATCH_TIMEOUT_S: '3',
      TENDRIL_WATCH_STALL_MS: '1500',
    };
    nc = await connect({ servers: nats.url });
    const created = await nc.jetstream().views.kv(BUCKETS.objects, { history: 1, maxValueSize: 256 * 1024 });
    // Secrets an older version mirrored into tendril-objects: moved out once the leader writes
    await created.put('default.secret.default.cert', kubeObjectCodec.encode({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cert', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.key': 'b2xk' } } as never));
    await created.put('default.secret.default.deleted-meanwhile', kubeObjectCodec.encode({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'deleted-meanwhile', namespace: 'default' }, type: 'kubernetes.io/tls' } as never));
    leader = await startWatcher(env);
    watchers.push(leader);
    objects = await waitFor('tendril-objects bucket', async () => {
      const bucket = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
      await bucket.status();
      return bucket;
    }, 60000); // a loaded machine may take a while to start the watcher
  });
  after(async () => {
    for (const watcher of watchers) await stopWatcher(watcher);
    await nc?.close();
    await api?.close();
    await nats?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs 1,000 objects but one it cannot decode, names that one, and says so in /readyz', async () => {
    const ready = await waitFor('readyz 200', async () => ((await readyz(leader).catch(() => undefined))?.status === 200 ? readyz(leader) : undefined), 60000);
    assert.match(ready.body.checks['initial-sync'].reason, /not installed \(retrying\): TLSRoute/);
    assert.match(ready.body.checks['initial-sync'].reason, /1 refused .*bulk\/Service\/svc-500 \(kube object: metadata\.labels\.app: /);
    assert.match(ready.body.checks['leader-election'].reason, /^leader: this replica \(.+\) holds Lease default\/tendril-k8s-watcher$/);
    const bulk = await keys('default.service.bulk.');
    assert.equal(bulk.length, 999);
    assert.ok(!bulk.includes('default.service.bulk.svc-500'));
    const errors = await watcherErrors(nc);
    assert.deepEqual(
      errors.map((e) => [e.key, e.object, e.reason]),
      [['default.service.bulk.svc-500', 'bulk/Service/svc-500', 'Refused']],
    );
    assert.match(errors[0].message, /labels\.app/);
    assert.match(leader.output, /refused bulk\/Service\/svc-500: kube object: metadata\.labels\.app/);
    assert.equal(await metric(leader, /^tendril_object_errors_total\{.*kind="service".*reason="Refused"/), 1);
    // Secrets (TLS only) go to tendril-secrets, and those an older version left in tendril-objects leave it
    const secrets = await nc.jetstream().views.kv(BUCKETS.secrets, { bindOnly: true });
    const secretKeys: string[] = [];
    for await (const key of await secrets.keys()) secretKeys.push(key);
    assert.deepEqual(secretKeys.sort(), ['default.secret.default.cert']);
    const cert = await secrets.get('default.secret.default.cert');
    assert.equal((kubeObjectCodec.decode(cert!.value) as any).data['tls.key'], SECRET_DATA);
    await waitFor('no Secret left in tendril-objects', async () => (await keys('default.secret.')).length === 0, 30000);
    assert.match(leader.output, /moved Secrets out of tendril-objects: 2 deleted there/);
    assert.deepEqual(await keys('default.namespace.'), ['default.namespace._.bulk']);
    assert.deepEqual(await keys('default.configmap.'), ['default.configmap.default.client-ca'], 'only ConfigMaps holding ca.crt');
    const svc = await object('default.service.bulk.svc-7');
    assert.equal(svc.metadata.managedFields, undefined);
    assert.equal(svc.spec.ports[0].targetPort, 8080);
    assert.ok(svc.metadata.resourceVersion);
    assert.ok(!leader.output.includes(SECRET_DATA), 'secret data never logged');
  });

  it('writes the refused object once it is fixed, and forgets its error', async () => {
    api.update(service('bulk', 'svc-500'));
    await waitFor('fixed object written', async () => (await object('default.service.bulk.svc-500')) !== undefined, 15000);
    assert.equal((await keys('default.service.bulk.')).length, 1000);
    await waitFor('error forgotten', async () => (await watcherErrors(nc)).length === 0);
    await waitFor('readyz no longer names it', async () => !(await readyz(leader)).body.checks['initial-sync'].reason.includes('refused'));
  });

  it('mirrors every kind from lists that leave apiVersion and kind off built-in items', async () => {
    // the fixture lists as a real API server does: built-in items without TypeMeta, custom resources with it
    const list = async (path: string) => (await (await fetch(`${api.url}${path}`)).json()) as { items: any[] };
    assert.equal((await list('/apis/discovery.k8s.io/v1/endpointslices')).items[0].apiVersion, undefined);
    assert.equal((await list('/apis/gateway.networking.k8s.io/v1/gateways')).items[0].apiVersion, 'gateway.networking.k8s.io/v1');
    for (const sent of EVERY_KIND) {
      const key = `default.${sent.kind.toLowerCase()}.${sent.metadata.namespace ?? '_'}.${sent.metadata.name}`;
      const held = await object(key);
      assert.ok(held, `${key} mirrored`);
      assert.equal(held.apiVersion, sent.apiVersion, key);
      assert.equal(held.kind, sent.kind, key);
    }
    const svc = await object('default.service.bulk.svc-1');
    assert.deepEqual([svc.apiVersion, svc.kind], ['v1', 'Service']);
  });

  it('mirrors a Pod trimmed to what network policy reads; a probe changing its status writes nothing', async () => {
    const pod = await waitFor('the Pod mirrored', () => object('default.pod.default.web-0'), 30000);
    assert.equal(pod.metadata.uid, api.get('Pod', 'default', 'web-0')!['metadata']['uid'], 'the uid the server gave it');
    assert.deepEqual(pod, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0', namespace: 'default', uid: pod.metadata.uid, labels: { app: 'web' } },
      spec: { nodeName: 'n1', serviceAccountName: 'web' },
      status: { phase: 'Running', podIP: '198.18.0.20', podIPs: [{ ip: '198.18.0.20' }], hostIP: '198.18.0.11' },
    });
    const before = (await objects.get('default.pod.default.web-0'))!.revision;
    api.update({ ...POD, status: { ...POD.status, containerStatuses: [{ ...POD.status.containerStatuses[0]!, restartCount: 1 }] } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await objects.get('default.pod.default.web-0'))!.revision, before, 'a status-only change writes nothing');
    api.update({ ...POD, metadata: { ...POD.metadata, labels: { app: 'web', tier: 'front' } } });
    await waitFor('the label change mirrored', async () => (await object('default.pod.default.web-0'))?.metadata.labels.tier === 'front', 15000);
  });

  it('names an object whose write fails, is not ready while it does, writes every other, and writes it once it fits', async () => {
    const big = (size: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big-ca', namespace: 'default' }, data: { 'ca.crt': 'x'.repeat(size) } });
    api.create(big(300 * 1024)); // over the bucket's value size limit
    api.create(service('default', 'next-to-big'));
    await waitFor('the other object written', async () => (await object('default.service.default.next-to-big')) !== undefined, 10000);
    const notReady = await waitFor('readyz 503 naming it', async () => {
      const state = await readyz(leader);
      return state.status === 503 && /not written: default\/ConfigMap\/big-ca/.test(state.body.checks['initial-sync'].reason) ? state : undefined;
    }, 10000);
    assert.match(notReady.body.checks['initial-sync'].reason, /size|payload/i);
    const errors = await watcherErrors(nc);
    assert.equal(errors.find((e) => e.key === 'default.configmap.default.big-ca')?.reason, 'WriteFailed');
    assert.equal(await object('default.configmap.default.big-ca'), undefined, 'not counted as written');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const attempts = (await watcherErrors(nc)).find((e) => e.key === 'default.configmap.default.big-ca')?.attempts;
    assert.ok(attempts >= 2, `retried (${attempts} attempts)`);
    api.update(big(1024));
    await waitFor('written once it fits', async () => (await object('default.configmap.default.big-ca'))?.data['ca.crt'].length === 1024, 15000);
    await waitFor('ready again', async () => (await readyz(leader)).status === 200, 10000);
    assert.deepEqual(await watcherErrors(nc), []);
  });

  it('mirrors a ConfigMap once it holds ca.crt and removes it when it no longer does', async () => {
    api.update({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-settings', namespace: 'default' }, data: { 'settings.json': '{}', 'ca.crt': 'pem' } });
    await waitFor('ConfigMap with ca.crt mirrored', async () => (await object('default.configmap.default.app-settings'))?.data?.['ca.crt'] === 'pem', 10000);
    api.update({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-settings', namespace: 'default' }, data: { 'settings.json': '{}' } });
    await waitFor('ConfigMap without ca.crt removed', async () => (await object('default.configmap.default.app-settings')) === undefined, 10000);
  });

  it('writes changes in the order the API server made them, each once', async () => {
    const sequence = (await objects.status()).streamInfo.state.last_seq;
    // interleaved: 30 objects changed once each, and one object changed 30 times
    for (let i = 0; i < 30; i++) {
      api.update(service('bulk', `svc-${100 + i}`, { step: String(i) }));
      api.update(service('bulk', 'svc-1', { step: String(i) }));
    }
    await waitFor('last change mirrored', async () => (await object('default.service.bulk.svc-1'))?.metadata.labels?.step === '29', 10000);
    await waitFor('all changes mirrored', async () => (await object('default.service.bulk.svc-129'))?.metadata.labels?.step === '29', 10000);
    const revisions: number[] = [];
    for (let i = 0; i < 30; i++) revisions.push((await objects.get(`default.service.bulk.svc-${100 + i}`))!.revision);
    assert.deepEqual(revisions, [...revisions].sort((a, b) => a - b), `bucket revisions follow the API's order: ${revisions.join(',')}`);
    assert.ok((await objects.get('default.service.bulk.svc-1'))!.revision > revisions[28]!, 'the repeated object ends after the 29th other change');
    assert.equal((await objects.status()).streamInfo.state.last_seq - sequence, 60, 'every change written once');
  });

  it('recovers a watch dropped mid-stream, and one gone silent', async () => {
    const restartsBefore = await metric(leader, /^tendril_watch_restarts\{.*kind="service"/);
    // watches end every TENDRIL_WATCH_TIMEOUT_S and are reopened: drop them while they are all open
    await waitFor('every served kind watched', () => api.openWatches >= 13, 20000, 20);
    assert.ok(api.dropWatches() >= 10, 'the watches of the served kinds dropped');
    api.create(service('default', 'after-drop'));
    await waitFor('object created after the drop mirrored', async () => (await object('default.service.default.after-drop')) !== undefined, 10000);
    api.silenceWatches();
    api.create(service('default', 'after-silence'));
    await waitFor('object created on a silent watch mirrored', async () => (await object('default.service.default.after-silence')) !== undefined, 10000);
    assert.match(leader.output, /watch silent for 4500 ms, past its 3 s server-side timeout; reopening it/);
    await waitFor('restarts counted', async () => (await metric(leader, /^tendril_watch_restarts\{.*kind="service"/)) >= restartsBefore + 2);
    assert.ok((await metric(leader, /^tendril_watch_events_total\{.*kind="service".*type="BOOKMARK"/)) > 0, 'bookmarks counted');
  });

  it('relists on 410 Gone and leaves the KV exact, deletes in between included', async () => {
    const relistsBefore = await metric(leader, /^tendril_watch_relists\{.*kind="service"/);
    api.holdWatches();
    api.dropWatches();
    for (let i = 900; i < 1000; i++) api.remove('Service', 'bulk', `svc-${i}`);
    api.create(service('bulk', 'svc-new'));
    api.compact();
    api.releaseWatches();
    await waitFor('deleted objects gone from the KV', async () => (await keys('default.service.bulk.')).length === 901, 15000);
    const expected = [...Array.from({ length: 900 }, (_, i) => `default.service.bulk.svc-${i}`), 'default.service.bulk.svc-new'].sort();
    assert.deepEqual(await keys('default.service.bulk.'), expected);
    await waitFor('relist counted', async () => (await metric(leader, /^tendril_watch_relists\{.*kind="service"/)) > relistsBefore);
  });

  it('picks up a kind whose CRD is installed later', async () => {
    api.serve(TLS_ROUTE);
    api.create({ apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'TLSRoute', metadata: { name: 'tls', namespace: 'default' }, spec: { parentRefs: [{ name: 'gw' }] } });
    await waitFor('TLSRoute mirrored', async () => (await object('default.tlsroute.default.tls')) !== undefined, 10000);
    await waitFor('readiness no longer reports it missing', async () => !(await readyz(leader)).body.checks['initial-sync'].reason.includes('TLSRoute'));
  });

  it('takes a CRD removed for not installed, not for an unreachable API server, and its objects back when it returns', async () => {
    api.unserve('TLSRoute');
    await waitFor('TLSRoute gone from the bucket', async () => (await object('default.tlsroute.default.tls')) === undefined, 15000);
    const state = await waitFor('readyz names it not installed', async () => {
      const current = await readyz(leader);
      return /not installed \(retrying\): TLSRoute/.test(current.body.checks['initial-sync'].reason) ? current : undefined;
    }, 15000);
    assert.equal(state.status, 200);
    assert.doesNotMatch(state.body.checks['initial-sync'].reason, /unreachable/);
    api.serve(TLS_ROUTE);
    await waitFor('TLSRoute back', async () => (await object('default.tlsroute.default.tls')) !== undefined, 15000);
  });

  it('writes status back: our parent entry added, the other controller kept, a conflict retried, spec untouched', async () => {
    // the translator creates this bucket; the watcher only reads it
    const statuses = await nc.jetstream().views.kv(BUCKETS.status, { history: 1 });
    const specBefore = JSON.stringify(api.get('HTTPRoute', 'default', 'web')!['spec']);
    api.injectStatusConflicts(1);
    const ours = { parentRef: { name: 'gw' }, controllerName: 'io.cilium/gateway-controller', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'accepted by tendril', observedGeneration: 1 }] };
    await statuses.put(
      'default.httproute.default.web',
      objectStatusCodec.encode({ v: 1, apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: 'default', name: 'web', observedGeneration: 1, status: { parents: [ours] } }),
    );
    const route = await waitFor('status written', () => {
      const current = api.get('HTTPRoute', 'default', 'web') as any;
      return current.status.parents.length === 2 ? current : undefined;
    });
    assert.deepEqual(
      route.status.parents.map((p: any) => p.controllerName),
      ['example.com/other', 'io.cilium/gateway-controller'],
    );
    assert.equal(route.status.parents[0].conditions[0].lastTransitionTime, '2024-01-01T00:00:00Z');
    assert.ok(route.status.parents[1].conditions[0].lastTransitionTime);
    assert.equal(JSON.stringify(route.spec), specBefore);
    assert.ok(api.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/httproutes/web/status') && r.status === 409), 'a conflict was met');
    assert.match(leader.output, /default\/HTTPRoute\/web: status conflict \(attempt 1\)/);
    // the same desired status again writes nothing
    const patches = api.requests.filter((r) => r.method === 'PATCH').length;
    await statuses.put(
      'default.httproute.default.web',
      objectStatusCodec.encode({ v: 1, apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: 'default', name: 'web', observedGeneration: 1, status: { parents: [ours] } }),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(api.requests.filter((r) => r.method === 'PATCH').length, patches);
  });

  it('writes a status once when the server prunes part of it (a field the installed CRD version lacks)', async () => {
    // a Gateway API release whose GatewayClass status has conditions but no supportedFeatures
    api.installCrd({
      spec: {
        group: 'gateway.networking.k8s.io',
        names: { kind: 'GatewayClass', plural: 'gatewayclasses' },
        scope: 'Cluster',
        versions: [
          {
            name: 'v1',
            served: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  status: {
                    type: 'object',
                    properties: {
                      conditions: {
                        type: 'array',
                        items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' }, observedGeneration: { type: 'integer' }, lastTransitionTime: { type: 'string' } } },
                      },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    });
    const statuses = await nc.jetstream().views.kv(BUCKETS.status, { history: 1 });
    const desired = {
      v: 1 as const,
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      name: 'cilium',
      observedGeneration: 1,
      status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ours', observedGeneration: 1 }], supportedFeatures: [{ name: 'Gateway' }, { name: 'HTTPRoute' }] },
    };
    const patches = () => api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/gatewayclasses/cilium/status')).length;
    await statuses.put('default.gatewayclass._.cilium', objectStatusCodec.encode(desired));
    const written = await waitFor('status written', () => (api.get('GatewayClass', undefined, 'cilium') as any)?.status?.conditions?.[0]?.message === 'ours' ? api.get('GatewayClass', undefined, 'cilium') : undefined);
    assert.equal((written as any).status.supportedFeatures, undefined, 'pruned by the server');
    assert.equal(patches(), 1);
    for (let i = 0; i < 3; i++) {
      await statuses.put('default.gatewayclass._.cilium', objectStatusCodec.encode(desired));
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    assert.equal(patches(), 1, 'the pruned field does not make every write differ');
    // a real change is still written
    await statuses.put('default.gatewayclass._.cilium', objectStatusCodec.encode({ ...desired, status: { ...desired.status, conditions: [{ ...desired.status.conditions[0]!, message: 'changed' }] } }));
    await waitFor('change written', () => (api.get('GatewayClass', undefined, 'cilium') as any).status.conditions[0].message === 'changed');
    assert.equal(patches(), 2);
  });

  it('fails over to a warm standby that writes nothing while standing by and rewrites nothing unchanged', async () => {
    const standby = await startWatcher(env);
    watchers.push(standby);
    await waitFor('standby ready', async () => {
      const state = await readyz(standby).catch(() => undefined);
      return state?.status === 200 && /^standby/.test(state.body.checks['leader-election'].reason);
    }, 120000); // a second process listing 1,000 objects on a loaded machine
    const role = (await readyz(standby)).body.checks['leader-election'].reason;
    const leaderRole = (await readyz(leader)).body.checks['leader-election'].reason as string;
    const leaderIdentity = /this replica \((.+)\) holds/.exec(leaderRole)![1]!;
    assert.equal(role, `standby: the leader is ${leaderIdentity} (Lease default/tendril-k8s-watcher)`);
    // written by the leader after the standby started; deleted while nobody leads
    api.create(service('default', 'short-lived'));
    await waitFor('leader writes it', async () => (await object('default.service.default.short-lived')) !== undefined);
    const sequence = (await objects.status()).streamInfo.state.last_seq;
    const killedAt = Date.now();
    await stopWatcher(leader, 'SIGKILL'); // no release: the standby must wait the Lease out
    api.remove('Service', 'default', 'short-lived');
    await waitFor('standby takes the Lease', async () => /^leader/.test((await readyz(standby)).body.checks['leader-election'].reason), 20000);
    const failoverMs = Date.now() - killedAt;
    assert.ok(failoverMs < 20000, `failover took ${failoverMs} ms`);
    await waitFor('new leader ready', async () => (await readyz(standby)).status === 200);
    await waitFor('the new leader deletes what vanished meanwhile', async () => (await object('default.service.default.short-lived')) === undefined);
    assert.equal((await objects.status()).streamInfo.state.last_seq, sequence + 1, 'one delete, nothing unchanged rewritten');
    api.create(service('default', 'after-failover'));
    await waitFor('new leader writes', async () => (await object('default.service.default.after-failover')) !== undefined, 10000);
  });
});

describe('k8s-watcher when the API server is down', () => {
  it('stays unready until the API server answers, then syncs (keys under TENDRIL_CLUSTER), and says when it goes away', async () => {
    const nats = await startNatsServer();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tendril-kube-'));
    const api = new (await import('@tendril/testing')).KubeApiServer({ port });
    writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig());
    const watcher = await startWatcher({ TENDRIL_NATS_URL: nats.url, KUBECONFIG: join(dir, 'kubeconfig'), TENDRIL_LEASE_RETRY_MS: '300', TENDRIL_CRD_RETRY_MS: '500', TENDRIL_CLUSTER: 'east' });
    try {
      const down = await waitFor('readyz answers', () => readyz(watcher).catch(() => undefined), 60000);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const still = await readyz(watcher);
      assert.equal(down.status, 503);
      assert.equal(still.status, 503);
      api.create(service('default', 'late'));
      await api.start();
      await waitFor('ready once the API server is up', async () => (await readyz(watcher)).status === 200, 30000);
      const nc = await connect({ servers: nats.url });
      const kv = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
      assert.ok(await kv.get('east.service.default.late'), 'keys carry TENDRIL_CLUSTER');
      await nc.close();
      // the API server goes away after the sync: not silently green, but saying the view is stale
      await api.close();
      const stale = await waitFor('readyz says the API server is unreachable', async () => {
        const state = await readyz(watcher);
        return state.status === 503 && /API server unreachable/.test(state.body.checks['initial-sync'].reason) ? state : undefined;
      }, 30000);
      // the kinds and the network error (its wording depends on how the connection went: refused, reset, closed)
      assert.match(stale.body.checks['initial-sync'].reason, /^API server unreachable since \S+ \((\w+, )*Service(, \w+)*: .+\); /);
      assert.match(stale.body.checks['initial-sync'].reason, /stale view: tendril-objects keeps the last state seen \(1 objects\)/);
      await api.start();
      await waitFor('ready again once it answers', async () => (await readyz(watcher)).status === 200, 30000);
    } finally {
      await stopWatcher(watcher);
      await api.close();
      await nats.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
