#!/usr/bin/env node
// Benchmark: north-south NodePorts, a kube-proxy-shaped nftables ruleset (kube-proxy's nftables
// mode: a verdict map of node ports -> external-* -> service-* with numgen random -> endpoint-*
// with dnat, masquerade by mark) against the tc programs (bpf/nodeport.c), side by side: each on
// its own client / node / backend network namespaces (198.18.0.0/15), made and removed here.
// For each N (NodePort services, 2 endpoints each):
//   (a) one change (one endpoint of one service moved): nft -f of that endpoint chain (kube-proxy's
//       partial sync) vs one incremental plan written to the pinned maps; median of 11;
//   (b) first-packet latency: TCP connect() from the client namespace to the last service's
//       NodePort on the node (every connect a new flow: a new source port), p50 and p99 of K;
//   (c) full load: the whole ruleset into an empty table vs every service into empty maps.
// Needs root, nft, a build (npm run build, bpf/build/nodeport.o).
// Run: node bench/nodeport.mjs [services=1000,10000] [connects=200]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, rmdirSync, existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { uninstallTcPrograms } from '../libs/ebpf/dist/index.js';
import { LbProgrammer } from '../apps/datapath/dist/lb-programmer.js';
import { startServer, topology } from '../apps/datapath/dist/testing/netns.js';

const sizes = (process.argv[2] ?? '1000,10000').split(',').map(Number);
const connects = Number(process.argv[3] ?? 200);
const PORTS = [8080, 8081];
const FIRST_NODE_PORT = 10000;
const quiet = { log: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) };
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function nodePortService(i, backend, ports = PORTS) {
  return {
    v: 1,
    cluster: 'bench',
    namespace: 'default',
    name: `svc-${i}`,
    frontends: [{ address: '0.0.0.0', port: FIRST_NODE_PORT + i, protocol: 'TCP', portName: 'http', scope: 'NodePort' }],
    backends: ports.map((port) => ({ address: backend, port, protocol: 'TCP', portName: 'http', weight: 1, state: 'active', nodeName: 'bench' })),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
  };
}

/** kube-proxy's nftables mode, NodePort part, for N services. */
function kubeProxyRuleset(n, backend) {
  const lines = [
    'table ip kube-proxy {',
    '  chain mark-for-masquerade { meta mark set meta mark | 0x4000; }',
    '  chain masquerading { meta mark & 0x4000 == 0 return; meta mark set meta mark ^ 0x4000; masquerade fully-random; }',
    '  chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }',
    '  chain nat-postrouting { type nat hook postrouting priority srcnat; policy accept; jump masquerading; }',
  ];
  const elements = [];
  for (let i = 0; i < n; i++) {
    lines.push(`  chain external-${i} { jump mark-for-masquerade; goto service-${i}; }`);
    lines.push(`  chain service-${i} { numgen random mod 2 vmap { 0 : goto endpoint-${i}-0, 1 : goto endpoint-${i}-1 }; }`);
    PORTS.forEach((port, e) => lines.push(`  chain endpoint-${i}-${e} { meta l4proto tcp dnat to ${backend}:${port}; }`));
    elements.push(`tcp . ${FIRST_NODE_PORT + i} : goto external-${i}`);
  }
  lines.push(`  map service-nodeports { type inet_proto . inet_service : verdict; elements = { ${elements.join(', ')} }; }`);
  lines.push('  chain services { fib daddr type local meta l4proto . th dport vmap @service-nodeports; }');
  lines.push('}');
  return lines.join('\n');
}

const nft = (ns, input) => execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });

const CONNECTS = `
const [host, port, count] = process.argv.slice(1);
const net = require('node:net');
(async () => {
  const times = []; let failed = 0;
  for (let i = 0; i < Number(count); i++) {
    await new Promise((resolve) => {
      const start = process.hrtime.bigint();
      const s = net.connect({ host, port: Number(port) });
      const timer = setTimeout(() => { failed++; s.destroy(); resolve(); }, 5000);
      s.on('connect', () => { times.push(Number(process.hrtime.bigint() - start) / 1000); clearTimeout(timer); s.destroy(); resolve(); });
      s.on('error', () => { failed++; clearTimeout(timer); resolve(); });
    });
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)], failed }));
})();
`;

function firstPacket(ns, host, port) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CONNECTS, host, String(port), String(connects)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
  });
}

