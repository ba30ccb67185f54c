#!/usr/bin/env node
// Benchmark: Tendril's socket-level BPF load balancer against a kube-proxy-shaped iptables ruleset
// (KUBE-SERVICES -> KUBE-SVC-* -> KUBE-SEP-*, statistic mode random, DNAT), side by side in a
// network namespace this script makes and removes. For each N (services, 2 endpoints each):
//   (a) one service change: iptables-restore of the whole nat table (kube-proxy's full sync; one
//       sample) vs one incremental LbTable plan written to the pinned maps (median of 21);
//   (b) connect() latency to the last service (median and p99 over K connects, client in the netns;
//       for Tendril also in a scratch cgroup with the programs attached);
//   (c) full load time: the ruleset from empty vs every service into empty maps; then a restarted
//       agent adopting the pinned maps (reads them back and plans; nothing to write);
// and the single-update cost with our maps alone at a larger N.
// Needs root, iptables (tools/setup.sh installs it), and a build: npm run build.
// Run: node bench/datapath.mjs [services=1000,5000,10000] [connects=300] [mapsOnlyN=100000]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LbProgrammer } from '../apps/datapath/dist/lb-programmer.js';

const sizes = (process.argv[2] ?? '1000,5000,10000').split(',').map(Number);
const connects = Number(process.argv[3] ?? 300);
const mapsOnly = Number(process.argv[4] ?? 100000);
const NS = `tendril-bench-${process.pid}`;
const BACKEND = '10.244.0.1';
const PORTS = [18080, 18081];
const quiet = { log: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) };

const vip = (i) => `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const inNs = (command, args, input) => execFileSync('ip', ['netns', 'exec', NS, command, ...args], { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

function lbService(i, ports = PORTS) {
  return {
    v: 1,
    cluster: 'bench',
    namespace: 'default',
    name: `svc-${i}`,
    frontends: [{ address: vip(i), port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' }],
    backends: ports.map((port) => ({ address: BACKEND, port, protocol: 'TCP', portName: 'http', weight: 1, state: 'active' })),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
  };
}

/** The nat table kube-proxy (iptables mode) writes for N services; `changed` gets other endpoints. */
function kubeProxyRules(n, changed = -1) {
  const chains = [':KUBE-SERVICES - [0:0]'];
  const rules = ['-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'];
  for (let i = 0; i < n; i++) {
    const svc = `KUBE-SVC-${i.toString(16).toUpperCase().padStart(16, '0')}`;
    const ports = i === changed ? [18080, 18080] : PORTS;
    chains.push(`:${svc} - [0:0]`);
    rules.push(`-A KUBE-SERVICES -d ${vip(i)}/32 -p tcp -m comment --comment "default/svc-${i}:http cluster IP" -m tcp --dport 80 -j ${svc}`);
    ports.forEach((port, e) => {
      const sep = `KUBE-SEP-${i.toString(16).toUpperCase().padStart(14, '0')}${e.toString().padStart(2, '0')}`;
      chains.push(`:${sep} - [0:0]`);
      rules.push(e < ports.length - 1 ? `-A ${svc} -m comment --comment "default/svc-${i}:http" -m statistic --mode random --probability ${(1 / (ports.length - e)).toFixed(11)} -j ${sep}` : `-A ${svc} -m comment --comment "default/svc-${i}:http" -j ${sep}`);
      rules.push(`-A ${sep} -p tcp -m comment --comment "default/svc-${i}:http" -m tcp -j DNAT --to-destination ${BACKEND}:${port}`);
    });
  }
  return `*nat\n:OUTPUT ACCEPT [0:0]\n${chains.join('\n')}\n${rules.join('\n')}\nCOMMIT\n`;
}

/** K connects to host:port from a child in the netns (and in cgroupPath when given): median and p99 in µs. */
function connectLatency(host, cgroupPath, port = 80) {
  const client = `
const net = require('node:net');
const [host, count, port] = process.argv.slice(1);
const out = [];
(async () => {
  for (let i = 0; i < Number(count); i++) {
    const start = process.hrtime.bigint();
    await new Promise((resolve, reject) => { const s = net.connect({ host, port: Number(port) }, () => { out.push(Number(process.hrtime.bigint() - start) / 1e3); s.destroy(); resolve(); }); s.on('error', reject); });
  }
  out.sort((a, b) => a - b);
  console.log(JSON.stringify({ p50: out[Math.floor(out.length / 2)], p99: out[Math.floor(out.length * 0.99)] }));
})().catch((e) => { console.error(e.message); process.exit(1); });`;
  // join the cgroup before entering the namespace: `ip netns exec` mounts a fresh /sys without it
  const enter = cgroupPath ? `echo $$ > ${cgroupPath}/cgroup.procs && ` : '';
  const node = JSON.stringify(process.execPath);
  const result = spawnSync('sh', ['-c', `${enter}exec ip netns exec ${NS} ${node} -e "$0" "$@"`, client, host, String(connects), String(port)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`client failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

