import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { BUCKETS, lbKey, lbServiceCodec, type LbService } from '@tendril/contract';
import { startNatsServer, waitFor } from '@tendril/testing';
import { spawnAgent, startAgent, stopAgent, type AgentProcess } from './testing/agent.js';
import { continuousClient, scratch, tcpBackend, type Backend, type ContinuousClient } from './testing/kernel.js';
import { lbService } from './testing/service.js';

const VIP = '127.100.9.1';

const web = (backends: Backend[]): LbService => lbService(VIP, backends, { namespace: 'shop' });

test('continuous connects to a VIP never fail while the agent is stopped, killed and restarted, and backends change meanwhile', { timeout: 180000 }, async (t) => {
  const dir = scratch();
  const nats = await startNatsServer();
  const backends = await Promise.all(['127.0.9.1', '127.0.9.2', '127.0.9.3', '127.0.9.4'].map((host) => tcpBackend(host)));
  const [a, b, c, d] = backends as [Backend, Backend, Backend, Backend];
  const nc = await connect({ servers: nats.url });
  const agents: AgentProcess[] = [];
  // the client stops first: the backends' close() waits for its connections
  const clients: ContinuousClient[] = [];
  t.after(async () => {
    for (const client of clients) await client.stop().catch(() => undefined);
    for (const agent of agents) await stopAgent(agent.child, 'SIGKILL');
    await nc.close();
    await nats.dispose();
    await Promise.all(backends.map((backend) => backend.close()));
    dir.dispose();
  });
  const kv = await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
  const key = lbKey({ cluster: 'default', namespace: 'shop', name: 'web' });
  const serve = (...serving: Backend[]) => kv.put(key, lbServiceCodec.encode(web(serving)));
  const name = (backend: Backend) => `${backend.host}:${backend.port}`;

  await serve(a, b);
  agents.push(await startAgent(dir, nats.url));
  const running = continuousClient({ host: VIP, port: 80, cgroupPath: dir.cgroupPath });
  clients.push(running);
  /** Waits for `count` more connections, and returns their replies. */
  const more = async (count: number, what: string) => {
    const from = running.results.length;
    await waitFor(`${count} more connections (${what})`, () => running.results.length >= from + count, 30000, 20);
    return running.results.slice(from).map((result) => result.reply ?? result.error);
  };
  /** Waits until the last `window` connections went only to `serving` (and to each of them). */
  const settlesOn = (what: string, ...serving: Backend[]) =>
    waitFor(
      what,
      () => {
        const recent = running.results.slice(-40).map((result) => result.reply ?? result.error);
        const wanted = new Set(serving.map(name));
        return recent.length === 40 && recent.every((reply) => wanted.has(reply!)) && serving.every((backend) => recent.includes(name(backend)));
      },
      30000,
      50,
    );

  await settlesOn('traffic to a and b', a, b);

  // SIGTERM: the agent exits, programs and maps stay; a change made meanwhile waits for the next agent
  assert.equal(await stopAgent(agents[0]!.child, 'SIGTERM'), 0);
  await more(30, 'no agent running');
  await serve(b, c);
  assert.ok((await more(30, 'no agent, b+c waiting in KV')).every((reply) => reply === name(a) || reply === name(b)), 'the maps keep serving what they held');

  // a new agent adopts the pinned maps while the backends change under it
  const second = await spawnAgent(dir, nats.url);
  agents.push(second);
  await serve(c, d);
  await second.ready();
  assert.match(second.log(), /\(replaced\)/, 'the programs were swapped in place');
  await settlesOn('traffic to c and d after adoption', c, d);

  // SIGKILL: no shutdown at all, then a change while down and another while the next agent starts
  assert.equal(await stopAgent(second.child, 'SIGKILL'), null);
  await serve(d);
  await more(30, 'agent killed');
  const third = await spawnAgent(dir, nats.url);
  agents.push(third);
  await more(10, 'third agent starting');
  await serve(a, d);
  await third.ready();
  await settlesOn('traffic to a and d after the kill', a, d);

  const stopped = await running.stop();
  const failed = stopped.filter((result) => result.reply === undefined);
  assert.deepEqual(failed, [], `${failed.length} of ${stopped.length} connections failed`);
  assert.ok(stopped.length >= 200, `${stopped.length} connections made`);
  // all four backends served in turn
  assert.deepEqual(new Set(stopped.map((result) => result.reply)), new Set(backends.map(name)));
});
