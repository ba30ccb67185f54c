import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PinnedMap, UPDATE_NO_EXIST, cgroupProgramIds, installPrograms, mountBpffs, programsAttached, uninstallPrograms } from './index.js';

const object = fileURLToPath(new URL('../../../bpf/build/sock_lb.o', import.meta.url));
let counter = 0;

function scratch(): { pinRoot: string; cgroupPath: string; dispose(): void } {
  mountBpffs();
  const name = `tendril-test-${process.pid}-${++counter}`;
  const pinRoot = `/sys/fs/bpf/${name}`;
  const cgroupPath = `/sys/fs/cgroup/unified/${name}`;
  mkdirSync(cgroupPath);
  return {
    pinRoot,
    cgroupPath,
    dispose() {
      if (existsSync(cgroupPath)) rmdirSync(cgroupPath);
      rmSync(pinRoot, { recursive: true, force: true });
    },
  };
}

test('installs the programs on a cgroup with maps pinned by name, and a second install swaps them in place', (t) => {
  const dir = scratch();
  t.after(() => dir.dispose());
  const first = installPrograms({ objectPath: object, ...dir });
  assert.deepEqual(first.map((p) => p.section).sort(), [
    'cgroup/connect4',
    'cgroup/connect6',
    'cgroup/getpeername4',
    'cgroup/getpeername6',
    'cgroup/recvmsg4',
    'cgroup/recvmsg6',
    'cgroup/sendmsg4',
    'cgroup/sendmsg6',
    'sockops',
  ]);
  assert.ok(first.every((p) => !p.replaced));
  assert.ok(programsAttached(dir.cgroupPath, first));
  const pins = readdirSync(dir.pinRoot);
  for (const map of ['tendril_lb4_services_v2', 'tendril_lb4_backends_v1', 'tendril_lb4_revnat_v1', 'tendril_lb6_services_v1', 'tendril_lb_counters_v1']) assert.ok(pins.includes(map), `${map} pinned`);

  const services = PinnedMap.open(`${dir.pinRoot}/tendril_lb4_services_v2`);
  t.after(() => services.close());
  const key = Buffer.from([127, 100, 0, 1, 0, 80, 6, 0]);
  services.update(key, Buffer.alloc(20, 1));

  const second = installPrograms({ objectPath: object, ...dir });
  assert.ok(second.every((p) => p.replaced), 'old programs swapped out with BPF_F_REPLACE');
  for (const program of second) assert.deepEqual(cgroupProgramIds(dir.cgroupPath, program.attachType), [program.id]);
  assert.deepEqual(services.lookup(key), Buffer.alloc(20, 1), 'the reloaded object reused the pinned map and its contents');

  assert.equal(uninstallPrograms(dir.pinRoot, dir.cgroupPath).length, 9);
  for (const program of second) assert.deepEqual(cgroupProgramIds(dir.cgroupPath, program.attachType), []);
});

test('pinned map access: lookup, update flags, delete, keys', (t) => {
  const dir = scratch();
  t.after(() => dir.dispose());
  installPrograms({ objectPath: object, ...dir });
  const backends = PinnedMap.open(`${dir.pinRoot}/tendril_lb4_backends_v1`);
  t.after(() => backends.close());
  assert.equal(backends.name, 'tendril_lb4_backends_v1');
  assert.equal(backends.keySize, 8);
  assert.equal(backends.valueSize, 8);
  const keys = [0, 1, 2].map((slot) => Buffer.from([7, 0, 0, 0, slot, 0, 0, 0]));
  for (const key of keys) backends.update(key, Buffer.from([127, 0, 0, 2, 0x1f, 0x90, 6, 0]));
  assert.throws(() => backends.update(keys[0]!, Buffer.alloc(8), UPDATE_NO_EXIST), (error: Error & { errno?: number }) => error.errno === 17);
  assert.deepEqual(backends.keys().map((key) => key[4]).sort(), [0, 1, 2]);
  assert.equal(backends.delete(keys[1]!), true);
  assert.equal(backends.delete(keys[1]!), false);
  assert.equal(backends.lookup(keys[1]!), undefined);
  assert.equal(backends.entries().length, 2);
  assert.throws(() => backends.lookup(Buffer.alloc(3)), /key is 3 bytes, map wants 8/);
});