function setupNamespace() {
  execFileSync('ip', ['netns', 'add', NS]);
  inNs('ip', ['link', 'set', 'lo', 'up']);
  // a veth pair inside the namespace carries the endpoint address and the route to the VIPs
  inNs('ip', ['link', 'add', 'vb0', 'type', 'veth', 'peer', 'name', 'vb1']);
  inNs('ip', ['addr', 'add', `${BACKEND}/16`, 'dev', 'vb0']);
  inNs('ip', ['link', 'set', 'vb0', 'up']);
  inNs('ip', ['link', 'set', 'vb1', 'up']);
  inNs('ip', ['route', 'add', '10.96.0.0/12', 'dev', 'vb0']);
  // the endpoints: one accept loop on both ports
  const server = `const net = require('node:net'); let up = 0; for (const port of [${PORTS}]) net.createServer((s) => s.destroy()).listen(port, '${BACKEND}', () => { if (++up === ${PORTS.length}) console.log('ready'); });`;
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', () => resolve(child)));
}

function scratchAgent() {
  const name = `tendril-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const cgroupPath = `/sys/fs/cgroup/unified/${name}`;
  const pinPath = `/sys/fs/bpf/${name}`;
  mkdirSync(cgroupPath);
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-bench-'));
  const config = { objectPath: new URL('../bpf/build/sock_lb.o', import.meta.url).pathname, pinPath, cgroupPath, idsFile: join(dataDir, 'ids.json') };
  const programmer = new LbProgrammer(config, quiet);
  programmer.install();
  return {
    programmer,
    cgroupPath,
    /** A second agent on the same pins: what a restarted datapath does (install, then adopt). */
    restarted() {
      const next = new LbProgrammer(config, quiet);
      next.install();
      return next;
    },
    dispose() {
      programmer.close();
      if (existsSync(cgroupPath)) rmdirSync(cgroupPath);
      rmSync(pinPath, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function ours(n) {
  const agent = scratchAgent();
  try {
    const services = Array.from({ length: n }, (_, i) => [`bench.default.svc-${i}`, lbService(i)]);
    let start = process.hrtime.bigint();
    agent.programmer.reconcile(services);
    const load = ms(start);
    const last = n - 1;
    // the median of 21 changes to the last service (back and forth between two endpoint sets)
    const times = [];
    let writes = 0;
    for (let round = 0; round < 21; round++) {
      start = process.hrtime.bigint();
      writes = agent.programmer.apply([{ key: `bench.default.svc-${last}`, service: lbService(last, round % 2 === 0 ? [18080, 18080] : PORTS) }], () => services);
      times.push(ms(start));
    }
    const update = times.sort((a, b) => a - b)[10];
    const latency = connectLatency(vip(last), agent.cgroupPath);
    // a restart: a new agent adopts the pinned maps (reads them back, plans, writes nothing)
    start = process.hrtime.bigint();
    const next = agent.restarted();
    const adoptWrites = next.reconcile(services);
    const adopt = ms(start);
    next.close();
    return { load, update, writes, latency, adopt, adoptWrites };
  } finally {
    agent.dispose();
  }
}

function iptables(n) {
  let start = process.hrtime.bigint();
  inNs('iptables-restore', ['--noflush'], kubeProxyRules(n));
  const load = ms(start);
  const changed = kubeProxyRules(n, n - 1);
  start = process.hrtime.bigint();
  inNs('iptables-restore', ['--noflush'], changed);
  const update = ms(start);
  const latency = connectLatency(vip(n - 1));
  inNs('iptables', ['-t', 'nat', '-F']);
  inNs('iptables', ['-t', 'nat', '-X']);
  return { load, update, latency, rules: changed.split('\n').filter((line) => line.startsWith('-A')).length };
}

const fmt = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(2));
let server;
try {
  server = await setupNamespace();
  const iptablesVersion = execFileSync('iptables', ['--version'], { encoding: 'utf8' }).trim();
  console.log(`datapath bench: ${cpus().length}x ${cpus()[0].model}, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${iptablesVersion}, node ${process.version}`);
  console.log(`services have 2 endpoints; connect() latency over ${connects} connects to the last service (µs, p50/p99)\n`);
  const direct = connectLatency(BACKEND, undefined, PORTS[0]);
  console.log(`baseline, straight to the endpoint (no VIP): ${fmt(direct.p50)} / ${fmt(direct.p99)} µs\n`);
  console.log('| N | rules | (a) one change: iptables-restore | (a) one change: maps (writes) | (b) connect: iptables | (b) connect: maps | (c) full load: iptables | (c) full load: maps | restart adoption: maps (writes) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const n of sizes) {
    const ipt = iptables(n);
    const bpf = ours(n);
    console.log(
      `| ${n} | ${ipt.rules} | ${fmt(ipt.update)} ms | ${fmt(bpf.update)} ms (${bpf.writes}) | ${fmt(ipt.latency.p50)} / ${fmt(ipt.latency.p99)} | ${fmt(bpf.latency.p50)} / ${fmt(bpf.latency.p99)} | ${fmt(ipt.load)} ms | ${fmt(bpf.load)} ms | ${fmt(bpf.adopt)} ms (${bpf.adoptWrites}) |`,
    );
  }
  if (mapsOnly > 0) {
    const big = ours(mapsOnly);
    console.log(`\nmaps only, N=${mapsOnly}: one change ${fmt(big.update)} ms (${big.writes} writes), full load ${fmt(big.load)} ms, connect ${fmt(big.latency.p50)} / ${fmt(big.latency.p99)} µs, restart adoption ${fmt(big.adopt)} ms (${big.adoptWrites} writes)`);
  }
  console.log(`\ncommand: node bench/datapath.mjs ${sizes.join(',')} ${connects} ${mapsOnly}`);
} finally {
  server?.kill();
  execFileSync('ip', ['netns', 'delete', NS]);
}
