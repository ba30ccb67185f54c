#!/usr/bin/env node
// Benchmark: what the datapath agent pays per Service added or removed on top of the map writes
// (its bookkeeping: the service id allocation on disk), and what the `map_entries` figure costs,
// with N services already programmed. For each N: the agent programs N services into fresh pinned
// maps, then adds and removes one more service 41 times; the figures are the medians of one add
// (LbProgrammer.apply: plan, 2 map writes, the ids persisted) and of one read of map_entries.
// Needs root (it loads the programs into a scratch cgroup) and a build: npm run build.
// Run: node bench/datapath-bookkeeping.mjs [services=1000,20000] [checkout=.]
// `checkout` names another built checkout of the repository to measure its agent (a before/after).
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';

const sizes = (process.argv[2] ?? '1000,20000').split(',').map(Number);
const checkout = resolve(process.argv[3] ?? new URL('..', import.meta.url).pathname);
const { LbProgrammer } = await import(pathToFileURL(join(checkout, 'apps/datapath/dist/lb-programmer.js')).href);
const quiet = { log: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) };
const ROUNDS = 41;

// VIPs in 198.18.0.0/15 (benchmarking addresses); nothing connects to them here
const vip = (i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

function lbService(i) {
  return {
    v: 1,
    cluster: 'bench',
    namespace: 'default',
    name: `svc-${i}`,
    frontends: [{ address: vip(i), port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' }],
    backends: [18080, 18081].map((port) => ({ address: '198.19.255.1', port, protocol: 'TCP', portName: 'http', weight: 1, state: 'active' })),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
  };
}

function measure(n) {
  const name = `tendril-bench-${process.pid}-${n}`;
  const cgroupPath = `/sys/fs/cgroup/unified/${name}`;
  const pinPath = `/sys/fs/bpf/${name}`;
  mkdirSync(cgroupPath);
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-bench-'));
  const programmer = new LbProgrammer({ objectPath: join(checkout, 'bpf/build/sock_lb.o'), pinPath, cgroupPath, idsFile: join(dataDir, 'service-ids') }, quiet);
  try {
    programmer.install();
    const services = Array.from({ length: n }, (_, i) => [`bench.default.svc-${i}`, lbService(i)]);
    programmer.reconcile(services);
    const adds = [];
    const removes = [];
    const counts = [];
    for (let round = 0; round < ROUNDS; round++) {
      const key = `bench.default.extra-${round}`;
      let start = process.hrtime.bigint();
      programmer.apply([{ key, service: lbService(n + round) }], () => services);
      adds.push(ms(start));
      start = process.hrtime.bigint();
      programmer.mapEntries();
      counts.push(ms(start));
      start = process.hrtime.bigint();
      programmer.apply([{ key }], () => services);
      removes.push(ms(start));
    }
    return { add: median(adds), remove: median(removes), count: median(counts), entries: programmer.mapEntries() };
  } finally {
    programmer.close();
    if (existsSync(cgroupPath)) rmdirSync(cgroupPath);
    rmSync(pinPath, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(3));
const commit = (() => {
  try {
    return execFileSync('git', ['-C', checkout, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
console.log(`datapath bookkeeping bench: ${cpus().length}x ${cpus()[0].model}, node ${process.version}, checkout ${checkout} (${commit}); medians of ${ROUNDS}\n`);
console.log('| N | one Service added | one Service removed | map_entries read | entries |');
console.log('|---|---|---|---|---|');
for (const n of sizes) {
  const result = measure(n);
  console.log(`| ${n} | ${fmt(result.add)} ms | ${fmt(result.remove)} ms | ${fmt(result.count)} ms | ${result.entries} |`);
}
console.log(`\ncommand: node bench/datapath-bookkeeping.mjs ${sizes.join(',')} ${process.argv[3] ?? ''}`.trimEnd());
