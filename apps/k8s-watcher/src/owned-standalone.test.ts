import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, kubeObjectCodec, type KubeObject } from '@tendril/contract';
import { freePort, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { standaloneOwnedObjects } from './owned-standalone.js';

const SETTINGS = { cluster: 'default', serviceCidr: '127.96.0.0/16', ingressCidr: '127.101.0.0/16', gatewayCidr: '127.102.0.0/16' };
const MARK = { 'app.kubernetes.io/managed-by': 'tendril' };

function ownedService(name: string, type: 'LoadBalancer' | 'NodePort', labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', labels: { ...MARK, ...labels } }, spec: { type, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 10100 }] } };
}

test('owned objects become what an API server with LB-IPAM would store, and stay put once there', () => {
  const owned: [string, KubeObject][] = [
    ['default.service.shop.cilium-ingress-a', ownedService('cilium-ingress-a', 'LoadBalancer')],
    ['default.service.shop.cilium-gateway-g', ownedService('cilium-gateway-g', 'LoadBalancer', { 'io.cilium.gateway/owning-gateway': 'g' })],
    ['default.service.shop.cilium-ingress-n', ownedService('cilium-ingress-n', 'NodePort')],
    ['other.service.shop.cilium-ingress-x', ownedService('cilium-ingress-x', 'LoadBalancer')],
  ];
  const first = standaloneOwnedObjects(owned, () => undefined, [], SETTINGS, '2026-01-01T00:00:00Z');
  assert.deepEqual([...first.keys()].sort(), ['default.service.shop.cilium-gateway-g', 'default.service.shop.cilium-ingress-a', 'default.service.shop.cilium-ingress-n'], "another cluster's keys are not ours");
  const ingress = first.get('default.service.shop.cilium-ingress-a') as any;
  assert.match(ingress.status.loadBalancer.ingress[0].ip, /^127\.101\./, 'Ingress load balancers from the Ingress pool');
  assert.match(ingress.spec.clusterIP, /^127\.96\./);
  assert.equal(ingress.spec.sessionAffinity, 'None', 'API defaults applied');
  assert.ok(ingress.metadata.uid && ingress.metadata.resourceVersion && ingress.metadata.generation === 1);
  assert.match((first.get('default.service.shop.cilium-gateway-g') as any).status.loadBalancer.ingress[0].ip, /^127\.102\./, 'Gateways from the Gateway pool');
  assert.equal((first.get('default.service.shop.cilium-ingress-n') as any).status, undefined, 'a NodePort Service gets no load-balancer address');

  const again = standaloneOwnedObjects(owned, (key) => first.get(key), [...first], SETTINGS, '2026-02-02T00:00:00Z');
  assert.deepEqual(again, first, 'what the bucket holds is kept: nothing to rewrite');

  // a held address outlives a pick that would now differ (another Service took the hash slot first)
  const held = { ...ingress, status: { loadBalancer: { ingress: [{ ip: '127.101.3.3' }] } } };
  const kept = standaloneOwnedObjects(owned, (key) => (key === 'default.service.shop.cilium-ingress-a' ? held : first.get(key)), [], SETTINGS, '2026-02-02T00:00:00Z');
  assert.equal((kept.get('default.service.shop.cilium-ingress-a') as any).status.loadBalancer.ingress[0].ip, '127.101.3.3');
});

describe('k8s-watcher in standalone mode with owned objects', () => {
  let nats: TestNatsServer;
  let folder: string;
  let watcher: ChildProcess;
  let objects: KV;
  let owned: KV;
  let nc: NatsConnection;
  let output = '';
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const get = async (key: string) => {
    const entry = await objects.get(key);
    return entry && entry.operation === 'PUT' ? (kubeObjectCodec.decode(entry.value) as any) : undefined;
  };

  before(async () => {
    nats = await startNatsServer();
    folder = mkdtempSync(join(tmpdir(), 'tendril-owned-'));
    writeFileSync(join(folder, 'web.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  ports:\n  - port: 80\n');
    // a folder for a real cluster (examples/cluster/), marked: not read
    mkdirSync(join(folder, 'cluster'));
    writeFileSync(join(folder, 'cluster', '.tendril-ignore'), '');
    writeFileSync(join(folder, 'cluster', 'other.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: other\n  namespace: shop\nspec:\n  ports:\n  - port: 80\n');
    const port = await freePort();
    nc = await connect({ servers: nats.url });
    // the translator creates tendril-owned; here the test writes it
    owned = await nc.jetstream().views.kv(BUCKETS.owned, { history: 1 });
    watcher = spawn(process.execPath, [main], {
      env: { ...process.env, KUBECONFIG: '/nonexistent/kubeconfig', TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_MANIFESTS: folder, TENDRIL_MANIFESTS_DEBOUNCE_MS: '20', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    watcher.stdout!.on('data', (d) => (output += d));
    watcher.stderr!.on('data', (d) => (output += d));
    objects = await waitFor('tendril-objects bucket', async () => {
      const bucket = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
      await bucket.status();
      return bucket;
    }, 60000); // the watcher's start, generous on a loaded machine
    await waitFor('the folder mirrored', async () => (await get('default.service.shop.web')) !== undefined, 60000);
  });
  after(async () => {
    if (watcher.exitCode === null) {
      const exited = new Promise((resolve) => watcher.once('exit', resolve));
      watcher.kill('SIGTERM');
      await exited;
    }
    await nc.close();
    await nats.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('does not read a folder that holds .tendril-ignore', async () => {
    assert.equal(await get('default.service.shop.other'), undefined);
    writeFileSync(join(folder, 'cluster', 'other.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: other\n  namespace: shop\nspec:\n  ports:\n  - port: 81\n');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await get('default.service.shop.other'), undefined, 'a change under the marked folder is not read either');
  });

  it('puts owned objects into tendril-objects with an address, keeps them through folder changes, deletes them when no longer owned', async () => {
    await owned.put('default.service.shop.cilium-ingress-a', kubeObjectCodec.encode(ownedService('cilium-ingress-a', 'LoadBalancer')));
    const service = await waitFor('the owned Service in tendril-objects', async () => (await get('default.service.shop.cilium-ingress-a'))?.status?.loadBalancer?.ingress?.[0]?.ip, 30000).catch((error: Error) => assert.fail(`${error.message}\n${output}`));
    assert.match(String(service), /^127\.101\./);

    // the folder changes (its only file goes): the folder's object is deleted, ours stays
    unlinkSync(join(folder, 'web.yaml'));
    await waitFor('the folder object deleted', async () => (await get('default.service.shop.web')) === undefined, 30000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(await get('default.service.shop.cilium-ingress-a'), 'an owned key is not the folder source to delete');

    // an object with the owned mark that the translator no longer owns is deleted
    await owned.delete('default.service.shop.cilium-ingress-a');
    await waitFor('the owned Service deleted', async () => (await get('default.service.shop.cilium-ingress-a')) === undefined, 30000);
  });
});
