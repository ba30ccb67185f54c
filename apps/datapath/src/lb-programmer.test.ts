import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { LbBackend, LbService } from '@tendril/contract';
import { LbProgrammer } from './lb-programmer.js';
import { runClient, scratch, tcpBackend, udpBackend, type Backend, type Scratch } from './testing/kernel.js';

const quiet = { log: () => undefined, warn: (message: string) => console.warn(message), error: (message: string) => console.error(message) };

function lbService(name: string, vip: string, backends: Backend[], extra: Partial<LbService> & { weights?: number[]; protocol?: 'TCP' | 'UDP' } = {}): LbService {
  const { weights, protocol = 'TCP', ...rest } = extra;
  return {
    v: 1,
    cluster: 'default',
    namespace: 'test',
    name,
    frontends: [{ address: vip, port: 80, protocol, portName: 'http', scope: 'ClusterIP' }],
    backends: backends.map((backend, index): LbBackend => ({ address: backend.host, port: backend.port, protocol, portName: 'http', weight: weights?.[index] ?? 1, state: 'active' })),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
    ...rest,
  };
}

function setup(t: { after(fn: () => unknown): void }): { dir: Scratch; programmer: LbProgrammer } {
  const dir = scratch();
  const programmer = new LbProgrammer({ ...dir, pinPath: dir.pinPath }, quiet);
  t.after(() => {
    programmer.close();
    dir.dispose();
  });
  programmer.install();
  return { dir, programmer };
}

test('a client in the cgroup reaches the backend through the VIP and sees the VIP as its peer; others are not translated', async (t) => {
  const { dir, programmer } = setup(t);
  const backend = await tcpBackend('127.0.0.2');
  t.after(() => backend.close());
  assert.ok(programmer.attached);
  programmer.reconcile([['default.test.web', lbService('web', '127.100.1.1', [backend])]]);

  const [inside] = await runClient({ host: '127.100.1.1', port: 80, cgroupPath: dir.cgroupPath });
  assert.deepEqual(inside, { reply: `127.0.0.2:${backend.port}`, peer: '127.100.1.1:80' });
  assert.equal(backend.peers.length, 1, 'the backend saw the connection');

  const [outside] = await runClient({ host: '127.100.1.1', port: 80 });
  assert.equal(outside!.error, 'ECONNREFUSED', 'a process outside the cgroup dials the VIP itself');
  assert.equal(backend.peers.length, 1);

  const flows = programmer.takeFlows('node-a', new Date(0));
  assert.deepEqual(flows, [
    {
      v: 1,
      node: 'node-a',
      at: '1970-01-01T00:00:00.000Z',
      protocol: 'TCP',
      source: { address: '127.0.0.1' },
      service: { address: '127.100.1.1', port: 80 },
      backend: { address: '127.0.0.2', port: backend.port },
      serviceName: 'test/web',
      verdict: 'translated',
      count: 1,
    },
  ]);
  assert.deepEqual(programmer.takeFlows('node-a'), [], 'each connection is reported once');
});

