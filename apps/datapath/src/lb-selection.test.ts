import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAP_NAMES, lb4Backend, lb4BackendKey, lb4Service, lb4ServiceKey, maglevSlot } from '@tendril/datapath-core';
import { PinnedMap } from '@tendril/ebpf';
import type { LbService } from '@tendril/contract';
import { LbProgrammer } from './lb-programmer.js';
import { runClient, scratch, tcpBackend, udpBackend, type Backend } from './testing/kernel.js';
import { lbService } from './testing/service.js';

const quiet = { log: () => undefined, warn: (message: string) => console.warn(message), error: (message: string) => console.error(message) };

function setup(t: { after(fn: () => unknown): void }, maglevTableSize?: number) {
  const dir = scratch();
  const programmer = new LbProgrammer({ ...dir, maglevTableSize }, quiet);
  t.after(() => {
    programmer.close();
    dir.dispose();
  });
  programmer.install();
  return { dir, programmer };
}

async function backendsOn(t: { after(fn: () => unknown): void }, hosts: string[]): Promise<Backend[]> {
  const backends = await Promise.all(hosts.map((host) => tcpBackend(host)));
  t.after(() => Promise.all(backends.map((backend) => backend.close())));
  return backends;
}

test('IPv6: TCP and UDP to a VIP in fd00::/8 reach backends on ::1, and the client sees the VIP', async (t) => {
  const { dir, programmer } = setup(t);
  const backends = await backendsOn(t, ['::1', '::1']);
  const dns = await udpBackend('::1');
  t.after(() => dns.close());
  programmer.reconcile([
    ['default.test.web', lbService('fd00:7e4d::10', backends)],
    ['default.test.dns', lbService('fd00:7e4d::0:53', [dns], { protocol: 'UDP' })],
  ]);

  const results = await runClient({ host: 'fd00:7e4d::10', port: 80, count: 40, cgroupPath: dir.cgroupPath });
  assert.ok(results.every((result) => result.peer === 'fd00:7e4d::10:80'), JSON.stringify(results[0]));
  assert.deepEqual(backends.map((backend) => backend.peers.length > 0), [true, true], 'both backends used');
  assert.equal(backends[0]!.peers.length + backends[1]!.peers.length, 40);

  const [udp] = await runClient({ host: 'fd00:7e4d::53', port: 80, udp: true, cgroupPath: dir.cgroupPath });
  assert.deepEqual(udp, { reply: `::1:${dns.port}`, peer: 'fd00:7e4d::53:80' });

  programmer.apply([{ key: 'default.test.web', service: lbService('fd00:7e4d::10', []) }], () => []);
  assert.equal((await runClient({ host: 'fd00:7e4d::10', port: 80, cgroupPath: dir.cgroupPath }))[0]!.error, 'ECONNREFUSED');

  const flows = programmer.takeFlows('node-a');
  const total = (verdict: string) => flows.filter((flow) => flow.verdict === verdict && flow.service.address === 'fd00:7e4d::10').reduce((sum, flow) => sum + flow.count, 0);
  assert.deepEqual([total('translated'), total('no-backend')], [40, 1], 'connect6 reports every connection (sendmsg6 does not)');
  assert.deepEqual(flows.filter((flow) => flow.verdict === 'translated').map((flow) => flow.backend).sort((a, b) => a.port - b.port), backends.map((backend) => ({ address: '::1', port: backend.port })).sort((a, b) => a.port - b.port));
});

test('Maglev: a client keeps its backend, and removing one of five backends moves about a fifth of the clients', async (t) => {
  const { dir, programmer } = setup(t, 4099);
  const backends = await backendsOn(t, ['127.0.5.1', '127.0.5.2', '127.0.5.3', '127.0.5.4', '127.0.5.5']);
  const clients = Array.from({ length: 150 }, (_, index) => `127.0.6.${index + 1}`);
  const service = (serving: Backend[]) => lbService('127.100.5.1', serving, { algorithm: 'maglev' });
  programmer.reconcile([['default.test.web', service(backends)]]);
  const chosen = async () => (await runClient({ host: '127.100.5.1', port: 80, cgroupPath: dir.cgroupPath, localAddresses: clients })).map((result) => result.reply);

  const first = await chosen();
  assert.deepEqual(await chosen(), first, 'the same client lands on the same backend every time');
  const load = backends.map((backend) => first.filter((reply) => reply === `${backend.host}:${backend.port}`).length);
  assert.ok(load.every((count) => count >= 10), `clients spread over all backends: ${load}`);

  const removed = `${backends[4]!.host}:${backends[4]!.port}`;
  programmer.apply([{ key: 'default.test.web', service: service(backends.slice(0, 4)) }], () => []);
  const after = await chosen();
  assert.ok(!after.includes(removed));
  const movedOthers = first.filter((reply, index) => reply !== removed && after[index] !== reply).length;
  assert.ok(movedOthers <= clients.length * 0.08, `${movedOthers} of ${clients.length} clients of the remaining backends moved`);
});

