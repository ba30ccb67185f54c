#!/usr/bin/env node
// Benchmark: N concurrent xDS streams (state of the world or delta) on one xds-server replica, each on
// its own HTTP/2 connection over loopback, each subscribed like an Envoy: CDS wildcard and EDS for every
// cluster. Then one endpoint change (one ClusterLoadAssignment) is published to KV R times; measured:
// the time from the KV write until each stream has received it (p50, p99, until the last), the bytes
// each stream received per change, and the server's memory per stream (RSS growth / N).
// The server is the real xds-server (dist/main.js) with a real nats-server; the clients run in W
// worker processes so their decoding does not slow the server down on the same event loop.
// Run: npm run build && node bench/xds-streams.mjs [streams=1000] [mode=delta|sotw] [clusters=100] [changes=5] [workers=4]
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const [streams = 1000, mode = 'delta', clusters = 100, changes = 5, workers = 4] = process.argv.slice(2).map((v, i) => (i === 1 ? v : Number(v)));

if (process.env.TENDRIL_BENCH_WORKER) await worker();
else await main();

async function main() {
  const { connect } = await import('nats');
  const { BUCKETS, XDS_GENERATION_KEY, generationDigest, xdsEnvelope, xdsGenerationCodec, xdsKey, xdsResourceCodec } = await import('@tendril/contract');
  const { encodeResource } = await import('@tendril/envoy');
  const { freePort, startNatsServer, waitFor } = await import('@tendril/testing');

  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const kv = await nc.jetstream().views.kv(BUCKETS.xds, { history: 1 });
  // the xds-server reads the SDS Secrets' bucket beside tendril-xds and waits until it exists (the translator makes both)
  await nc.jetstream().views.kv(BUCKETS.sds, { history: 1 });
  const batch = new Map();
  let generation = 0;
  const cluster = (name) => xdsEnvelope('cluster', name, encodeResource('cluster', { name, type: 'EDS', connectTimeout: '1s', edsClusterConfig: { edsConfig: { ads: {} } } }));
  const assignment = (name, port) =>
    xdsEnvelope('endpoint', name, encodeResource('endpoint', { clusterName: name, endpoints: [{ locality: {}, lbEndpoints: [1, 2, 3].map((e) => ({ endpoint: { address: { socketAddress: { address: `127.0.0.${e}`, portValue: port } } } })) }] }));
  const put = async (envelope) => {
    batch.set(xdsKey(envelope), envelope);
    await kv.put(xdsKey(envelope), xdsResourceCodec.encode(envelope));
  };
  const marker = async () => {
    const digest = generationDigest([...batch].map(([key, envelope]) => [key, envelope.hash]));
    await kv.put(XDS_GENERATION_KEY, xdsGenerationCodec.encode({ v: 1, generation: ++generation, digest, count: batch.size }));
  };
  const names = Array.from({ length: clusters }, (_, i) => `default/svc-${i}`);
  for (const name of names) {
    await put(cluster(name));
    await put(assignment(name, 8080));
  }
  await marker();

  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const server = spawn(process.execPath, [...(process.env.TENDRIL_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), process.env.TENDRIL_BENCH_SERVER ?? fileURLToPath(new URL('../apps/xds-server/dist/main.js', import.meta.url))], {
    env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_XDS_HOST: '127.0.0.1', TENDRIL_XDS_PORT: String(grpcPort), TENDRIL_XDS_DEBOUNCE_MS: '0', TENDRIL_LOG_LEVEL: 'warn', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor('xds-server ready', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok, 120000);
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) * 1024;
  // user + system CPU time of the server in ms (clock ticks of 10 ms): on a shared machine the
  // latencies move with the load, the CPU the server spends per change much less
  const cpuMs = () => {
    const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rssBefore = rss();

  // Workers connect their share of the streams and report when every stream has its first EDS.
  const children = [];
  const connectStart = performance.now();
  for (let w = 0; w < workers; w++) {
    const share = Math.floor(streams / workers) + (w < streams % workers ? 1 : 0);
    const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { execArgv: (process.env.TENDRIL_BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean), env: { ...process.env, TENDRIL_BENCH_WORKER: '1' }, stdio: 'inherit' });
    children.push(child);
    child.send({ kind: 'start', address: `127.0.0.1:${grpcPort}`, first: w * streams, count: share, mode, names });
  }
  const fromAll = (kind) => Promise.all(children.map((child) => new Promise((resolve) => child.on('message', function on(m) {
    if (m.kind === kind) {
      child.off('message', on);
      resolve(m);
    }
  }))));
  await fromAll('synced');
  const connectMs = performance.now() - connectStart;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rssAfter = rss();

  const latencies = [];
  const lastMs = [];
  const bytes = [];
  const cpuPerChange = [];
  for (let change = 1; change <= changes; change++) {
    const cpuBefore = cpuMs();
    const done = fromAll('changed');
    for (const child of children) child.send({ kind: 'arm' });
    await fromAll('armed');
    const t0 = performance.timeOrigin + performance.now(); if (process.env.TENDRIL_BENCH_DEBUG) console.error(`t0 ${t0.toFixed(1)}`);
    await put(assignment(names[0], 8080 + change));
    await marker();
    const reports = await done;
    const all = reports.flatMap((r) => r.arrivals.map((a) => a - t0));
    latencies.push(...all);
    lastMs.push(Math.max(...all));
    bytes.push(reports.reduce((sum, r) => sum + r.bytes, 0) / streams);
    // the ACKs and the proxy-state writes that follow the push belong to the change too
    await new Promise((resolve) => setTimeout(resolve, 1500));
    cpuPerChange.push(cpuMs() - cpuBefore);
  }
  for (const child of children) child.send({ kind: 'exit' });
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await nc.close();
  await nats.dispose();

  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`xds-streams: ${streams} ${mode} streams (CDS wildcard + EDS x ${clusters} clusters each), ${changes} single-endpoint changes, ${workers} client workers`);
  console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`connect + initial sync of all streams: ${connectMs.toFixed(0)} ms`);
  console.log(`KV write -> stream has the change: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, last stream (median over changes) ${median(lastMs).toFixed(1)} ms`);
  console.log(`server CPU per change (push, ACKs, proxy states; median): ${median(cpuPerChange).toFixed(0)} ms, ${((median(cpuPerChange) / streams) * 1000).toFixed(0)} µs per stream`);
  console.log(`bytes per change per stream: ${median(bytes).toFixed(0)}`);
  console.log(`server memory per stream: ${((rssAfter - rssBefore) / streams / 1024).toFixed(1)} KiB (RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB)`);
  console.log(`command: node bench/xds-streams.mjs ${streams} ${mode} ${clusters} ${changes} ${workers}`);
  process.exit(0);
}

