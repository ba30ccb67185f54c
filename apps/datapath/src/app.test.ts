import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, LB_GENERATION_KEY, SUBJECTS, flowEventCodec, lbGenerationCodec, lbKey, lbServiceCodec, type LbService } from '@tendril/contract';
import { startNatsServer, waitFor } from '@tendril/testing';
import { startAgent, stopAgent as stop } from './testing/agent.js';
import { runClient, scratch, tcpBackend, type Backend, type Scratch } from './testing/kernel.js';
import { lbService } from './testing/service.js';

const web = (backends: Backend[]): LbService => lbService('127.100.2.1', backends, { namespace: 'shop' });

async function reply(dir: Scratch): Promise<string | undefined> {
  const [result] = await runClient({ host: '127.100.2.1', port: 80, cgroupPath: dir.cgroupPath });
  return result!.reply ?? result!.error;
}

test('the agent programs tendril-lb into the kernel, follows changes, and survives its own restart', async (t) => {
  const dir = scratch();
  const nats = await startNatsServer();
  const [one, two] = await Promise.all([tcpBackend('127.0.1.1'), tcpBackend('127.0.1.2')]);
  const nc: NatsConnection = await connect({ servers: nats.url });
  const agents: ChildProcess[] = [];
  t.after(async () => {
    for (const agent of agents) await stop(agent);
    await nc.close();
    await nats.dispose();
    await Promise.all([one.close(), two.close()]);
    dir.dispose();
  });
  const kv = await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
  const key = lbKey({ cluster: 'default', namespace: 'shop', name: 'web' });
  await kv.put(key, lbServiceCodec.encode(web([one])));

  const first = await startAgent(dir, nats.url);
  agents.push(first.child);
  const readiness = (await (await fetch(`${first.http}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
  assert.deepEqual(Object.keys(readiness.checks).sort(), ['generation', 'lb-sync', 'nats', 'programs']);
  const flows = nc.subscribe(SUBJECTS.flows('node-a'), { max: 1, timeout: 5000 });
  assert.equal(await reply(dir), `127.0.1.1:${one.port}`, 'initial sync is in the kernel once ready');
  for await (const message of flows) {
    const flow = flowEventCodec.decode(message.data);
    assert.deepEqual([flow.serviceName, flow.verdict, flow.backend.port, flow.count], ['shop/web', 'translated', one.port, 1]);
  }

  await kv.put(key, lbServiceCodec.encode(web([two])));
  await waitFor('the update to reach the kernel', async () => (await reply(dir)) === `127.0.1.2:${two.port}`, 10000, 100);

  const dump = JSON.parse(new TextDecoder().decode((await nc.request(SUBJECTS.endpoint('datapath', 'dump'), new Uint8Array(), { timeout: 3000 })).data));
  assert.deepEqual(dump.services, [{ key, frontends: [{ frontend: '127.100.2.1:80/TCP', serviceId: 1, algorithm: 'random', backends: [`127.0.1.2:${two.port}`] }] }]);
  const metrics = await (await fetch(`${first.http}/metrics`)).text();
  assert.match(metrics, /^tendril_map_entries\{[^}]*\} 2$/m);
  assert.match(metrics, /^tendril_services_programmed\{[^}]*\} 1$/m);
  assert.match(metrics, /^tendril_backends_programmed\{[^}]*\} 1$/m);
  assert.match(metrics, /^tendril_sync_errors\{[^}]*\} 0$/m);
  assert.match(metrics, new RegExp(`^tendril_datapath_connections\\{[^}]*lb_service="${key}"[^}]*backend="127\\.0\\.1\\.2:${two.port}"[^}]*\\} [1-9]\\d*$`, 'm'), 'kernel counters become metrics');

  assert.equal(await stop(first.child), 0);
  assert.equal(await reply(dir), `127.0.1.2:${two.port}`, 'traffic flows while no agent runs');
  assert.ok(existsSync(dir.idsFile));

  // changes made while the agent was down are applied on adoption
  await kv.put(key, lbServiceCodec.encode(web([one])));
  const second = await startAgent(dir, nats.url);
  agents.push(second.child);
  assert.equal(await reply(dir), `127.0.1.1:${one.port}`);
  assert.match(second.log(), /\(replaced\)/);

  await kv.delete(key);
  await waitFor('the deletion to reach the kernel', async () => (await reply(dir)) === 'ECONNREFUSED', 10000, 100);
});

test('the agent reports the generation it applied: /readyz waits for the marker the translator wrote after the entries', async (t) => {
  const dir = scratch();
  const nats = await startNatsServer();
  const backend = await tcpBackend('127.0.1.3');
  const nc: NatsConnection = await connect({ servers: nats.url });
  const agents: ChildProcess[] = [];
  t.after(async () => {
    for (const agent of agents) await stop(agent);
    await nc.close();
    await nats.dispose();
    await backend.close();
    dir.dispose();
  });
  const kv = await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
  const key = lbKey({ cluster: 'default', namespace: 'shop', name: 'web' });
  const digest = (n: number) => n.toString(16).padStart(64, '0');
  await kv.put(key, lbServiceCodec.encode(web([backend])));
  await kv.put(LB_GENERATION_KEY, lbGenerationCodec.encode({ v: 1, generation: 4, digest: digest(4), count: 1 }));
  const agent = await startAgent(dir, nats.url);
  agents.push(agent.child);
  type Readyz = { ready: boolean; checks: Record<string, { ok: boolean; reason: string }> };
  const readyz = async () => (await (await fetch(`${agent.http}/readyz`)).json()) as Readyz;
  assert.match((await readyz()).checks['generation']!.reason, /^generation 4 in the maps \(1 services\)$/);
  const figures = async () => {
    const text = await (await fetch(`${agent.http}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^tendril_${name}\\{[^}]*\\} (-?\\d+)$`, 'm').exec(text)?.[1]);
    return { applied: value('generation_applied'), lag: value('generation_lag') };
  };
  assert.deepEqual(await figures(), { applied: 4, lag: 0 });
  assert.equal(await reply(dir), `127.0.1.3:${backend.port}`);

  // the next generation: entries first, then the marker; the agent follows to it
  await kv.delete(key);
  await kv.put(LB_GENERATION_KEY, lbGenerationCodec.encode({ v: 1, generation: 5, digest: digest(5), count: 0 }));
  await waitFor('generation 5 applied', async () => (await figures()).applied === 5, 10000, 100);
  assert.equal(await reply(dir), 'ECONNREFUSED', 'the entries before the marker are in the kernel');
  assert.equal((await readyz()).ready, true);
  assert.equal(agent.log().includes('lb service'), false, 'the marker is not taken for a service');
});