test('session affinity: a client keeps its backend until the timeout, then gets a new choice', async (t) => {
  const { dir, programmer } = setup(t);
  const backends = await backendsOn(t, ['127.0.7.1', '127.0.7.2', '127.0.7.3', '127.0.7.4']);
  programmer.reconcile([['default.test.web', lbService('127.100.7.1', backends, { affinity: { timeoutSeconds: 1 } })]]);

  // every unbound socket of this network namespace is one client
  const rounds: string[] = [];
  for (let round = 0; round < 6; round++) {
    if (round > 0) await sleep(1100);
    const replies = (await runClient({ host: '127.100.7.1', port: 80, count: 8, cgroupPath: dir.cgroupPath })).map((result) => result.reply!);
    assert.equal(new Set(replies).size, 1, `round ${round}: one backend within the timeout: ${replies}`);
    rounds.push(replies[0]!);
  }
  assert.ok(new Set(rounds).size > 1, `after each timeout the choice is made again: ${rounds}`);

  // clients with their own source address each keep theirs
  const clients = Array.from({ length: 24 }, (_, index) => `127.0.8.${index + 1}`);
  const replies = (await runClient({ host: '127.100.7.1', port: 80, count: 4, cgroupPath: dir.cgroupPath, localAddresses: clients })).map((result) => result.reply!);
  const perClient = clients.map((_, index) => new Set(replies.slice(index * 4, index * 4 + 4)).size);
  assert.ok(perClient.every((size) => size === 1), `each client stays: ${perClient}`);
  assert.ok(new Set(replies).size > 1, 'different clients get different backends');
});

test('per-CPU counters count connections per frontend and backend, and refusals', async (t) => {
  const { dir, programmer } = setup(t);
  const backends = await backendsOn(t, ['127.0.9.1', '127.0.9.2']);
  programmer.reconcile([
    ['default.test.web', lbService('127.100.9.1', backends)],
    ['default.test.empty', lbService('127.100.9.2', [])],
  ]);
  await runClient({ host: '127.100.9.1', port: 80, count: 30, cgroupPath: dir.cgroupPath });
  await runClient({ host: '127.100.9.2', port: 80, count: 3, cgroupPath: dir.cgroupPath });
  const counts = programmer.connectionCounts();
  const of = (backend: Backend) => counts.find((count) => count.backend === `${backend.host}:${backend.port}`)?.connections ?? 0;
  assert.deepEqual(backends.map(of), backends.map((backend) => backend.peers.length));
  assert.equal(of(backends[0]!) + of(backends[1]!), 30);
  assert.deepEqual(counts.find((count) => count.frontend === '127.100.9.2:80/TCP'), { service: 'default.test.empty', frontend: '127.100.9.2:80/TCP', backend: 'refused', connections: 3 });
});