async function worker() {
  const { XDS_TYPES } = await import('@tendril/contract');
  const { AdsTestClient, DeltaTestClient } = await import('@tendril/testing');
  const EDS = XDS_TYPES.endpoint;
  let clients = [];
  let arrivals;
  let bytesAtArm = 0;
  const now = () => performance.timeOrigin + performance.now();
  const totalBytes = () => clients.reduce((sum, c) => sum + c.bytesReceived, 0);
  process.on('message', (message) => {
    if (message.kind === 'start') {
      let synced = 0;
      for (let i = 0; i < message.count; i++) {
        const options = { nodeId: `bench-${message.first + i}`, nodeCluster: 'bench', decode: false };
        // One HTTP/2 connection per stream, as with real proxies.
        const channel = { 'grpc.use_local_subchannel_pool': 1 };
        const client = message.mode === 'sotw' ? new AdsTestClient(message.address, options, channel) : new DeltaTestClient(message.address, options, channel);
        let seen = false;
        client.onResponse = (response) => {
          if (response.typeUrl !== EDS) return;
          if (!seen) {
            seen = true;
            if (++synced === message.count) process.send({ kind: 'synced' });
            return;
          }
          if (arrivals && arrivals[i] === undefined) {
            arrivals[i] = now();
            if (++arrivals.count === message.count) {
              const list = Array.from({ length: message.count }, (_, k) => arrivals[k]);
              arrivals = undefined;
              process.send({ kind: 'changed', arrivals: list, bytes: totalBytes() - bytesAtArm });
            }
          }
        };
        client.subscribe(XDS_TYPES.cluster);
        client.subscribe(EDS, message.names);
        clients.push(client);
      }
    } else if (message.kind === 'exit') {
      for (const client of clients) client.close();
      process.exit(0);
    } else if (message.kind === 'arm') {
      arrivals = { count: 0 };
      bytesAtArm = totalBytes();
      process.send({ kind: 'armed' });
    }
  });
}
