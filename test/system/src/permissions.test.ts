/**
 * NATS least privilege with the real nats-server and the users libs/contract defines: a service
 * writes the buckets it owns and nothing else, and reads only those of its table (bucketsReadBy):
 * every lookup, direct get, message get and consumer of another bucket is refused; the CLI user reads
 * but never writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, DeliverPolicy, connect, type NatsConnection } from 'nats';
import { BUCKETS, BUCKET_OWNERS, NATS_USERS, type NatsUser, bucketsReadBy } from '@tendril/contract';
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

  it('the translator creates and writes tendril-xds; the xds-server can read it but not write it', async () => {
    const translator = await as('translator');
    const xds = await translator.jetstream().views.kv(BUCKETS.xds, { history: 1 });
    await xds.put('cluster.YQ', new TextEncoder().encode('{}'));
    const reader = await as('xds-server');
    const readOnly = await reader.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    assert.equal((await readOnly.get('cluster.YQ'))?.operation, 'PUT');
    await assert.rejects(() => readOnly.put('cluster.YQ', new TextEncoder().encode('tampered')), /permission/i);
    assert.equal(new TextDecoder().decode((await xds.get('cluster.YQ'))!.value), '{}');
  });

  it('key material: tendril-secrets is read by the k8s-watcher and the translator alone, tendril-sds by the translator and the xds-server alone, tendril-ca by the translator alone', async () => {
    const encoder = new TextEncoder();
    const watcher = await as('k8s-watcher');
    await (await watcher.jetstream().views.kv(BUCKETS.secrets, { history: 1 })).put('default.secret.default.tls', encoder.encode('{"data":{"tls.key":"cHJpdmF0ZQ=="}}'));
    const translator = await as('translator');
    await (await translator.jetstream().views.kv(BUCKETS.sds, { history: 1 })).put('secret.bnMvY2VydA', encoder.encode('private key'));
    await (await translator.jetstream().views.kv(BUCKETS.ca, { history: 1 })).put('ca.active', encoder.encode('CA private key'));
    // the expected readers are spelled out here, not taken from the table the server's rules come from
    const readers: Record<string, NatsUser[]> = { [BUCKETS.secrets]: ['k8s-watcher', 'translator'], [BUCKETS.sds]: ['translator', 'xds-server'], [BUCKETS.ca]: ['translator'] };
    const keys: Record<string, string> = { [BUCKETS.secrets]: 'default.secret.default.tls', [BUCKETS.sds]: 'secret.bnMvY2VydA', [BUCKETS.ca]: 'ca.active' };
    for (const bucket of [BUCKETS.secrets, BUCKETS.sds, BUCKETS.ca]) {
      for (const user of NATS_USERS) {
        const nc = await as(user);
        const read = async () => {
          const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
          const entry = await kv.get(keys[bucket]!);
          const watched = await kv.keys();
          const listed: string[] = [];
          for await (const key of watched) listed.push(key);
          return { entry, listed };
        };
        if (readers[bucket]!.includes(user)) {
          const { entry, listed } = await read();
          assert.equal(entry?.operation, 'PUT', `${user} reads ${bucket}`);
          assert.deepEqual(listed, [keys[bucket]]);
        } else {
          await assert.rejects(read, /permission|timeout/i, `${user} must not read ${bucket}`);
        }
      }
    }
    // nobody but the writer writes them, the other reader included
    await assert.rejects(async () => (await translator.jetstream().views.kv(BUCKETS.secrets, { bindOnly: true })).put('default.secret.default.x', encoder.encode('{}')), /permission/i);
    const xdsServer = await as('xds-server');
    await assert.rejects(async () => (await xdsServer.jetstream().views.kv(BUCKETS.sds, { bindOnly: true })).put('secret.eA', encoder.encode('x')), /permission/i);
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

  describe('reads are per bucket: outside its table a user can neither get nor watch', () => {
    const encoder = new TextEncoder();
    const all = Object.values(BUCKETS);
    const denied = /permission|timeout/i;
    const request = (nc: NatsConnection, subject: string, body?: object) => nc.request(subject, body ? encoder.encode(JSON.stringify(body)) : new Uint8Array(), { timeout: 3000 });

    before(async () => {
      // every bucket exists and holds a key, written by its owner
      for (const [bucket, owner] of Object.entries(BUCKET_OWNERS) as [string, NatsUser][]) {
        const kv = await (await as(owner)).jetstream().views.kv(bucket, { history: 1 });
        await kv.put('a.b', encoder.encode('{"secret":"material"}'));
      }
      const translator = await as('translator');
      await (await translator.jetstream().views.kv(BUCKETS.leases, { history: 1 })).put('translator', encoder.encode('{}'));
    });

    for (const user of NATS_USERS) {
      it(`${user}: reads ${bucketsReadBy(user).join(', ') || 'no bucket'}, and nothing else`, async () => {
        const nc = await as(user);
        const readable = new Set(bucketsReadBy(user));
        for (const bucket of all) {
          const stream = `KV_${bucket}`;
          const key = bucket === BUCKETS.leases ? 'translator' : 'a.b';
          const lookups: [string, string, object?][] = [
            ['stream info', `$JS.API.STREAM.INFO.${stream}`],
            ['direct get', `$JS.API.DIRECT.GET.${stream}`, { last_by_subj: `$KV.${bucket}.${key}` }],
            ['direct get by subject', `$JS.API.DIRECT.GET.${stream}.$KV.${bucket}.${key}`],
            ['message get', `$JS.API.STREAM.MSG.GET.${stream}`, { last_by_subj: `$KV.${bucket}.${key}` }],
            ['consumer creation', `$JS.API.CONSUMER.CREATE.${stream}`, { stream_name: stream, config: { ack_policy: 'none', deliver_subject: `_INBOX.${user}.x`, inactive_threshold: 1e9 } }],
            ['filtered consumer creation', `$JS.API.CONSUMER.CREATE.${stream}.c-${user}.$KV.${bucket}.>`, { stream_name: stream, config: { name: `c-${user}`, ack_policy: 'none', deliver_subject: `_INBOX.${user}.y`, filter_subject: `$KV.${bucket}.>`, inactive_threshold: 1e9 } }],
          ];
          if (readable.has(bucket)) {
            // the same requests work for a reader: the refusals below are the permissions, not the requests
            for (const [what, subject, body] of lookups) {
              const reply = await request(nc, subject, body);
              const text = new TextDecoder().decode(reply.data);
              assert.ok(!reply.headers?.code && !/"error"/.test(text), `${user}: ${what} on ${bucket}: ${reply.headers?.code ?? ''} ${text.slice(0, 200)}`);
            }
            continue;
          }
          for (const [what, subject, body] of lookups) await assert.rejects(() => request(nc, subject, body), denied, `${user}: ${what} on ${bucket} must be refused`);
          await assert.rejects(async () => (await nc.jetstream().views.kv(bucket, { bindOnly: true })).get('a.b'), denied, `${user}: a KV get on ${bucket}`);
        }
      });
    }

    it('a push consumer delivering into another bucket\'s subject is refused on a stream the user does not read, and writes nothing where it may', async () => {
      const datapath = await as('datapath');
      // tendril-objects is not the datapath's: no consumer of it, whatever it delivers to
      await assert.rejects(
        () => request(datapath, `$JS.API.CONSUMER.CREATE.KV_${BUCKETS.objects}`, { stream_name: `KV_${BUCKETS.objects}`, config: { ack_policy: 'none', deliver_policy: 'all', deliver_subject: `$KV.${BUCKETS.lb}.a.b` } }),
        denied,
      );
      // on its own stream (tendril-lb), nats-server takes any deliver subject, but what it delivers is
      // not a publish of the user's: nothing lands in the bucket named
      const jsm = await datapath.jetstreamManager();
      const consumer = await jsm.consumers.add(`KV_${BUCKETS.lb}`, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, deliver_subject: `$KV.${BUCKETS.xds}.planted` });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const xds = await (await as('xds-server')).jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
      assert.equal(await xds.get('planted'), null);
      await jsm.consumers.delete(`KV_${BUCKETS.lb}`, consumer.name);
    });
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
