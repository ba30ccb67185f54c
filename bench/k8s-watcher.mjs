#!/usr/bin/env node
// Benchmark: the k8s-watcher in Kubernetes mode, from watch event to KV put. A real nats-server, the
// list/watch test API server of libs/testing holding N Services, and the watcher process built in
// apps/k8s-watcher/dist. Measures: initial sync (start -> /readyz 200 with N keys in tendril-objects),
// a burst (every object changed at once -> all N puts seen by a KV watcher), and the latency of single
// changes (API write -> KV watcher sees it; median and p99 of S changes spaced 5 ms apart).
// Run: npm run build && node bench/k8s-watcher.mjs [objects=10000] [singles=300]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { freePort, startKubeApiServer, startNatsServer, waitFor } from '@tendril/testing';

const count = Number(process.argv[2] ?? 10000);
const singles = Number(process.argv[3] ?? 300);
const main = fileURLToPath(new URL('../apps/k8s-watcher/dist/main.js', import.meta.url));
const service = (i, labels = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `svc-${i}`, namespace: 'bench', labels },
  spec: { clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

const nats = await startNatsServer();
const api = await startKubeApiServer({ bookmarkIntervalMs: 5000 });
for (let i = 0; i < count; i++) api.create(service(i));
const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-'));
writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig());
const port = await freePort();
const started = performance.now();
const watcher = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []), main], {
  env: { ...process.env, TENDRIL_NATS_URL: nats.url, KUBECONFIG: join(dir, 'kubeconfig'), TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_LEASE_RETRY_MS: '200' },
  stdio: 'ignore',
});
try {
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 120000, 20);
  const syncMs = performance.now() - started;
  const nc = await connect({ servers: nats.url });
  const kv = await nc.jetstream().views.kv('tendril-objects', { bindOnly: true });
  const keys = [];
  for await (const key of await kv.keys('default.service.bench.>')) keys.push(key);
  if (keys.length !== count) throw new Error(`ready with ${keys.length} of ${count} objects`);

  // every put the watcher makes, with the arrival time of each label value
  const seen = new Map();
  const watch = await kv.watch({ key: 'default.service.bench.>', include: 'updates' });
  void (async () => {
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      const object = JSON.parse(new TextDecoder().decode(entry.value));
      const mark = object.metadata.labels?.mark;
      if (mark) seen.set(mark, performance.now());
    }
  })();

  const burstStart = performance.now();
  for (let i = 0; i < count; i++) api.update(service(i, { mark: `burst-${i}` }));
  await waitFor('burst mirrored', () => seen.has(`burst-${count - 1}`) && seen.size >= count, 120000, 5);
  const burstMs = performance.now() - burstStart;

  const latencies = [];
  for (let s = 0; s < singles; s++) {
    const mark = `single-${s}`;
    const at = performance.now();
    api.update(service(s % count, { mark }));
    await waitFor(mark, () => seen.has(mark), 10000, 1);
    latencies.push(seen.get(mark) - at);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(1);
  watch.stop();
  await nc.close();
  console.log(`k8s-watcher, Kubernetes mode, ${count} Services, on ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, node ${process.version}`);
  console.log(`initial sync (process start -> ready, ${count} keys): ${(syncMs / 1000).toFixed(2)} s`);
  console.log(`burst: ${count} watch events -> KV puts in ${burstMs.toFixed(0)} ms (${Math.round(count / (burstMs / 1000))} events/s)`);
  console.log(`single change, API write -> KV watcher: median ${pct(0.5)} ms, p99 ${pct(0.99)} ms (${singles} changes)`);
  console.log(`repeat: node bench/k8s-watcher.mjs ${count} ${singles}`);
} finally {
  watcher.kill('SIGTERM');
  await new Promise((resolve) => watcher.once('exit', resolve));
  await api.close();
  await nats.dispose();
  rmSync(dir, { recursive: true, force: true });
}
