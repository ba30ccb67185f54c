/**
 * NATS least privilege with the real nats-server and the users libs/contract defines: a service
 * writes the buckets it owns and nothing else; the CLI user reads but never writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, type NatsUser } from '@tendril/contract';
import { startNatsServer, type TestNatsServer } from '@tendril/testing';

describe('NATS permissions per service', () => {
  let server: TestNatsServer;
  const open: NatsConnection[] = [];
  const as = async (user: NatsUser) => {
    const credentials = server.credentials![user];
    const nc = await connect({ servers: server.url, user: credentials.user, pass: credentials.password });
    open.push(nc);
    return nc;
  };

  before(async () => {
    server = await startNatsServer({ auth: true });
  });
  after(async () => {
    for (const nc of open) await nc.close();
    await server.dispose();
  });

  it('the translator creates and writes tendril-xds; the datapath can read it but not write it', async () => {
    const translator = await as('translator');
    const xds = await translator.jetstream().views.kv(BUCKETS.xds, { history: 1 });
    await xds.put('cluster.YQ', new TextEncoder().encode('{}'));
    const datapath = await as('datapath');
    const readOnly = await datapath.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    assert.equal((await readOnly.get('cluster.YQ'))?.operation, 'PUT');
    await assert.rejects(() => readOnly.put('cluster.YQ', new TextEncoder().encode('tampered')), /permission/i);
    assert.equal(new TextDecoder().decode((await xds.get('cluster.YQ'))!.value), '{}');
  });

  it('a service cannot create a bucket it does not own', async () => {
    const metrics = await as('metrics');
    await assert.rejects(() => metrics.jetstream().views.kv(BUCKETS.lb, { history: 1 }), /permission|timeout/i);
  });

  it('the cli user reads buckets but cannot write any', async () => {
    const watcher = await as('k8s-watcher');
    await (await watcher.jetstream().views.kv(BUCKETS.objects, { history: 1 })).put('default.service.default.a', new TextEncoder().encode('{}'));
    const cli = await as('cli');
    const objects = await cli.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
    assert.equal((await objects.get('default.service.default.a'))?.operation, 'PUT');
    await assert.rejects(() => objects.put('default.service.default.a', new TextEncoder().encode('x')), /permission/i);
  });

  it('only the datapath may publish flows', async () => {
    const metrics = await as('metrics');
    const seen: string[] = [];
    const subscription = metrics.subscribe('tendril.flows.>', { callback: (_error, msg) => seen.push(msg.subject) });
    await metrics.flush();
    const datapath = await as('datapath');
    const watcher = await as('k8s-watcher');
    datapath.publish('tendril.flows.bm9kZQ', new Uint8Array());
    watcher.publish('tendril.flows.Zm9yZ2Vk', new Uint8Array());
    await datapath.flush();
    await watcher.flush().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscription.unsubscribe();
    assert.deepEqual(seen, ['tendril.flows.bm9kZQ']);
  });
});
