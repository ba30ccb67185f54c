import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { startKubeApiServer, waitFor, type KubeApiServer } from '@tendril/testing';
import { KubeClient, kubernetesDetected, loadKubeConfig } from './client.js';
import { ResilientInformer, type InformerState } from './informer.js';
import { LeaseElector } from './lease.js';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const service = (name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }] } });

describe('Kubernetes configuration', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'tendril-kubeconfig-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a kubeconfig named by KUBECONFIG, with its token and namespace', async () => {
    const file = join(dir, 'config');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]\nusers: [{name: u, user: {token: abc}}]\ncontexts: [{name: x, context: {cluster: c, user: u, namespace: mesh}}]\ncurrent-context: x\n',
    );
    const previous = process.env['KUBECONFIG'];
    process.env['KUBECONFIG'] = file;
    try {
      assert.equal(kubernetesDetected({ KUBECONFIG: file }), 'kubeconfig');
      const loaded = loadKubeConfig({ env: { KUBECONFIG: file } });
      assert.equal(loaded.source, 'kubeconfig');
      assert.equal(loaded.server, 'https://10.0.0.1:6443');
      assert.equal(loaded.namespace, 'mesh');
      const context = new RequestContext('https://10.0.0.1:6443/api', HttpMethod.GET);
      await loaded.config.applySecurityAuthentication(context);
      assert.equal(context.getHeaders()['Authorization'], 'Bearer abc');
    } finally {
      if (previous === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = previous;
    }
  });

  it('loads the in-cluster service account: server from the environment, token and namespace from files', async () => {
    const root = join(dir, 'pod');
    const account = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(account, { recursive: true });
    writeFileSync(join(account, 'token'), 'pod-token');
    writeFileSync(join(account, 'namespace'), 'tendril-system');
    writeFileSync(join(account, 'ca.crt'), '');
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    Object.assign(process.env, env);
    try {
      assert.equal(kubernetesDetected(env), 'in-cluster');
      const loaded = loadKubeConfig({ env, serviceAccountRoot: root });
      assert.equal(loaded.source, 'in-cluster');
      assert.equal(loaded.server, 'https://10.96.0.1:443');
      assert.equal(loaded.namespace, 'tendril-system');
      const context = new RequestContext('https://10.96.0.1:443/api', HttpMethod.GET);
      await loaded.config.applySecurityAuthentication(context);
      assert.equal(context.getHeaders()['Authorization'], 'Bearer pod-token');
    } finally {
      for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    assert.equal(kubernetesDetected({}), undefined);
  });
});

