import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, kubeObjectCodec, type KubeObject } from '@tendril/contract';
import { freePort, startKubeApiServer, startNatsServer, waitFor, type KubeApiServer, type TestNatsServer } from '@tendril/testing';
import { holdsApplied } from './owned-kube.js';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const MARK = { 'app.kubernetes.io/managed-by': 'tendril' };

test('an object holds what was applied when every applied field is there, whatever the server added', () => {
  const applied = { metadata: { labels: { a: '1' } }, spec: { ports: [{ port: 80 }] } };
  assert.ok(holdsApplied({ metadata: { labels: { a: '1', b: '2' }, uid: 'u' }, spec: { clusterIP: '198.18.0.1', ports: [{ port: 80, targetPort: 80 }] } }, applied));
  assert.ok(!holdsApplied({ metadata: { labels: { a: '2' } }, spec: { ports: [{ port: 80 }] } }, applied));
  assert.ok(!holdsApplied({ metadata: { labels: { a: '1' } }, spec: { ports: [{ port: 80 }, { port: 443 }] } }, applied), 'a list of another length is not what was applied');
});

function ownedService(name: string, owner: { name: string; uid: string }, port = 10100): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop', labels: { ...MARK, 'cilium.io/ingress': 'true' }, ownerReferences: [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }] },
    spec: { type: 'LoadBalancer', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: port }] },
  };
}

function ownedSlice(name: string, owner: { name: string; uid: string }, nodes: string[], port = 10100): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'shop', labels: { ...MARK, 'kubernetes.io/service-name': name }, ownerReferences: [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }] },
    addressType: 'IPv4',
    endpoints: nodes.map((address) => ({ addresses: [address], conditions: { ready: true } })),
    ports: [{ name: 'http', protocol: 'TCP', port }],
  } as KubeObject;
}

