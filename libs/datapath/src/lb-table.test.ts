import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LbBackend, LbService } from '@tendril/contract';
import { LbTable, ServiceIds, lb4Backend, lb4BackendKey, lb4ServiceKey, lb6Backend, lb6ServiceKey, lbService, maglevSlot, type LbMap, type MapOp, type MapContents } from './index.js';

function backend(address: string, port = 8080, extra: Partial<LbBackend> = {}): LbBackend {
  return { address, port, protocol: 'TCP', portName: 'http', weight: 1, state: 'active', ...extra };
}

function service(name: string, vip: string, backends: LbBackend[], extra: Partial<LbService> = {}): LbService {
  return {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    name,
    frontends: [{ address: vip, port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' }],
    backends,
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
    ...extra,
  };
}

const MAPS: LbMap[] = ['services', 'backends', 'services6', 'backends6', 'maglev'];

/**
 * A fake kernel: applies ops to the maps, and checks after every op that no service entry points at
 * a missing slot and no Maglev entry of a live service at a missing one.
 */
class Kernel {
  readonly maps = new Map<LbMap, Map<string, Uint8Array>>(MAPS.map((map) => [map, new Map()]));
  dangling = 0;
  get services(): Map<string, Uint8Array> {
    return this.maps.get('services')!;
  }
  get backends(): Map<string, Uint8Array> {
    return this.maps.get('backends')!;
  }
  get size(): number {
    return [...this.maps.values()].reduce((total, map) => total + map.size, 0);
  }
  run(ops: MapOp[]): void {
    for (const op of ops) {
      const map = this.maps.get(op.map)!;
      const key = Buffer.from(op.key).toString('hex');
      if (op.op === 'update') map.set(key, op.value!);
      else map.delete(key);
      this.check();
    }
  }
  check(): void {
    for (const [services, backends] of [['services', 'backends'], ['services6', 'backends6']] as const) {
      for (const value of this.maps.get(services)!.values()) {
        const { serviceId, count, maglevSize } = lbService.decode(value);
        for (let slot = 0; slot < count; slot++) {
          if (!this.maps.get(backends)!.has(Buffer.from(lb4BackendKey.encode({ serviceId, slot })).toString('hex'))) this.dangling++;
        }
        for (let entry = 0; entry < maglevSize; entry += 97) {
          const held = this.maps.get('maglev')!.get(Buffer.from(lb4BackendKey.encode({ serviceId, slot: entry })).toString('hex'));
          if (!held || maglevSlot.decode(held) >= count) this.dangling++;
        }
      }
    }
  }
  contents(): MapContents {
    const decode = (map: Map<string, Uint8Array>) => [...map].map(([key, value]) => [Buffer.from(key, 'hex'), value] as [Uint8Array, Uint8Array]);
    return Object.fromEntries(MAPS.map((map) => [map, decode(this.maps.get(map)!)])) as MapContents;
  }
  backendsOf(vip: string, port = 80): string[] {
    const six = vip.includes(':');
    const value = this.maps.get(six ? 'services6' : 'services')!.get(Buffer.from((six ? lb6ServiceKey : lb4ServiceKey).encode({ address: vip, port, protocol: 'TCP' })).toString('hex'));
    if (!value) return [];
    const { serviceId, count } = lbService.decode(value);
    return Array.from({ length: count }, (_, slot) => {
      const found = (six ? lb6Backend : lb4Backend).decode(this.maps.get(six ? 'backends6' : 'backends')!.get(Buffer.from(lb4BackendKey.encode({ serviceId, slot })).toString('hex'))!);
      return `${found.address}:${found.port}`;
    });
  }
  /** Maglev: the backend each table entry leads to. */
  maglevOf(vip: string): string[] {
    const value = this.services.get(Buffer.from(lb4ServiceKey.encode({ address: vip, port: 80, protocol: 'TCP' })).toString('hex'));
    if (!value) return [];
    const { serviceId, maglevSize } = lbService.decode(value);
    const slots = this.backendsOf(vip);
    return Array.from({ length: maglevSize }, (_, entry) => slots[maglevSlot.decode(this.maps.get('maglev')!.get(Buffer.from(lb4BackendKey.encode({ serviceId, slot: entry })).toString('hex'))!)]!);
  }
}

test('a new service writes its backends before the service entry, and removal goes the other way', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  const add = table.apply([{ key: 'default.default.web', service: service('web', '127.100.0.1', [backend('127.0.0.2'), backend('127.0.0.3')]) }]);
  assert.deepEqual(add.map((op) => `${op.op} ${op.map}`), ['update backends', 'update backends', 'update services']);
  kernel.run(add);
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['127.0.0.2:8080', '127.0.0.3:8080']);
  const remove = table.apply([{ key: 'default.default.web' }]);
  assert.deepEqual(remove.map((op) => `${op.op} ${op.map}`), ['delete services', 'delete backends', 'delete backends']);
  kernel.run(remove);
  assert.equal(kernel.services.size + kernel.backends.size, 0);
  assert.equal(kernel.dangling, 0);
});