describe('ResilientInformer and LeaseElector against the test API server', () => {
  let api: KubeApiServer;
  let client: KubeClient;
  let dir: string;
  before(async () => {
    api = await startKubeApiServer({ bookmarkIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'tendril-kubeconfig-'));
    writeFileSync(join(dir, 'config'), api.kubeconfig('fixture-token'));
    client = new KubeClient(loadKubeConfig({ env: { KUBECONFIG: join(dir, 'config') } }).config);
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts itself after errors, with the token of the kubeconfig, and keeps the cache exact', async () => {
    const held = new Map<string, unknown>();
    const states: InformerState[] = [];
    api.create(service('a'));
    api.failRequests(3); // the first list and two retries answer 500
    const informer = new ResilientInformer(client, { path: '/api/v1/services', name: 'Service', backoffInitialMs: 20, stallMarginMs: 1000, logger: quiet }, {
      upsert: (o) => held.set(o.metadata!.name!, o),
      delete: (o) => held.delete(o.metadata!.name!),
      stateChanged: (state) => states.push(state),
    });
    informer.start();
    try {
      await waitFor('synced after failures', () => informer.currentState === 'synced', 5000, 10);
      assert.deepEqual(states, ['failing', 'synced']);
      assert.deepEqual([...held.keys()], ['a']);
      assert.ok(api.requests.every((r) => r.authorization === 'Bearer fixture-token'));
      api.create(service('b'));
      await waitFor('watch event', () => held.has('b'), 5000, 10);
      assert.ok(informer.lastEventAt > 0);
      // the watch's server-side end, a 410 and a relist: deletes made meanwhile reach the cache
      api.holdWatches();
      api.dropWatches();
      api.remove('Service', 'default', 'a');
      api.compact();
      api.releaseWatches();
      await waitFor('relist removed the deleted object', () => !held.has('a') && held.has('b'), 5000, 10);
      assert.equal(informer.relists, 1);
    } finally {
      informer.stop();
    }
  });

  it('holds listed and watched objects as the transform leaves them', async () => {
    api.create({ ...service('listed'), metadata: { name: 'listed', namespace: 'transformed' } });
    const informer = new ResilientInformer(
      client,
      { path: '/api/v1/namespaces/transformed/services', name: 'Service', logger: quiet, transform: (o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { ...o.metadata, labels: { stripped: 'yes' } } }) },
      { upsert: () => undefined, delete: () => undefined },
    );
    informer.start();
    try {
      await waitFor('synced', () => informer.currentState === 'synced', 5000, 10);
      api.create({ ...service('watched'), metadata: { name: 'watched', namespace: 'transformed' } });
      await waitFor('watched object held', () => informer.objects().length === 2, 5000, 10);
      for (const object of informer.objects()) {
        assert.equal((object as { spec?: unknown }).spec, undefined, `${object.metadata?.name}: spec dropped`);
        assert.deepEqual(object.metadata?.labels, { stripped: 'yes' });
      }
    } finally {
      informer.stop();
    }
  });

  it('reopens watches the server ends after timeoutSeconds from where they were, without relisting', async () => {
    const held = new Set<string>();
    const informer = new ResilientInformer(client, { path: '/api/v1/namespaces/timeouts/services', name: 'Service', watchTimeoutSeconds: 1, logger: quiet }, {
      upsert: (o) => held.add(o.metadata!.name!),
      delete: (o) => held.delete(o.metadata!.name!),
    });
    informer.start();
    try {
      await waitFor('synced', () => informer.currentState === 'synced', 5000, 10);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      api.create({ ...service('late'), metadata: { name: 'late', namespace: 'timeouts' } });
      await waitFor('change after two server-side ends', () => held.has('late'), 5000, 10);
      assert.ok(informer.restarts >= 2, `watch reopened ${informer.restarts} times`);
      assert.equal(informer.relists, 0);
      assert.ok(api.requests.filter((r) => r.method === 'WATCH' && r.path.includes('/namespaces/timeouts/') && r.path.includes('timeoutSeconds=1') && r.path.includes('allowWatchBookmarks=true')).length >= 3);
    } finally {
      informer.stop();
    }
  });

  it('fills apiVersion and kind into list items the server leaves them off', async () => {
    api.create({ ...service('typed'), metadata: { name: 'typed', namespace: 'typemeta' } });
    const listed = (await client.request<{ items: { apiVersion?: string }[] }>('GET', '/api/v1/namespaces/typemeta/services')).items;
    assert.equal(listed[0]!.apiVersion, undefined, 'a real server leaves TypeMeta off built-in list items');
    const seen: unknown[] = [];
    const informer = new ResilientInformer(client, { path: '/api/v1/namespaces/typemeta/services', name: 'Service', typeMeta: { apiVersion: 'v1', kind: 'Service' }, logger: quiet }, {
      upsert: (o) => seen.push([o.apiVersion, o.kind, o.metadata!.name]),
      delete: () => undefined,
    });
    informer.start();
    try {
      await waitFor('listed', () => seen.length === 1, 5000, 10);
      assert.deepEqual(seen, [['v1', 'Service', 'typed']]);
      assert.deepEqual([informer.get('typed', 'typemeta')?.apiVersion, informer.get('typed', 'typemeta')?.kind], ['v1', 'Service']);
    } finally {
      informer.stop();
    }
  });

  it('leaves a quiet watch on a server without bookmarks alone until its server-side timeout, and reopens a silent one past it', async () => {
    const bare = await startKubeApiServer({ watchCache: false });
    const bareDir = mkdtempSync(join(tmpdir(), 'tendril-kubeconfig-'));
    writeFileSync(join(bareDir, 'config'), bare.kubeconfig());
    const warnings: string[] = [];
    const logger = { ...quiet, warn: (line: string) => warnings.push(line) };
    const informer = new ResilientInformer(new KubeClient(loadKubeConfig({ env: { KUBECONFIG: join(bareDir, 'config') } }).config), { path: '/api/v1/services', name: 'Service', watchTimeoutSeconds: 1, stallMarginMs: 700, logger }, {
      upsert: () => undefined,
      delete: () => undefined,
    });
    informer.start();
    try {
      await waitFor('synced', () => informer.currentState === 'synced', 5000, 10);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      assert.equal(informer.lastEventAt, 0, 'no event and no bookmark: the server has no watch cache');
      assert.ok(informer.restarts >= 2, `reopened at each server-side end (${informer.restarts})`);
      assert.deepEqual(warnings, [], 'a quiet watch is not a stalled one');
      bare.silenceWatches();
      bare.holdWatches(); // the reopened watch hangs too: nothing answers
      await waitFor('a watch silent past its timeout is taken for dead', () => warnings.some((w) => /watch silent for 1700 ms, past its 1 s server-side timeout/.test(w)), 8000, 20);
    } finally {
      informer.stop();
      await bare.close();
      rmSync(bareDir, { recursive: true, force: true });
    }
  });

  it('reports a kind the server does not serve and picks it up once served', async () => {
    const type = { group: 'example.com', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };
    const held = new Set<string>();
    const informer = new ResilientInformer(client, { path: '/apis/example.com/v1/widgets', name: 'Widget', notFoundRetryMs: 50, logger: quiet }, {
      upsert: (o) => held.add(o.metadata!.name!),
      delete: (o) => held.delete(o.metadata!.name!),
    });
    informer.start();
    try {
      await waitFor('not installed', () => informer.currentState === 'not-installed', 5000, 10);
      api.serve(type);
      api.create({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'default' } });
      await waitFor('served and listed', () => informer.currentState === 'synced' && held.has('w'), 5000, 10);
    } finally {
      informer.stop();
    }
  });

  it('elects one leader among candidates and fails over when it stops renewing', async () => {
    const options = { namespace: 'default', name: 'election', leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100, logger: quiet };
    const first = new LeaseElector(client, { ...options, identity: 'first' });
    const second = new LeaseElector(client, { ...options, identity: 'second' });
    first.start();
    await waitFor('first leads', () => first.isLeader, 5000, 10);
    second.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(second.isLeader, false);
    assert.equal(second.holder, 'first');
    // a crash: renewals stop without a release
    const crashed = first as unknown as { stopped: boolean; timer?: NodeJS.Timeout };
    crashed.stopped = true;
    clearTimeout(crashed.timer);
    const since = Date.now();
    await waitFor('second takes over', () => second.isLeader, 5000, 10);
    assert.ok(Date.now() - since >= 900, 'not before the Lease ran out');
    const lease = api.get('Lease', 'default', 'election') as unknown as { spec: { holderIdentity: string; leaseTransitions: number } };
    assert.equal(lease.spec.holderIdentity, 'second');
    assert.equal(lease.spec.leaseTransitions, 1);
    // a clean stop releases the Lease at once
    await second.stop();
    assert.ok(!(api.get('Lease', 'default', 'election') as unknown as { spec: { holderIdentity?: string | null } }).spec.holderIdentity, 'released');
  });
});
