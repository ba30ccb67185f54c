#!/usr/bin/env node
// Benchmark: the k8s-watcher in standalone mode, from a file change to the KV put. A real nats-server
// and the watcher process built in apps/k8s-watcher/dist, on a folder of N files of one Service each.
// Measures: cold start (process start -> /readyz 200 with N keys in tendril-objects), the latency of a
// single file edit (write -> a KV watcher sees the put; median and p99 of S edits, each to one file
// among N), and the watcher's RSS: with N files, after a file with a 5 MB object (refused), after a
// file with a 1.2 MiB object (accepted), and after both are removed again.
// Run: npm run build && node bench/k8s-watcher-folder.mjs [files=1000] [edits=100]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';

const count = Number(process.argv[2] ?? 1000);
const edits = Number(process.argv[3] ?? 100);
const main = fileURLToPath(new URL('../apps/k8s-watcher/dist/main.js', import.meta.url));
const service = (i, mark = '', blob = '') =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${i}\n  namespace: bench\n  annotations: {mark: "${mark}"${blob ? `, blob: "${blob}"` : ''}}\nspec:\n  clusterIP: 127.96.${(i >> 8) & 255}.${i & 255}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n`;
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

// the 1.2 MiB object needs a max_payload above nats-server's 1 MiB default
const nats = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-folder-'));
for (let i = 0; i < count; i++) writeFileSync(join(dir, `svc-${i}.yaml`), service(i));
const port = await freePort();
const started = performance.now();
const watcher = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []), main], {
  env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_MANIFESTS: dir, TENDRIL_MANIFESTS_DEBOUNCE_MS: '0', TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1' },
  stdio: 'ignore',
});
try {
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 600000, 20);
  const nc = await connect({ servers: nats.url });
  const kv = await nc.jetstream().views.kv('tendril-objects', { bindOnly: true });
  const keys = [];
  for await (const key of await kv.keys('default.service.bench.>')) keys.push(key);
  const coldMs = performance.now() - started;
  if (keys.length !== count) throw new Error(`ready with ${keys.length} of ${count} objects`);

  const seen = new Map();
  const watch = await kv.watch({ key: 'default.service.bench.>', include: 'updates' });
  void (async () => {
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      const mark = JSON.parse(new TextDecoder().decode(entry.value)).metadata.annotations?.mark;
      if (mark) seen.set(mark, performance.now());
    }
  })();
  const latencies = [];
  for (let e = 0; e < edits; e++) {
    const mark = `edit-${e}`;
    const i = (e * 7919) % count;
    const at = performance.now();
    writeFileSync(join(dir, `svc-${i}.yaml`), service(i, mark));
    await waitFor(mark, () => seen.has(mark), 60000, 1);
    latencies.push(seen.get(mark) - at);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(1);

  const settle = async () => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return rssMiB(watcher.pid).toFixed(0);
  };
  const rssLoaded = await settle();
  writeFileSync(join(dir, 'huge.yaml'), service(count, 'huge', 'h'.repeat(5 * 1024 * 1024)));
  await waitFor('5 MB object refused', async () => JSON.parse(new TextDecoder().decode((await nc.request('tendril.k8s-watcher.errors', new Uint8Array(), { timeout: 10000 })).data)).some((e) => /bytes as stored/.test(e.message)), 60000, 100);
  const rssHuge = await settle();
  writeFileSync(join(dir, 'large.yaml'), service(count + 1, 'large', 'l'.repeat(1.2 * 1024 * 1024)));
  await waitFor('1.2 MiB object put', () => seen.has('large'), 60000, 20);
  const rssLarge = await settle();
  rmSync(join(dir, 'huge.yaml'));
  rmSync(join(dir, 'large.yaml'));
  await waitFor('both removed', async () => (await kv.get(`default.service.bench.svc-${count + 1}`))?.operation !== 'PUT', 60000, 50);
  const rssRemoved = await settle();
  watch.stop();
  await nc.close();
  console.log(`k8s-watcher, standalone mode, ${count} files of one Service, on ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`cold start (process start -> ready, ${count} keys): ${(coldMs / 1000).toFixed(2)} s`);
  console.log(`one file edited among ${count}, write -> KV watcher: median ${pct(0.5)} ms, p99 ${pct(0.99)} ms (${edits} edits)`);
  console.log(`watcher RSS: ${rssLoaded} MiB with ${count} files; ${rssHuge} MiB after a 5 MB object (refused); ${rssLarge} MiB after a 1.2 MiB object (accepted); ${rssRemoved} MiB after both removed`);
  console.log(`repeat: node bench/k8s-watcher-folder.mjs ${count} ${edits}`);
} finally {
  watcher.kill('SIGTERM');
  await new Promise((resolve) => watcher.once('exit', resolve));
  await nats.dispose();
  rmSync(dir, { recursive: true, force: true });
}