test('one changed backend among many costs one write, and other services are not touched', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  const many = Array.from({ length: 50 }, (_, i) => backend(`10.0.0.${i + 1}`));
  kernel.run(
    table.apply([
      { key: 'a', service: service('a', '127.100.0.1', many) },
      { key: 'b', service: service('b', '127.100.0.2', [backend('10.1.0.1')]) },
    ]),
  );
  const changed = many.map((b, i) => (i === 49 ? backend('10.0.0.200') : b));
  const ops = table.apply([{ key: 'a', service: service('a', '127.100.0.1', changed) }]);
  assert.equal(ops.length, 1, ops.map((op) => op.describe).join('\n'));
  assert.match(ops[0]!.describe, /127\.100\.0\.1:80\/TCP slot \d+ -> 10\.0\.0\.200:8080/);
  kernel.run(ops);
  assert.deepEqual(kernel.backendsOf('127.100.0.1').sort(), changed.map((b) => `${b.address}:8080`).sort());
  assert.deepEqual(kernel.backendsOf('127.100.0.2'), ['10.1.0.1:8080']);
  assert.equal(kernel.dangling, 0);
});

test('shrinking updates the count before deleting the slots; growing writes slots first', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1'), backend('10.0.0.2'), backend('10.0.0.3')]) }]));
  const shrink = table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1')]) }]);
  assert.deepEqual(shrink.map((op) => `${op.op} ${op.map}`), ['update services', 'delete backends', 'delete backends']);
  kernel.run(shrink);
  const grow = table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1'), backend('10.0.0.4')]) }]);
  assert.deepEqual(grow.map((op) => `${op.op} ${op.map}`), ['update backends', 'update services']);
  kernel.run(grow);
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['10.0.0.1:8080', '10.0.0.4:8080']);
  assert.equal(kernel.dangling, 0);
});

test('weights become slot repetitions; terminating backends only when no active one', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1', 80, { weight: 30 }), backend('10.0.0.2', 80, { weight: 10 }), backend('10.0.0.3', 80, { state: 'terminating' })]) }]));
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['10.0.0.1:80', '10.0.0.1:80', '10.0.0.1:80', '10.0.0.2:80']);
  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.3', 80, { state: 'terminating' }), backend('10.0.0.4', 80, { weight: 0 })]) }]));
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['10.0.0.3:80']);
});

test('no backend: the entry stays with count 0 (connect fails); l7Proxy leads to the local proxy port', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', []) }, { key: 'b', service: service('b', '127.100.0.2', [backend('10.0.0.1')], { l7Proxy: { port: 15001 } }) }]));
  const entries = [...kernel.services.values()].map((value) => lbService.decode(value)).sort((x, y) => x.serviceId - y.serviceId);
  const none = { algorithm: 'random', affinityTimeout: 0, maglevSize: 0 };
  assert.deepEqual(entries, [
    { serviceId: 1, count: 0, flags: 0, proxyPort: 0, ...none },
    { serviceId: 2, count: 0, flags: 1, proxyPort: 15001, ...none },
  ]);
  assert.equal(kernel.backends.size, 0);
  assert.deepEqual(table.dump()[1]!.frontends[0], { frontend: '127.100.0.2:80/TCP', serviceId: 2, algorithm: 'random', l7ProxyPort: 15001, backends: [] });
});

