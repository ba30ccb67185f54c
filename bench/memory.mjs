#!/usr/bin/env node
// Benchmark: resident memory (VmRSS) of each service and of nats-server, started as `npm start` and
// the system tests start them (a nats-server with JetStream and the contract's least-privilege users,
// the five services from apps/*/dist on free ports, a manifest folder), idle on one Service and again
// on N HTTPRoutes: one GatewayClass, one Gateway, and per route a Service (3 endpoints, own
// EndpointSlice) and an HTTPRoute with its own hostname, a path and a header match. RSS is read from
// /proc/<pid>/status once every service is ready and the xds-server serves the last generation, after a
// quiet period. Needs root (the datapath programs the kernel in a cgroup of the bench's own).
// Run: npm run build && node bench/memory.mjs [routes=1000] [settleMs=8000]
//   BENCH_HEAP_SNAPSHOT=<dir>: each service writes a heap snapshot there (SIGUSR2) at each measurement.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES } from '@tendril/contract';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';

const routes = Number(process.argv[2] ?? 1000);
const settleMs = Number(process.argv[3] ?? 8000);
const snapshots = process.env.BENCH_HEAP_SNAPSHOT;
const root = fileURLToPath(new URL('..', import.meta.url));

const manifests = mkdtempSync(join(tmpdir(), 'tendril-bench-manifests-'));
const dataDir = mkdtempSync(join(tmpdir(), 'tendril-bench-data-'));
const cgroup = `/sys/fs/cgroup/unified/tendril-bench-memory-${process.pid}`;
const pinPath = `/sys/fs/bpf/tendril-bench-memory-${process.pid}`;
mkdirSync(cgroup, { recursive: true });

const docs = (objects) => objects.map((o) => JSON.stringify(o)).join('\n---\n') + '\n';
const service = (name, i) => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { clusterIP: `127.96.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 8080 }] } },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'apps', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [0, 1, 2].map((e) => ({ addresses: [`127.97.${((i * 3 + e) >> 8) & 255}.${(i * 3 + e) & 255}`], conditions: { ready: true } })),
  },
];
const httpRoute = (i) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: `route-${i}`, namespace: 'apps' },
  spec: {
    parentRefs: [{ name: 'gateway', namespace: 'infra' }],
    hostnames: [`route-${i}.example.com`],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: `/route-${i}` }, headers: [{ name: 'x-tenant', value: `t${i % 7}` }] }], backendRefs: [{ name: `svc-${i}`, port: 8080 }] }],
  },
});
const namespaces = ['apps', 'infra'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));

/** Writes the manifest folder: the idle mesh (one Service), or N routes in files of 100 routes each. */
function writeManifests(count) {
  for (const file of readdirSync(manifests)) rmSync(join(manifests, file));
  writeFileSync(join(manifests, 'base.yaml'), docs([...namespaces, ...service('idle', 0)]));
  if (count === 0) return;
  writeFileSync(
    join(manifests, 'gateway.yaml'),
    docs([
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'cilium' }, spec: { controllerName: 'io.cilium/gateway-controller' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gateway', namespace: 'infra' }, spec: { gatewayClassName: 'cilium', listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }] } },
    ]),
  );
  for (let start = 0; start < count; start += 100) {
    const objects = [];
    for (let i = start; i < Math.min(count, start + 100); i++) objects.push(...service(`svc-${i}`, i + 1), httpRoute(i));
    writeFileSync(join(manifests, `routes-${String(start).padStart(6, '0')}.yaml`), docs(objects));
  }
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const natsPid = (storeDir) =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(storeDir);
      } catch {
        return false;
      }
    });

writeManifests(0);
const nats = await startNatsServer({ auth: true });
const xdsPort = await freePort();
const children = new Map();
for (const name of SERVICES) {
  const httpPort = await freePort();
  const credentials = nats.credentials[name];
  const execArgv = snapshots ? [`--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${snapshots}`] : [];
  const child = spawn(process.execPath, [...execArgv, join(root, 'apps', name, 'dist', 'main.js')], {
    cwd: root,
    env: {
      ...process.env,
      TENDRIL_NATS_URL: nats.url,
      TENDRIL_NATS_USER: credentials.user,
      TENDRIL_NATS_PASSWORD: credentials.password,
      TENDRIL_HTTP_HOST: '127.0.0.1',
      TENDRIL_HTTP_PORT: String(httpPort),
      TENDRIL_XDS_HOST: '127.0.0.1',
      TENDRIL_XDS_PORT: String(xdsPort),
      TENDRIL_ALS_HOST: '127.0.0.1',
      TENDRIL_ALS_PORT: '0',
      TENDRIL_MANIFESTS: manifests,
      TENDRIL_DATA_DIR: join(dataDir, name),
      TENDRIL_CGROUP_PATH: cgroup,
      TENDRIL_BPF_PIN_PATH: pinPath,
      TENDRIL_NODE_NAME: 'bench-memory',
      TENDRIL_LOG_LEVEL: 'warn',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.set(name, { child, httpPort });
}
if (snapshots) mkdirSync(snapshots, { recursive: true });

const readyz = async (port) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
const figure = async (name, metric) => {
  const text = await (await fetch(`http://127.0.0.1:${children.get(name).httpPort}/metrics`)).text();
  return Number(new RegExp(`^tendril_${metric}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
};

async function measure(label) {
  for (const [name, { httpPort }] of children) await waitFor(`${name} ready`, () => readyz(httpPort), 120000);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const row = { label };
  for (const [name, { child }] of children) row[name] = rssOf(child.pid);
  row['nats-server'] = rssOf(natsPid(nats.storeDir));
  row.core = row['k8s-watcher'] + row.translator + row['xds-server'] + row['nats-server'];
  if (snapshots) {
    for (const [, { child }] of children) child.kill('SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
  return row;
}

const rows = [await measure('idle (1 Service)')];
writeManifests(routes);
const resourcesBefore = await figure('xds-server', 'resources_served');
await waitFor('xds-server serves the routes', async () => (await figure('xds-server', 'resources_served')) >= resourcesBefore + routes * 2, 300000, 500);
rows.push(await measure(`${routes} HTTPRoutes`));

for (const [, { child }] of children) child.kill('SIGTERM');
await Promise.all([...children.values()].map(({ child }) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))));
await nats.dispose();
rmSync(manifests, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });
rmSync(pinPath, { recursive: true, force: true });
if (existsSync(cgroup)) rmdirSync(cgroup);

const columns = [...SERVICES, 'nats-server', 'core'];
console.log(`memory: VmRSS in MiB of each process, idle and with ${routes} HTTPRoutes (${settleMs} ms after ready); core = watcher + translator + xds-server + nats-server`);
console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(['state'.padEnd(18), ...columns.map((c) => c.padStart(12))].join(''));
for (const row of rows) console.log([row.label.padEnd(18), ...columns.map((c) => row[c].toFixed(0).padStart(12))].join(''));
console.log(`command: node bench/memory.mjs ${routes} ${settleMs}`);
process.exit(0);