async function nftSide(n) {
  const net = topology(1);
  const servers = [];
  try {
    for (const port of PORTS) servers.push(await startServer(net.backends[0], `b${port}`, port));
    const backend = net.backendAddresses[0];
    const ruleset = kubeProxyRuleset(n, backend);
    let start = process.hrtime.bigint();
    nft(net.node, ruleset);
    const full = ms(start);
    const changes = [];
    for (let round = 0; round < 11; round++) {
      const port = round % 2 === 0 ? PORTS[0] : PORTS[1];
      start = process.hrtime.bigint();
      nft(net.node, `flush chain ip kube-proxy endpoint-${n - 1}-1\nadd rule ip kube-proxy endpoint-${n - 1}-1 meta l4proto tcp dnat to ${backend}:${port}\n`);
      changes.push(ms(start));
    }
    const latency = await firstPacket(net.client, net.nodeAddress, FIRST_NODE_PORT + n - 1);
    return { full, change: median(changes), latency };
  } finally {
    for (const server of servers) server.kill('SIGKILL');
    net.dispose();
  }
}

async function tcSide(n) {
  const net = topology(1);
  const name = `tendril-bench-np-${process.pid}-${n}`;
  const pinPath = `/sys/fs/bpf/${name}`;
  const cgroupPath = `/sys/fs/cgroup/unified/${name}`;
  const dataDir = `/tmp/${name}`;
  mkdirSync(cgroupPath, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const servers = [];
  const programmer = new LbProgrammer(
    {
      objectPath: new URL('../bpf/build/sock_lb.o', import.meta.url).pathname,
      pinPath,
      cgroupPath,
      idsFile: `${dataDir}/ids.log`,
      nodeName: 'bench',
      northSouth: { devices: net.devices, addresses: [], netnsPath: `/run/netns/${net.node}`, objectPath: new URL('../bpf/build/nodeport.o', import.meta.url).pathname },
    },
    quiet,
  );
  try {
    for (const port of PORTS) servers.push(await startServer(net.backends[0], `b${port}`, port));
    const backend = net.backendAddresses[0];
    programmer.install();
    const services = Array.from({ length: n }, (_, i) => [`bench.default.svc-${i}`, nodePortService(i, backend)]);
    let start = process.hrtime.bigint();
    programmer.reconcile(services);
    const full = ms(start);
    const changes = [];
    for (let round = 0; round < 11; round++) {
      const ports = round % 2 === 0 ? [PORTS[0], PORTS[0] + 2] : PORTS;
      start = process.hrtime.bigint();
      programmer.apply([{ key: `bench.default.svc-${n - 1}`, service: nodePortService(n - 1, backend, ports) }], () => services);
      changes.push(ms(start));
    }
    programmer.apply([{ key: `bench.default.svc-${n - 1}`, service: nodePortService(n - 1, backend) }], () => services);
    const latency = await firstPacket(net.client, net.nodeAddress, FIRST_NODE_PORT + n - 1);
    return { full, change: median(changes), latency };
  } finally {
    programmer.close();
    for (const server of servers) server.kill('SIGKILL');
    uninstallTcPrograms(pinPath);
    rmSync(pinPath, { recursive: true, force: true });
    if (existsSync(cgroupPath)) rmdirSync(cgroupPath);
    rmSync(dataDir, { recursive: true, force: true });
    net.dispose();
  }
}

console.log(`nodeport bench: ${cpus().length}x ${cpus()[0]?.model}, load average ${loadavg().map((value) => value.toFixed(2)).join(' ')} at start`);
console.log(`command: node bench/nodeport.mjs ${sizes.join(',')} ${connects}`);
for (const n of sizes) {
  const nftResult = await nftSide(n);
  const tcResult = await tcSide(n);
  const fmt = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(2));
  console.log(
    `N=${n}: (a) one change: nft ${fmt(nftResult.change)} ms vs tc ${fmt(tcResult.change)} ms; ` +
      `(b) first packet (connect) p50/p99: nft ${fmt(nftResult.latency.p50)}/${fmt(nftResult.latency.p99)} µs vs tc ${fmt(tcResult.latency.p50)}/${fmt(tcResult.latency.p99)} µs ` +
      `(failed ${nftResult.latency.failed} / ${tcResult.latency.failed} of ${connects}); (c) full load: nft ${fmt(nftResult.full)} ms vs tc ${fmt(tcResult.full)} ms`,
  );
}
console.log(`load average ${loadavg().map((value) => value.toFixed(2)).join(' ')} at the end`);
