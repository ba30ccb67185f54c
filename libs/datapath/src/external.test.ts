import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LbBackend, LbService } from '@tendril/contract';
import { EXT_MAGLEV_SIZE, LbTable, SERVICE_FLAG_L7_REDIRECT, SERVICE_FLAG_LOCAL, lb4Backend, lb4BackendKey, lb4ServiceKey, lbExtMaglev, lbService, localEndpointCount, maglevSlot, type LbMap, type MapOp } from './index.js';

const backend = (address: string, nodeName: string, extra: Partial<LbBackend> = {}): LbBackend => ({ address, port: 8080, protocol: 'TCP', portName: 'http', weight: 1, state: 'active', nodeName, ...extra });

function web(backends: LbBackend[], extra: Partial<LbService> = {}): LbService {
  return {
    v: 1,
    cluster: 'default',
    namespace: 'shop',
    name: 'web',
    frontends: [
      { address: '198.19.0.10', port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' },
      { address: '0.0.0.0', port: 30080, protocol: 'TCP', portName: 'http', scope: 'NodePort' },
      { address: '198.19.1.1', port: 80, protocol: 'TCP', portName: 'http', scope: 'LoadBalancer' },
    ],
    backends,
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
    ...extra,
  };
}

/** Applies ops to plain maps (hex key -> value). */
function kernel(ops: MapOp[], maps = new Map<LbMap, Map<string, Uint8Array>>()): Map<LbMap, Map<string, Uint8Array>> {
  for (const op of ops) {
    const map = maps.get(op.map) ?? new Map<string, Uint8Array>();
    maps.set(op.map, map);
    if (op.op === 'update') map.set(Buffer.from(op.key).toString('hex'), op.value!);
    else map.delete(Buffer.from(op.key).toString('hex'));
  }
  return maps;
}

/** What the tc program would pick for each Maglev entry of an external frontend. */
function externalChoices(maps: Map<LbMap, Map<string, Uint8Array>>, address: string, port: number): { flags: number; backends: string[]; table: string[] } {
  const value = maps.get('external')?.get(Buffer.from(lb4ServiceKey.encode({ address, port, protocol: 'TCP' })).toString('hex'));
  assert.ok(value, `external ${address}:${port}`);
  const service = lbService.decode(value);
  const backends = Array.from({ length: service.count }, (_, slot) => lb4Backend.decode(maps.get('backends')!.get(Buffer.from(lb4BackendKey.encode({ serviceId: service.serviceId, slot })).toString('hex'))!).address);
  const table = maps.get('extMaglev')?.get(Buffer.from(maglevSlot.encode(service.serviceId)).toString('hex'));
  return { flags: service.flags, backends, table: table ? lbExtMaglev.decode(table).map((slot) => backends[slot]!) : [] };
}

test('NodePort and LoadBalancer frontends get external entries only with north-south on; ClusterIPs never', () => {
  const off = kernel(new LbTable().apply([{ key: 'k', service: web([backend('198.18.2.2', 'a')]) }]));
  assert.equal(off.get('external'), undefined);
  const on = kernel(new LbTable(undefined, { northSouth: true, nodeName: 'a' }).apply([{ key: 'k', service: web([backend('198.18.2.2', 'a')]) }]));
  assert.equal(on.get('external')!.size, 2);
  assert.deepEqual(externalChoices(on, '0.0.0.0', 30080).backends, ['198.18.2.2']);
  assert.equal(on.get('extMaglev')!.size, 2);
});

test('every node with the same backends has the same external Maglev table, whatever order the backends came in', () => {
  const all = ['198.18.2.2', '198.18.3.2', '198.18.4.2'].map((address) => backend(address, 'a'));
  const first = new LbTable(undefined, { northSouth: true, nodeName: 'a' });
  const one = kernel(first.apply([{ key: 'k', service: web(all) }]));
  const second = new LbTable(undefined, { northSouth: true, nodeName: 'b' });
  const two = kernel(second.apply([{ key: 'k', service: web([all[2]!]) }]));
  kernel(second.apply([{ key: 'k', service: web([all[2]!, all[0]!, all[1]!]) }]), two);
  const a = externalChoices(one, '198.19.1.1', 80).table;
  assert.equal(a.length, EXT_MAGLEV_SIZE);
  assert.deepEqual(externalChoices(two, '198.19.1.1', 80).table, a);
  // removing one backend moves its entries and (Maglev's promise) few others
  kernel(first.apply([{ key: 'k', service: web(all.slice(0, 2)) }]), one);
  const after = externalChoices(one, '198.19.1.1', 80).table;
  const moved = a.filter((address, entry) => address !== after[entry]);
  const removed = a.filter((address) => address === '198.18.4.2').length;
  assert.ok(!after.includes('198.18.4.2'));
  assert.ok(moved.length - removed < EXT_MAGLEV_SIZE * 0.1, `${moved.length - removed} entries of remaining backends moved`);
});

test('externalTrafficPolicy Local: only this node\'s ready backends, flagged so the client address is kept', () => {
  const service = web([backend('198.18.2.2', 'a'), backend('198.18.3.2', 'b'), backend('198.18.4.2', 'a', { state: 'terminating' })], { externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 });
  const maps = kernel(new LbTable(undefined, { northSouth: true, nodeName: 'a' }).apply([{ key: 'k', service }]));
  const choices = externalChoices(maps, '0.0.0.0', 30080);
  assert.equal(choices.flags, SERVICE_FLAG_LOCAL);
  assert.deepEqual(choices.backends, ['198.18.2.2']);
  assert.equal(localEndpointCount(service, 'a'), 1);
  assert.equal(localEndpointCount(service, 'b'), 1);
  assert.equal(localEndpointCount(service, 'c'), 0);
  const elsewhere = kernel(new LbTable(undefined, { northSouth: true, nodeName: 'c' }).apply([{ key: 'k', service }]));
  assert.deepEqual(externalChoices(elsewhere, '0.0.0.0', 30080).backends, [], 'no local backend: count 0, the program drops');
  // the ClusterIP keeps every backend
  const clusterIp = lbService.decode(elsewhere.get('services')!.get(Buffer.from(lb4ServiceKey.encode({ address: '198.19.0.10', port: 80, protocol: 'TCP' })).toString('hex'))!);
  assert.equal(clusterIp.count, 2);
});

test('an L7 service\'s external frontends lead to the node proxy port', () => {
  const maps = kernel(new LbTable(undefined, { northSouth: true }).apply([{ key: 'k', service: web([], { l7Proxy: { port: 10080, frontendPorts: { '30080': 10081 } } }) }]));
  const nodePort = lbService.decode(maps.get('external')!.get(Buffer.from(lb4ServiceKey.encode({ address: '0.0.0.0', port: 30080, protocol: 'TCP' })).toString('hex'))!);
  assert.equal(nodePort.flags, SERVICE_FLAG_L7_REDIRECT);
  assert.equal(nodePort.proxyPort, 10081);
  const balancer = lbService.decode(maps.get('external')!.get(Buffer.from(lb4ServiceKey.encode({ address: '198.19.1.1', port: 80, protocol: 'TCP' })).toString('hex'))!);
  assert.equal(balancer.proxyPort, 10080);
});

test('a restarted agent adopts the external entries as they are: no write when nothing changed', () => {
  const service = web([backend('198.18.2.2', 'a'), backend('198.18.3.2', 'a')]);
  const first = new LbTable(undefined, { northSouth: true, nodeName: 'a' });
  const maps = kernel(first.apply([{ key: 'k', service }]));
  const contents = Object.fromEntries(['services', 'backends', 'services6', 'backends6', 'maglev', 'external', 'extMaglev'].map((map) => [map, [...(maps.get(map as LbMap) ?? new Map<string, Uint8Array>())].map(([key, value]) => [Buffer.from(key, 'hex'), value])])) as never;
  const ops = new LbTable(undefined, { northSouth: true, nodeName: 'a' }).reconcile(contents, [['k', service]]);
  assert.deepEqual(ops.map((op) => op.describe), []);
});