test('an agent finding the v1 services map migrates it before its programs attach: no connection fails, ids are kept', async (t) => {
  const dir = scratch();
  t.after(() => dir.dispose());
  const [backend] = await backendsOn(t, ['127.0.10.1']);
  // what an agent of the v1 layout left behind: a service entry (id 7, one slot) and its slot
  mkdirSync(dir.pinPath, { recursive: true });
  const hex = (bytes: Uint8Array) => [...bytes].map((byte) => byte.toString(16).padStart(2, '0'));
  const create = (name: string, key: number, value: number, entries: number) =>
    execFileSync('bpftool', ['map', 'create', `${dir.pinPath}/${name}`, 'type', 'hash', 'key', String(key), 'value', String(value), 'entries', String(entries), 'name', name.slice(0, 15), 'flags', '1']);
  create('tendril_lb4_services_v1', 8, 12, 65536);
  create('tendril_lb4_backends_v1', 8, 8, 262144);
  const vip = { address: '127.100.10.1', port: 80, protocol: 'TCP' as const };
  execFileSync('bpftool', ['map', 'update', 'pinned', `${dir.pinPath}/tendril_lb4_services_v1`, 'key', 'hex', ...hex(lb4ServiceKey.encode(vip)), 'value', 'hex', ...hex(lb4Service.encode({ serviceId: 7, count: 1, flags: 0, proxyPort: 0 }))]);
  execFileSync('bpftool', ['map', 'update', 'pinned', `${dir.pinPath}/tendril_lb4_backends_v1`, 'key', 'hex', ...hex(lb4BackendKey.encode({ serviceId: 7, slot: 0 })), 'value', 'hex', ...hex(lb4Backend.encode({ address: backend!.host, port: backend!.port, protocol: 'TCP' }))]);

  const programmer = new LbProgrammer(dir, quiet);
  t.after(() => programmer.close());
  programmer.install();
  assert.ok(!existsSync(`${dir.pinPath}/tendril_lb4_services_v1`), 'the v1 map is unpinned');
  // before any reconcile: the migrated entry already carries traffic
  assert.equal((await runClient({ host: vip.address, port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `${backend!.host}:${backend!.port}`);
  assert.equal(programmer.reconcile([['default.test.web', lbService(vip.address, [backend!])]]), 0, 'the migrated entry is adopted as it is');
  assert.equal(programmer.dump()[0]!.frontends[0]!.serviceId, 7);
});

test('a full reconcile repairs drift: a lost service entry and a tampered Maglev entry are rewritten, nothing else', async (t) => {
  const { dir, programmer } = setup(t, 251);
  const [backend] = await backendsOn(t, ['127.0.11.1']);
  const services: [string, LbService][] = [['default.test.web', lbService('127.100.11.1', [backend!], { algorithm: 'maglev' })]];
  programmer.reconcile(services);
  const frontends = PinnedMap.open(`${dir.pinPath}/${MAP_NAMES.services}`);
  const maglev = PinnedMap.open(`${dir.pinPath}/${MAP_NAMES.maglev}`);
  t.after(() => [frontends, maglev].forEach((map) => map.close()));
  const [[tableKey]] = maglev.entries() as [Buffer, Buffer][];
  maglev.update(tableKey!, maglevSlot.encode(9));
  assert.ok(frontends.delete(lb4ServiceKey.encode({ address: '127.100.11.1', port: 80, protocol: 'TCP' })));
  assert.equal((await runClient({ host: '127.100.11.1', port: 80, cgroupPath: dir.cgroupPath }))[0]!.error, 'ECONNREFUSED', 'drifted: the VIP is not translated');

  assert.equal(programmer.reconcile(services), 2);
  assert.equal(maglevSlot.decode(maglev.lookup(tableKey!)!), 0);
  assert.equal((await runClient({ host: '127.100.11.1', port: 80, cgroupPath: dir.cgroupPath }))[0]!.reply, `${backend!.host}:${backend!.port}`);
  assert.equal(programmer.reconcile(services), 0);
});

test('IPv6 l7Proxy: the VIP leads to the node proxy on [::1]:<port>, and the client still sees the VIP', async (t) => {
  const { dir, programmer } = setup(t);
  const [proxy, backend] = await backendsOn(t, ['::1', '::1']);
  programmer.reconcile([['default.test.web', lbService('fd00:7e4d::80', [backend!], { l7Proxy: { port: proxy!.port } })]]);
  assert.deepEqual((await runClient({ host: 'fd00:7e4d::80', port: 80, cgroupPath: dir.cgroupPath }))[0], { reply: `::1:${proxy!.port}`, peer: 'fd00:7e4d::80:80' });
  assert.equal(backend!.peers.length, 0);
  assert.deepEqual(
    programmer.connectionCounts().map((count) => [count.frontend, count.backend, count.connections]),
    [['fd00:7e4d::80:80/TCP', 'l7-proxy', 1]],
  );
  const flows = programmer.takeFlows('node-a');
  assert.deepEqual(
    flows.map((flow) => [flow.verdict, flow.service.address, flow.backend.port, flow.source?.address, flow.count]),
    [['l7-redirect', 'fd00:7e4d::80', proxy!.port, '::1', 1]],
    'one flow, reported when the connection starts, with the source the kernel chose',
  );
});

test('flow events carry the caller address: a bound one, and for TCP the one the kernel chose', async (t) => {
  const { dir, programmer } = setup(t);
  const backends = await backendsOn(t, ['127.0.7.1']);
  programmer.reconcile([['default.test.web', lbService('127.100.7.1', backends)]]);
  await runClient({ host: '127.100.7.1', port: 80, count: 2, cgroupPath: dir.cgroupPath, localAddresses: ['127.0.7.50', '127.0.7.51'] });
  await runClient({ host: '127.100.7.1', port: 80, cgroupPath: dir.cgroupPath });
  const flows = programmer.takeFlows('node-a');
  const bySource = Object.fromEntries(flows.map((flow) => [flow.source?.address ?? 'none', flow.count]));
  assert.deepEqual(bySource, { '127.0.7.50': 2, '127.0.7.51': 2, '127.0.0.1': 1 }, 'an unbound socket gets its source from the route to 127.0.7.1');
  assert.ok(flows.every((flow) => flow.verdict === 'translated' && flow.service.address === '127.100.7.1' && flow.backend.port === backends[0]!.port));
});