test('backends serve only the frontend with their port name, protocol and address family', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  const svc = service('a', '127.100.0.1', [backend('10.0.0.1'), backend('10.0.0.2', 9090, { portName: 'metrics' }), backend('fd00:0:0::0001')]);
  svc.frontends.push({ address: '127.100.0.1', port: 9090, protocol: 'TCP', portName: 'metrics', scope: 'ClusterIP' }, { address: 'FD00::10', port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' });
  const ops = table.apply([{ key: 'a', service: svc }]);
  assert.deepEqual(table.dump()[0]!.frontends.map((f) => [f.frontend, f.backends]), [
    ['127.100.0.1:80/TCP', ['10.0.0.1:8080']],
    ['127.100.0.1:9090/TCP', ['10.0.0.2:9090']],
    ['fd00::10:80/TCP', ['fd00::1:8080']],
  ]);
  assert.deepEqual(ops.map((op) => `${op.op} ${op.map}`), ['update backends', 'update backends', 'update backends6', 'update services', 'update services', 'update services6']);
  kernel.run(ops);
  assert.deepEqual(kernel.backendsOf('fd00::10'), ['fd00::1:8080']);
  kernel.run(table.apply([{ key: 'a' }]));
  assert.equal(kernel.size, 0);
  assert.equal(kernel.dangling, 0);
});

test('Maglev: the table is written before the service entry, shares entries evenly, and one backend less remaps only its own', () => {
  const table = new LbTable(new ServiceIds(), { maglevTableSize: 1021 });
  const kernel = new Kernel();
  const five = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map((address) => backend(address));
  const ops = table.apply([{ key: 'a', service: service('a', '127.100.0.1', five, { algorithm: 'maglev' }) }]);
  assert.equal(ops.filter((op) => op.map === 'maglev').length, 1021);
  assert.equal(ops.at(-1)!.map, 'services', 'the service entry comes last');
  kernel.run(ops);
  const before = kernel.maglevOf('127.100.0.1');
  const shares = five.map((b) => before.filter((entry) => entry === `${b.address}:8080`).length);
  assert.ok(shares.every((share) => Math.abs(share - 1021 / 5) < 1021 * 0.02), `even shares: ${shares}`);

  const four = table.apply([{ key: 'a', service: service('a', '127.100.0.1', five.slice(0, 4), { algorithm: 'maglev' }) }]);
  kernel.run(four);
  const after = kernel.maglevOf('127.100.0.1');
  const moved = before.filter((entry, index) => entry !== after[index]);
  assert.equal(moved.filter((entry) => entry === '10.0.0.5:8080').length, shares[4], 'every entry of the removed backend moved');
  assert.ok(moved.length < (1021 / 5) * 1.3, `about 1/5 of the table moved: ${moved.length}`);
  assert.ok(four.length < 1021 / 2, `a change rewrites part of the table, not all of it (${four.length} writes)`);
  assert.equal(kernel.dangling, 0);

  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', five.slice(0, 4)) }]));
  assert.equal(kernel.maps.get('maglev')!.size, 0, 'back to random: the table goes');
  assert.equal(kernel.dangling, 0);
});

test('affinity and Maglev table size come from the service and the table options', () => {
  const table = new LbTable(new ServiceIds(), { maglevTableSize: 251 });
  const kernel = new Kernel();
  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1')], { algorithm: 'maglev', affinity: { timeoutSeconds: 30 } }) }]));
  const [value] = [...kernel.services.values()].map((bytes) => lbService.decode(bytes));
  assert.deepEqual({ ...value, serviceId: 0 }, { serviceId: 0, count: 1, flags: 0, algorithm: 'maglev', proxyPort: 0, affinityTimeout: 30, maglevSize: 251 });
  assert.throws(() => new LbTable(new ServiceIds(), { maglevTableSize: 250 }).apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1')], { algorithm: 'maglev' }) }]), /not a prime/);
});

test('ids are stable, survive persistence, and a freed id is not reused within the same plan', () => {
  const table = new LbTable();
  table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1')]) }, { key: 'b', service: service('b', '127.100.0.2', [backend('10.0.0.2')]) }]);
  const swap = table.apply([{ key: 'a' }, { key: 'c', service: service('c', '127.100.0.3', [backend('10.0.0.3')]) }]);
  const ids = ServiceIds.fromJSON(JSON.parse(JSON.stringify(table.ids)));
  assert.equal(ids.get('127.100.0.2:80/TCP'), 2);
  assert.equal(ids.get('127.100.0.3:80/TCP'), 3, 'id 1 was still in use while c was written');
  assert.ok(swap.findIndex((op) => op.op === 'delete') > swap.findIndex((op) => op.describe.includes('127.100.0.3')));
  table.apply([{ key: 'd', service: service('d', '127.100.0.4', [backend('10.0.0.4')]) }]);
  assert.equal(table.ids.get('127.100.0.4:80/TCP'), 1, 'a freed id is reused by a later plan');
});

test('reconcile adopts what the kernel holds: identical entries are not rewritten, stale ones go', () => {
  const first = new LbTable();
  const kernel = new Kernel();
  const web = service('web', '127.100.0.1', [backend('10.0.0.1'), backend('10.0.0.2')]);
  kernel.run(first.apply([{ key: 'web', service: web }, { key: 'old', service: service('old', '127.100.0.9', [backend('10.0.0.9')]) }]));
  // a restarted agent that lost its id file
  const restarted = new LbTable();
  const ops = restarted.reconcile(kernel.contents(), [['web', web]]);
  assert.deepEqual(ops.map((op) => `${op.op} ${op.map}`), ['delete services', 'delete backends']);
  kernel.run(ops);
  assert.deepEqual(new LbTable().reconcile(kernel.contents(), [['web', web]]), [], 'a second adoption finds nothing to do');
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['10.0.0.1:8080', '10.0.0.2:8080']);
  assert.equal(restarted.ids.get('127.100.0.1:80/TCP'), first.ids.get('127.100.0.1:80/TCP'));
  assert.equal(restarted.serviceCount, 1);
  assert.equal(kernel.dangling, 0);
});

test('two services claiming one VIP: the last writer wins, and the loser leaving does not remove it', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  kernel.run(table.apply([{ key: 'a', service: service('a', '127.100.0.1', [backend('10.0.0.1')]) }]));
  kernel.run(table.apply([{ key: 'b', service: service('b', '127.100.0.1', [backend('10.0.0.2'), backend('10.0.0.3')]) }]));
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['10.0.0.2:8080', '10.0.0.3:8080']);
  kernel.run(table.apply([{ key: 'a' }]));
  assert.deepEqual(kernel.backendsOf('127.100.0.1'), ['10.0.0.2:8080', '10.0.0.3:8080']);
  assert.equal(kernel.dangling, 0);
});

test('a Gateway-style entry redirects each frontend port to its own proxy port; unlisted ports to the default', () => {
  const table = new LbTable();
  const kernel = new Kernel();
  const gateway = service('gw', '127.100.0.3', [], {
    frontends: [80, 8080, 443].map((port) => ({ address: '127.100.0.3', port, protocol: 'TCP' as const, portName: '', scope: 'LoadBalancer' as const })),
    l7Proxy: { port: 15000, frontendPorts: { '80': 15080, '8080': 15808 } },
  });
  kernel.run(table.apply([{ key: 'gw', service: gateway }]));
  const ports = Object.fromEntries(table.dump()[0]!.frontends.map((frontend) => [frontend.frontend, frontend.l7ProxyPort]));
  assert.deepEqual(ports, { '127.100.0.3:80/TCP': 15080, '127.100.0.3:8080/TCP': 15808, '127.100.0.3:443/TCP': 15000 });
  const proxyPorts = [...kernel.services.values()].map((value) => lbService.decode(value).proxyPort).sort((a, b) => a - b);
  assert.deepEqual(proxyPorts, [15000, 15080, 15808]);
});
