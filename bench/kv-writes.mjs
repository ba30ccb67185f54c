#!/usr/bin/env node
// Benchmark: KV puts through a window of writes in flight, as the watcher and the translator write
// (libs/platform KvValues over writeAll), with nats.js's own kv.put and with the platform's lean
// JetStream publisher (JsPublisher), against a real nats-server with file storage. Reports puts per
// second and this process's CPU per put; every bucket is checked to hold every key afterwards.
// Run: npm run build && node bench/kv-writes.mjs [puts=20000] [bytes=600]
import { loadavg } from 'node:os';
import { connect } from 'nats';
import { startNatsServer } from '@tendril/testing';
import { JsPublisher, KvValues, writeAll } from '@tendril/platform';

const count = Number(process.argv[2] ?? 20000);
const size = Number(process.argv[3] ?? 600);
const server = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
const nc = await connect({ servers: server.url });
const value = new Uint8Array(size).fill(65);
console.log(`KV writes: ${count} puts of ${size} B, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const [name, lean, window] of [['nats.js kv.put', false, 512], ['JsPublisher', true, 128], ['JsPublisher', true, 512], ['JsPublisher', true, 2048]]) {
  const bucket = `bench-${lean ? 'lean' : 'plain'}-${window}`;
  const kv = await nc.jetstream().views.kv(bucket, { history: 1 });
  const values = new KvValues(kv, { bucket, maxPayload: () => 8 << 20, ...(lean ? { publisher: new JsPublisher(() => nc) } : {}) });
  const started = performance.now();
  const cpu = process.cpuUsage();
  await writeAll(Array.from({ length: count }, (_, i) => i), (i) => values.put(`k.${i}`, value), window);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const held = (await kv.status()).values;
  if (held !== count) throw new Error(`${bucket} holds ${held} values, not ${count}`);
  console.log(`  ${name}, window ${window}: ${Math.round((count / ms) * 1000).toLocaleString('en-US')} puts/s, ${(((used.user + used.system) / count)).toFixed(1)} µs of client CPU per put`);
}
await nc.close();
await server.dispose();
console.log(`repeat: node bench/kv-writes.mjs ${count} ${size}`);