describe('k8s-watcher in Kubernetes mode with owned objects', () => {
  let nats: TestNatsServer;
  let api: KubeApiServer;
  let nc: NatsConnection;
  let owned: KV;
  let objects: KV;
  let dir: string;
  let watcher: ChildProcess;
  let output = '';
  let ingress: { name: string; uid: string };
  const key = (kind: string, name: string) => `default.${kind}.shop.${name}`;
  const mirrored = async (k: string) => {
    const entry = await objects.get(k);
    return entry && entry.operation === 'PUT' ? (kubeObjectCodec.decode(entry.value) as any) : undefined;
  };
  const fail = (error: Error) => assert.fail(`${error.message}\n${output.slice(-4000)}`);

  before(async () => {
    nats = await startNatsServer();
    api = await startKubeApiServer({ bookmarkIntervalMs: 300, gcDelayMs: 200 });
    const created = api.create({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'front', namespace: 'shop' }, spec: { ingressClassName: 'cilium' } });
    ingress = { name: 'front', uid: created.metadata['uid'] as string };
    api.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '198.18.0.11' }], conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-01-01T00:00:00Z' }], images: [{ names: ['app:1'], sizeBytes: 1 }] } });
    // someone else's Service, named as one of ours would be
    api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cilium-ingress-theirs', namespace: 'shop' }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] } });
    dir = mkdtempSync(join(tmpdir(), 'tendril-owned-kube-'));
    writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig());
    nc = await connect({ servers: nats.url });
    owned = await nc.jetstream().views.kv(BUCKETS.owned, { history: 1 }); // the translator's bucket; the test writes it
    const port = await freePort();
    watcher = spawn(process.execPath, [main], {
      env: { ...process.env, TENDRIL_NATS_URL: nats.url, KUBECONFIG: join(dir, 'kubeconfig'), TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1', NO_COLOR: '1', TENDRIL_LEASE_DURATION_MS: '3000', TENDRIL_LEASE_RENEW_DEADLINE_MS: '2000', TENDRIL_LEASE_RETRY_MS: '300', TENDRIL_CRD_RETRY_MS: '500', TENDRIL_OWNED_RESYNC_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    watcher.stdout!.on('data', (d) => (output += d));
    watcher.stderr!.on('data', (d) => (output += d));
    objects = await waitFor('tendril-objects bucket', async () => {
      const bucket = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
      await bucket.status();
      return bucket;
    }, 60000); // the watcher's start, generous on a loaded machine
  });
  after(async () => {
    if (watcher.exitCode === null) {
      const exited = new Promise((resolve) => watcher.once('exit', resolve));
      watcher.kill('SIGTERM');
      await exited;
    }
    await nc.close();
    await api.close();
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mirrors Nodes as name, uid, labels and addresses only', async () => {
    const node = await waitFor('the Node mirrored', () => mirrored('default.node._.n1'), 30000).catch(fail);
    assert.deepEqual(Object.keys(node).sort(), ['apiVersion', 'kind', 'metadata', 'status']);
    assert.deepEqual(node.status, { addresses: [{ type: 'InternalIP', address: '198.18.0.11' }] });
    assert.equal(node.metadata.resourceVersion, undefined, 'a heartbeat moves resourceVersion: not mirrored');
    const before = (await objects.get('default.node._.n1'))!.revision;
    const live = api.get('Node', undefined, 'n1')!;
    api.update({ ...live, status: { ...(live['status'] as object), conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-01-01T00:01:00Z' }] } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await objects.get('default.node._.n1'))!.revision, before, 'a heartbeat writes nothing');
  });

  it('applies owned objects with server-side apply, updates them, and never touches an object that is not ours', async () => {
    await owned.put(key('service', 'cilium-ingress-front'), kubeObjectCodec.encode(ownedService('cilium-ingress-front', ingress)));
    await owned.put(key('endpointslice', 'cilium-ingress-front'), kubeObjectCodec.encode(ownedSlice('cilium-ingress-front', ingress, ['198.18.0.11'])));
    await owned.put(key('service', 'cilium-ingress-theirs'), kubeObjectCodec.encode(ownedService('cilium-ingress-theirs', ingress)));
    const service = await waitFor('the owned Service created', () => api.get('Service', 'shop', 'cilium-ingress-front'), 30000).catch(fail);
    assert.equal(service.metadata['labels'] && (service.metadata['labels'] as Record<string, string>)['app.kubernetes.io/managed-by'], 'tendril');
    assert.deepEqual((service.metadata['ownerReferences'] as { uid: string }[])[0]!.uid, ingress.uid);
    assert.ok(api.requests.some((r) => r.method === 'PATCH' && r.path.includes('/services/cilium-ingress-front?fieldManager=tendril&force=true')), 'server-side apply with our field manager');
    await waitFor('the owned slice created', () => api.get('EndpointSlice', 'shop', 'cilium-ingress-front'), 30000).catch(fail);

    // the node set changes: the slice follows
    await owned.put(key('endpointslice', 'cilium-ingress-front'), kubeObjectCodec.encode(ownedSlice('cilium-ingress-front', ingress, ['198.18.0.11', '198.18.0.12'])));
    await waitFor('the slice updated', () => (api.get('EndpointSlice', 'shop', 'cilium-ingress-front')?.['endpoints'] as unknown[] | undefined)?.length === 2, 30000).catch(fail);

    // the cloud sets the load balancer's address: it reaches tendril-objects, where the translator reads it
    const live = api.get('Service', 'shop', 'cilium-ingress-front')!;
    api.update({ ...live, status: { loadBalancer: { ingress: [{ ip: '198.18.9.1' }] } } });
    await waitFor('the address mirrored', async () => (await mirrored(key('service', 'cilium-ingress-front')))?.status?.loadBalancer?.ingress?.[0]?.ip === '198.18.9.1', 30000).catch(fail);
    // and a later apply keeps it (status is not the apply's)
    await owned.put(key('service', 'cilium-ingress-front'), kubeObjectCodec.encode(ownedService('cilium-ingress-front', ingress, 10101)));
    await waitFor('the port updated', () => (api.get('Service', 'shop', 'cilium-ingress-front')?.['spec'] as any)?.ports?.[0]?.targetPort === 10101, 30000).catch(fail);
    assert.deepEqual(api.get('Service', 'shop', 'cilium-ingress-front')!['status'], { loadBalancer: { ingress: [{ ip: '198.18.9.1' }] } });

    const theirs = api.get('Service', 'shop', 'cilium-ingress-theirs')!;
    assert.equal((theirs.metadata['labels'] as object | undefined) ?? undefined, undefined, 'their Service is left as it is');
    assert.ok(!api.requests.some((r) => r.method === 'PATCH' && r.path.includes('cilium-ingress-theirs')));
    assert.match(output, /cilium-ingress-theirs: exists and is not Tendril's/);
  });

  it('deletes what it no longer owns; the garbage collector removes the objects of a deleted owner', async () => {
    await owned.delete(key('service', 'cilium-ingress-theirs'));
    api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'stale', namespace: 'shop', labels: MARK }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] } });
    await waitFor('our stale Service deleted', () => api.get('Service', 'shop', 'stale') === undefined, 30000).catch(fail);
    assert.ok(api.get('Service', 'shop', 'cilium-ingress-theirs'), 'not ours: never deleted');

    api.remove('Ingress', 'shop', 'front');
    await waitFor('the Service collected with its owner', () => api.get('Service', 'shop', 'cilium-ingress-front') === undefined && api.get('EndpointSlice', 'shop', 'cilium-ingress-front') === undefined, 30000).catch(fail);
    await owned.delete(key('service', 'cilium-ingress-front'));
    await owned.delete(key('endpointslice', 'cilium-ingress-front'));
    await waitFor('gone from tendril-objects too', async () => (await mirrored(key('service', 'cilium-ingress-front'))) === undefined, 30000).catch(fail);
  });
});