test('removing the service stops the translation; a service without backends refuses connect()', async (t) => {
  const { dir, programmer } = setup(t);
  const backend = await tcpBackend('127.0.0.3');
  t.after(() => backend.close());
  const all = () => [] as [string, LbService][];
  programmer.reconcile([['default.test.web', lbService('web', '127.100.1.2', [backend])]]);
  assert.equal((await runClient({ host: '127.100.1.2', port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `127.0.0.3:${backend.port}`);

  programmer.apply([{ key: 'default.test.web', service: lbService('web', '127.100.1.2', []) }], all);
  assert.equal((await runClient({ host: '127.100.1.2', port: 80, cgroupPath: dir.cgroupPath }))[0]!.error, 'ECONNREFUSED');
  assert.deepEqual(programmer.takeFlows('node-a').map((flow) => [flow.verdict, flow.count]), [['translated', 1], ['no-backend', 1]]);

  programmer.apply([{ key: 'default.test.web' }], all);
  assert.equal(programmer.mapEntries(), 0);
  assert.equal((await runClient({ host: '127.100.1.2', port: 80, cgroupPath: dir.cgroupPath }))[0]!.error, 'ECONNREFUSED');
  assert.equal(backend.peers.length, 1);
});

test('every backend gets connections, in proportion to its weight', async (t) => {
  const { dir, programmer } = setup(t);
  const backends = await Promise.all(['127.0.0.4', '127.0.0.5', '127.0.0.6'].map((host) => tcpBackend(host)));
  t.after(() => Promise.all(backends.map((backend) => backend.close())));
  programmer.reconcile([['default.test.web', lbService('web', '127.100.1.3', backends, { weights: [4, 1, 1] })]]);
  assert.equal(programmer.backendCount, 6);

  const results = await runClient({ host: '127.100.1.3', port: 80, count: 120, cgroupPath: dir.cgroupPath });
  assert.ok(results.every((result) => result.peer === '127.100.1.3:80'), JSON.stringify(results.find((result) => result.peer !== '127.100.1.3:80')));
  const counts = backends.map((backend) => backend.peers.length);
  assert.equal(counts.reduce((a, b) => a + b, 0), 120);
  assert.ok(counts.every((count) => count > 0), `all backends used: ${counts}`);
  assert.ok(counts[0]! > counts[1]! && counts[0]! > counts[2]!, `weight 4 gets more than weight 1: ${counts}`);
});

test('a restarted agent adopts the pinned maps: traffic flows in between and nothing is rewritten', async (t) => {
  const { dir, programmer } = setup(t);
  const backend = await tcpBackend('127.0.0.7');
  t.after(() => backend.close());
  const services: [string, LbService][] = [['default.test.web', lbService('web', '127.100.1.4', [backend])]];
  assert.ok(programmer.reconcile(services) > 0);
  programmer.close();
  assert.ok(existsSync(dir.idsFile));
  assert.match(readFileSync(dir.idsFile, 'utf8'), /^\+ \d+ 127\.100\.1\.4:80\/TCP$/m);

  // no agent at all: the cgroup keeps the programs, the pins keep the maps
  assert.equal((await runClient({ host: '127.100.1.4', port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `127.0.0.7:${backend.port}`);

  const restarted = new LbProgrammer(dir, quiet);
  t.after(() => restarted.close());
  const programs = restarted.install();
  assert.ok(programs.every((program) => program.replaced), 'new programs replaced the old ones in place');
  assert.equal(restarted.reconcile(services), 0, 'adoption writes nothing when the maps already match');
  assert.equal(restarted.serviceCount, 1);
  assert.equal((await runClient({ host: '127.100.1.4', port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `127.0.0.7:${backend.port}`);
  assert.equal(backend.peers.length, 2);
});

test('UDP: datagrams to the VIP reach the backend and replies come from the VIP', async (t) => {
  const { dir, programmer } = setup(t);
  const backend = await udpBackend('127.0.0.8');
  t.after(() => backend.close());
  programmer.reconcile([['default.test.dns', lbService('dns', '127.100.1.5', [backend], { protocol: 'UDP' })]]);
  const [result] = await runClient({ host: '127.100.1.5', port: 80, udp: true, cgroupPath: dir.cgroupPath });
  assert.deepEqual(result, { reply: `127.0.0.8:${backend.port}`, peer: '127.100.1.5:80' });
  assert.equal(backend.peers.length, 1);
});

test('l7Proxy: the VIP leads to the local proxy port on 127.0.0.1', async (t) => {
  const { dir, programmer } = setup(t);
  const proxy = await tcpBackend('127.0.0.1');
  const backend = await tcpBackend('127.0.0.9');
  t.after(() => Promise.all([proxy.close(), backend.close()]));
  programmer.reconcile([['default.test.web', lbService('web', '127.100.1.6', [backend], { l7Proxy: { port: proxy.port } })]]);
  assert.deepEqual((await runClient({ host: '127.100.1.6', port: 80, cgroupPath: dir.cgroupPath }))[0], { reply: `127.0.0.1:${proxy.port}`, peer: '127.100.1.6:80' });
  assert.equal(backend.peers.length, 0);
});

test('service ids survive a restart after incremental changes and a compaction of their log; the entry count follows every write', async (t) => {
  const { dir, programmer } = setup(t);
  const backend = await tcpBackend('127.0.0.10');
  t.after(() => backend.close());
  const vip = (i: number) => `127.100.${20 + (i >> 8)}.${i & 255}`;
  const service = (i: number): [string, LbService] => [`default.test.svc-${i}`, lbService(`svc-${i}`, vip(i), [backend])];
  const live = new Map<string, LbService>();
  programmer.reconcile([]);
  const compactionsBefore = programmer.idLogCompactions;
  // Services come and go one by one: each change appends to the log, and the churn compacts it.
  for (let i = 0; i < 1500; i++) {
    const [key, value] = service(i);
    live.set(key, value);
    programmer.apply([{ key, service: value }], () => [...live]);
    if (i % 3 !== 0) {
      live.delete(key);
      programmer.apply([{ key }], () => [...live]);
    }
  }
  assert.ok(programmer.idLogCompactions > compactionsBefore, 'the log was compacted');
  // one more change after the compaction, appended to the new log
  const [lastKey, lastValue] = service(2000);
  live.set(lastKey, lastValue);
  programmer.apply([{ key: lastKey, service: lastValue }], () => [...live]);
  const before = new Map(programmer.dump().flatMap((service) => service.frontends.map((frontend) => [frontend.frontend, frontend.serviceId] as const)));
  assert.equal(before.size, 501);
  // every key written is counted: one service entry and one backend slot per live service
  assert.equal(programmer.mapEntries(), 2 * live.size);
  programmer.close();

  // the ids on disk alone (no adoption yet) are those the kernel uses
  const restarted = new LbProgrammer(dir, quiet);
  t.after(() => restarted.close());
  for (const [frontend, id] of before) assert.equal(restarted.idOf(frontend), id, frontend);
  restarted.install();
  assert.equal(restarted.reconcile([...live]), 0, 'nothing to rewrite after the restart');
  assert.equal(restarted.mapEntries(), 2 * live.size);
  const [key, value] = service(1);
  restarted.apply([{ key, service: value }], () => [...live, [key, value]]);
  assert.equal((await runClient({ host: vip(2000), port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `127.0.0.10:${backend.port}`);
  assert.equal((await runClient({ host: vip(1), port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `127.0.0.10:${backend.port}`);
});
