/**
 * SDS Secrets live in tendril-sds, apart from the other resources in tendril-xds, with the real
 * xds-server: the generation marker in tendril-xds covers both buckets, so a generation whose
 * Secrets are not in tendril-sds yet is held back (the previous one keeps being served) until they are;
 * Secrets an older translator left in tendril-xds are still served until they are moved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, SUBJECTS, XDS_TYPES, xdsKey, xdsResourceCodec } from '@tendril/contract';
import { AdsTestClient, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { TestXdsBucket, edsCluster, genericSecret, startXdsServer, tlsListener, type XdsServerProcess } from './testing/xds-process.js';

const SDS = XDS_TYPES.secret;
const LDS = XDS_TYPES.listener;

describe('xds-server: SDS Secrets from tendril-sds', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let bucket: TestXdsBucket;
  let server: XdsServerProcess;
  const clients: { close(): void }[] = [];

  const dump = async () => JSON.parse(new TextDecoder().decode((await nc.request(SUBJECTS.endpoint('xds-server', 'dump'), new Uint8Array(), { timeout: 5000 })).data)) as { snapshot: { generation: number } | null; waitingFor: string };
  const names = (r: { resources: Record<string, unknown>[] }) => r.resources.map((x) => String(x['name'])).sort();

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    bucket = await TestXdsBucket.open(nc);
    await bucket.publish({ put: [edsCluster('default/a')] });
    server = await startXdsServer(nats.url);
  });

  after(async () => {
    for (const client of clients) client.close();
    await server?.stop();
    await nc?.close();
    await nats?.dispose();
  });

  it('a generation whose Secret is not in tendril-sds yet is not served; once it is, listener and Secret go out together', async () => {
    await waitFor('generation 1 served', async () => (await dump()).snapshot?.generation === 1, 30000);
    const secret = genericSecret('ns/cert', 'private key');
    // the listener and a marker counting the Secret, but the Secret itself not written yet
    await bucket.publish({ put: [tlsListener('ns/gw/443', ['ns/cert'])], counted: [secret] });
    const waiting = await waitFor('the xds-server holds generation 2 back', async () => {
      const state = await dump();
      return /generation 2: 2\/3 resources/.test(state.waitingFor) ? state : undefined;
    }, 30000);
    assert.equal(waiting.snapshot?.generation, 1, 'the previous generation is still the one served');
    const client = new AdsTestClient(server.address, { nodeId: 'gw' });
    clients.push(client);
    client.subscribe(LDS);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(client.responses.filter((r) => r.typeUrl === LDS && r.resources.length > 0), [], 'no listener without its Secret');

    await bucket.publish({ put: [secret] }, false);
    await waitFor('generation 2 served', async () => (await dump()).snapshot?.generation === 2, 30000);
    assert.deepEqual(names(await client.waitFor(LDS, (r) => r.resources.length > 0, 15000)), ['ns/gw/443']);
    client.subscribe(SDS, ['ns/cert']);
    assert.deepEqual(names(await client.waitFor(SDS, (r) => r.resources.length > 0, 15000)), ['ns/cert']);
    const stored = await (await nc.jetstream().views.kv(BUCKETS.xds, { bindOnly: true })).get(xdsKey(secret));
    assert.equal(stored, null, 'the Secret is not in tendril-xds');
  });

  it('a Secret an older translator left in tendril-xds is served until tendril-sds holds it', async () => {
    const legacy = genericSecret('ns/old', 'older key');
    const xds = await nc.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    // written where an older version wrote Secrets, and counted in the next marker
    await xds.put(xdsKey(legacy), xdsResourceCodec.encode(legacy));
    await bucket.publish({ put: [tlsListener('ns/gw-old/443', ['ns/old'])], counted: [legacy] });
    await waitFor('generation 3 served', async () => (await dump()).snapshot?.generation === 3, 30000);
    const client = new AdsTestClient(server.address, { nodeId: 'gw-old' });
    clients.push(client);
    client.subscribe(SDS, ['ns/old']);
    assert.deepEqual(names(await client.waitFor(SDS, (r) => r.resources.length > 0, 15000)), ['ns/old']);
  });
});
