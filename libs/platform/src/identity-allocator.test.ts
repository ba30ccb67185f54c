import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUCKETS, identityRange } from '@tendril/contract';
import { startNatsServer, type TestNatsServer } from '@tendril/testing';
import { IdentityAllocator, NatsClient, type Logger } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('IdentityAllocator against a real nats-server', () => {
  let server: TestNatsServer;
  const clients: NatsClient[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    for (const client of clients) await client.drain();
    await server.dispose();
  });

  const allocator = (name: string, clusterId = 0) => {
    const client = new NatsClient({ url: server.url, name, kvReplicas: 1, logger: quiet });
    clients.push(client);
    return new IdentityAllocator(() => client.bucket(BUCKETS.identities), identityRange(clusterId), quiet);
  };

  it('two replicas racing over the same label sets agree on every number, and no number is given twice', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `k8s:app=app-${i};k8s:io.kubernetes.pod.namespace=race`);
    const first = allocator('replica-1');
    const second = allocator('replica-2');
    // each walks the keys in another order, at the same time
    const [a, b] = await Promise.all([first.allocateAll(keys), second.allocateAll([...keys].reverse())]);
    for (const key of keys) assert.equal(a.get(key), b.get(key), key);
    const numbers = keys.map((key) => a.get(key)!);
    assert.equal(new Set(numbers).size, keys.length, 'distinct label sets, distinct numbers');
    for (const id of numbers) assert.ok(id >= 256 && id <= 65535, `${id} in cluster 0's range`);
  });

  it('a restarted allocator finds the numbers already given; a new label set gets a new one', async () => {
    const before = await allocator('before').allocateAll(['k8s:app=kept', 'k8s:app=also-kept']);
    const restarted = allocator('after-restart');
    assert.equal(await restarted.allocate('k8s:app=kept'), before.get('k8s:app=kept'));
    assert.equal(await restarted.allocate('k8s:app=also-kept'), before.get('k8s:app=also-kept'));
    const fresh = await restarted.allocate('k8s:app=new');
    assert.ok(![...before.values()].includes(fresh));
  });

  it('allocates within the cluster id range (Cilium: 16 bits per cluster)', async () => {
    const id = await allocator('cluster-3', 3).allocate('k8s:app=in-cluster-3');
    assert.ok(id >= 3 << 16 && id < 4 << 16, `${id}`);
    assert.throws(() => identityRange(256), /cluster id 256 is not 0-255/);
  });
});
