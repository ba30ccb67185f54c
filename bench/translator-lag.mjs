#!/usr/bin/env node
// Benchmark: the translator process end to end, from a change written to KV `tendril-objects` to the
// generation marker in `tendril-xds` that makes it servable (translation, encoding, the writes of
// the batch, the marker). A real nats-server and the translator built in apps/translator/dist, on the
// translate-ingress mesh (bench/ingress-mesh.mjs): N Services (1 port, 3 endpoints each) and N/10 dedicated Ingresses. Single
// changes one at a time (each waits for the last marker): EndpointSlice changes and Ingress edits (a
// request-timeout annotation), each patched into the last output and published alone (patch/).
// Debounce hold-off 1 ms, so the figures are the translator's own work.
// Run: npm run build && node bench/translator-lag.mjs [services=1000] [changes=50]
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';
import { PER_INGRESS, ingressMesh, meshIngress, meshSlice } from './ingress-mesh.mjs';

const services = Number(process.argv[2] ?? 1000);
const changes = Number(process.argv[3] ?? 50);
const main = fileURLToPath(new URL('../apps/translator/dist/main.js', import.meta.url));
const encode = (object) => new TextEncoder().encode(JSON.stringify(object));
const slice = (i, generation) => meshSlice(i, 3, generation);
const ingress = (g, timeout) => meshIngress(g, services, { 'ingress.cilium.io/request-timeout': `${timeout}s` });

const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
const js = nc.jetstream();
const objects = await js.views.kv('tendril-objects', { history: 1 });
await js.views.kv('tendril-secrets', { history: 1 }); // the watcher creates both input buckets
const puts = [...ingressMesh(services, 3)];
for (let at = 0; at < puts.length; at += 500) await Promise.all(puts.slice(at, at + 500).map(([key, object]) => objects.put(key, encode(object))));

const port = await freePort();
const started = performance.now();
const translator = spawn(process.execPath, [main], {
  env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_CLUSTER: 'c', TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_DEBOUNCE_MS: '1', TENDRIL_PROXY_PORT_COUNT: '20000', TENDRIL_DATA_DIR: `/tmp/tendril-bench-${process.pid}` },
  stdio: ['ignore', 'pipe', 'ignore'],
});
// the translator's account of its cold start (replay, translation, writes)
let firstPublishLine = '';
translator.stdout.on('data', (chunk) => {
  const line = chunk.toString().split('\n').find((l) => l.includes('first publish done'));
  if (line) firstPublishLine = line.replace(/^.*first publish done: /, '');
});
const figure = async (name) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1));
};
try {
  await waitFor('first publish', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 300000, 50);
  const firstMs = performance.now() - started;
  const xds = await js.views.kv('tendril-xds', { bindOnly: true });
  let markers = 0;
  const watch = await xds.watch({ key: 'meta.generation', include: 'updates' });
  void (async () => {
    for await (const entry of watch) if (entry.operation === 'PUT') markers++;
  })();
  const lag = async (key, object) => {
    const before = markers;
    const start = performance.now();
    await objects.put(key, encode(object));
    await waitFor('marker', () => markers > before, 60000, 0.2);
    return performance.now() - start;
  };
  const sliceMs = [];
  const ingressMs = [];
  const patchedBefore = await figure('tendril_translations_patched');
  for (let n = 0; n < changes; n++) sliceMs.push(await lag(`c.endpointslice.default.svc-${(n * 7919) % services}-1`, slice((n * 7919) % services, n + 1)));
  const patched = (await figure('tendril_translations_patched')) - patchedBefore;
  const ingresses = Math.ceil(services / PER_INGRESS);
  const ingressBefore = await figure('tendril_translations_patched');
  for (let n = 0; n < changes; n++) ingressMs.push(await lag(`c.ingress.default.web-${(n * 31) % ingresses}`, ingress((n * 31) % ingresses, n + 2)));
  const ingressPatched = (await figure('tendril_translations_patched')) - ingressBefore;
  const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))];
  const rss = await figure('process_resident_memory_bytes');
  console.log(`translator-lag: ${services} Services x 3 endpoints, ${ingresses} Ingresses; first publish ${(firstMs / 1000).toFixed(1)} s after start; translator RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
  console.log(`  first publish: ${firstPublishLine}`);
  console.log(`  EndpointSlice change -> marker: p50 ${quantile(sliceMs, 0.5).toFixed(1)} ms, p90 ${quantile(sliceMs, 0.9).toFixed(1)} ms (${sliceMs.length} changes, ${patched} patched)`);
  console.log(`  Ingress edit -> marker:         p50 ${quantile(ingressMs, 0.5).toFixed(1)} ms, p90 ${quantile(ingressMs, 0.9).toFixed(1)} ms (${ingressMs.length} changes, ${ingressPatched} patched)`);
  console.log(`  on ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, node ${process.version}; repeat: node bench/translator-lag.mjs ${services} ${changes}`);
  watch.stop();
} finally {
  translator.kill('SIGTERM');
  await nc.close();
  await nats.dispose();
}