test('batch writes land in order and batch reads return every entry, also past one batch and for per-CPU maps', (t) => {
  const dir = scratch();
  t.after(() => dir.dispose());
  installPrograms({ objectPath: object, ...dir });
  const backends = PinnedMap.open(`${dir.pinRoot}/tendril_lb4_backends_v1`);
  t.after(() => backends.close());
  const key = (service: number, slot: number) => Buffer.from(new Uint32Array([service, slot]).buffer);
  const value = (octet: number) => Buffer.from([127, 0, 0, octet, 0x1f, 0x90, 6, 0]);
  // 3,000 entries: more than one lookup batch; the same key twice keeps the later value
  const written: [Buffer, Buffer][] = Array.from({ length: 3000 }, (_, index) => [key(1 + (index >> 8), index & 255), value(index % 250)]);
  written.push([key(1, 0), value(251)]);
  backends.updateBatch(written);
  const read = new Map(backends.entries().map(([k, v]) => [k.toString('hex'), v.toString('hex')]));
  assert.equal(read.size, 3000);
  assert.equal(read.get(key(1, 0).toString('hex')), value(251).toString('hex'));
  assert.equal(read.get(key(12, 183).toString('hex')), value(2999 % 250).toString('hex'));
  assert.deepEqual(read, new Map(backends.keys().map((k) => [k.toString('hex'), backends.lookup(k)!.toString('hex')])), 'batch read agrees with key-by-key reads');
  assert.throws(() => backends.updateBatch([[key(1, 0), value(1)]], UPDATE_NO_EXIST), (error: Error & { errno?: number }) => error.errno === 17, 'flags the batch cannot carry are honoured');
  assert.throws(() => backends.updateBatch([[Buffer.alloc(3), value(1)]]), /key is 3 bytes/);

  const counters = PinnedMap.open(`${dir.pinRoot}/tendril_lb_counters_v1`);
  t.after(() => counters.close());
  const cpus = possibleCpus();
  counters.updateBatch([1, 2].map((slot) => [key(9, slot), Buffer.alloc(8 * cpus, slot)] as const));
  assert.deepEqual(counters.perCpuEntries().map(([k, values]) => [k.readUInt32LE(4), values.length, values[0]![0]]).sort(), [[1, cpus, 1], [2, cpus, 2]]);
});

test('per-CPU maps read one value per possible CPU; beforeAttach runs with the maps pinned and nothing attached', (t) => {
  const dir = scratch();
  t.after(() => dir.dispose());
  let seen: string[] = [];
  installPrograms({
    objectPath: object,
    ...dir,
    beforeAttach: () => {
      seen = readdirSync(dir.pinRoot);
      assert.deepEqual(cgroupProgramIds(dir.cgroupPath, 11), [], 'connect4 not attached yet');
    },
  });
  assert.ok(seen.includes('tendril_lb_counters_v1'));
  const counters = PinnedMap.open(`${dir.pinRoot}/tendril_lb_counters_v1`);
  t.after(() => counters.close());
  assert.ok(counters.perCpu);
  const key = Buffer.from([1, 0, 0, 0, 2, 0, 0, 0]);
  const cpus = possibleCpus();
  const five = Buffer.alloc(8 * cpus);
  for (let cpu = 0; cpu < cpus; cpu++) five.writeBigUInt64LE(5n, cpu * 8);
  counters.update(key, five);
  const values = counters.perCpuValues(key)!;
  assert.equal(values.length, cpus);
  assert.deepEqual(values.map((value) => value.readBigUInt64LE(0)), values.map(() => 5n));
  assert.equal(counters.perCpuEntries().length, 1);
});

function possibleCpus(): number {
  return readFileSync('/sys/devices/system/cpu/possible', 'utf8')
    .trim()
    .split(',')
    .reduce((sum, range) => {
      const [first, last] = range.split('-').map(Number);
      return sum + (last === undefined ? 1 : last - first! + 1);
    }, 0);
}

test('a missing object file is reported with how to build it', () => {
  assert.throws(() => installPrograms({ objectPath: '/nonexistent.o', pinRoot: '/sys/fs/bpf/x', cgroupPath: '/sys/fs/cgroup/unified' }), /npx nx run bpf:build/);
});
