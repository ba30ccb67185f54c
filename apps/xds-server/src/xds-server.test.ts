import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, SUBJECTS, XDS_TYPES, type XdsProxyEvent, type XdsResourceEnvelope, nodeToken, proxyStateCodec, xdsEnvelope, xdsProxyEventCodec } from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import { AdsTestClient, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { TestXdsBucket, edsCluster, startXdsServer, type XdsServerProcess } from './testing/xds-process.js';

const CDS = XDS_TYPES.cluster;
const EDS = XDS_TYPES.endpoint;

const assignment = (name: string, port: number) =>
  xdsEnvelope('endpoint', name, encodeResource('endpoint', { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }] }));

describe('xds-server against a real nats-server', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let bucket: TestXdsBucket;
  let server: XdsServerProcess;
  let output = '';
  const events: XdsProxyEvent[] = [];
  const clients: AdsTestClient[] = [];

  const publish = (changes: { put?: XdsResourceEnvelope[]; remove?: XdsResourceEnvelope[] }, withMarker = true) => bucket.publish(changes, withMarker);
  const writeMarker = () => bucket.writeMarker();
  const client = (nodeId: string) => {
    const created = new AdsTestClient(server.address, { nodeId, nodeCluster: 'test' });
    clients.push(created);
    return created;
  };
  const proxyState = async (nodeId: string) => {
    const kv = await nc.jetstream().views.kv(BUCKETS.proxies, { bindOnly: true });
    const entry = await kv.get(nodeToken(nodeId));
    return entry?.value.length ? proxyStateCodec.decode(entry.value) : undefined;
  };
  const clusterNames = (r: { resources: Record<string, unknown>[] }) => r.resources.map((c) => c['name']).sort();

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    bucket = await TestXdsBucket.open(nc);
    const sub = nc.subscribe(SUBJECTS.xdsProxyAll);
    void (async () => {
      for await (const msg of sub) events.push(xdsProxyEventCodec.decode(msg.data));
    })();
    await publish({ put: [edsCluster('default/a'), assignment('default/a', 8081)] });
    server = await startXdsServer(nats.url, { onOutput: (d) => (output += d) });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
    await nc.close();
    await nats.dispose();
  });

  it('serves a cluster and its endpoints, records the ACK and publishes the events', async () => {
    const proxy = client('node-a');
    proxy.subscribe(CDS);
    const clusters = await proxy.waitFor(CDS, (r) => r.resources.length === 1);
    assert.deepEqual(clusters.resources[0], {
      '@type': CDS,
      name: 'default/a',
      type: 'EDS',
      connectTimeout: '1s',
      edsClusterConfig: { edsConfig: { ads: {} } },
    });
    proxy.subscribe(EDS, ['default/a']);
    const endpoints = await proxy.waitFor(EDS, (r) => r.resources.length === 1);
    assert.equal(endpoints.resources[0]!['clusterName'], 'default/a');
    const state = await waitFor('ACKs in tendril-proxies', async () => {
      const s = await proxyState('node-a');
      return s && s.types.length === 2 && s.types.every((t) => t.versionAcked !== '') ? s : undefined;
    });
    assert.equal(state.connected, true);
    assert.equal(state.nodeCluster, 'test');
    assert.deepEqual(state.types.map((t) => [t.typeUrl, t.versionAcked, t.subscribed]), [
      [CDS, clusters.versionInfo, []],
      [EDS, endpoints.versionInfo, ['default/a']],
    ]);
    await waitFor('connect and ack events', () => {
      const mine = events.filter((e) => e.nodeId === 'node-a');
      return mine.some((e) => e.event === 'connect') && mine.some((e) => e.event === 'ack' && e.typeUrl === EDS && e.version === endpoints.versionInfo);
    });
  });

  it('does not serve half a batch, and serves it once the marker matches', async () => {
    const proxy = client('node-b');
    proxy.subscribe(CDS);
    await proxy.waitFor(CDS, (r) => r.resources.length === 1);
    await publish({ put: [edsCluster('default/b')] }, false);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(proxy.responses.filter((r) => r.typeUrl === CDS).length, 1, 'a half-written batch reached the proxy');
    await writeMarker();
    const both = await proxy.waitFor(CDS, (r) => r.resources.length === 2);
    assert.deepEqual(clusterNames(both), ['default/a', 'default/b']);
  });

  it('removes deleted resources with the next marker', async () => {
    const proxy = client('node-c');
    proxy.subscribe(CDS);
    await proxy.waitFor(CDS, (r) => r.resources.length === 2);
    await publish({ remove: [edsCluster('default/b')] });
    const after = await proxy.waitFor(CDS, (r) => r.resources.length === 1);
    assert.deepEqual(clusterNames(after), ['default/a']);
  });

  it('records a NACK with its error and does not resend the rejected version', async () => {
    const proxy = client('node-d');
    proxy.subscribe(CDS);
    await proxy.waitFor(CDS, (r) => r.resources.length === 1);
    proxy.nack(CDS, 'cluster default/a: bad timeout');
    await publish({ put: [edsCluster('default/a', '2s')] });
    const rejected = await proxy.waitFor(CDS, (r) => !r.acked);
    const state = await waitFor('NACK in tendril-proxies', async () => (await proxyState('node-d'))?.types.find((t) => t.lastNack));
    assert.deepEqual(state.lastNack, { version: rejected.versionInfo, nonce: rejected.nonce, error: 'cluster default/a: bad timeout', resources: ['default/a'] });
    await waitFor('nack event naming the resource', () =>
      events.some((e) => e.nodeId === 'node-d' && e.event === 'nack' && e.error === 'cluster default/a: bad timeout' && e.resources?.join() === 'default/a'),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(proxy.responses.filter((r) => r.typeUrl === CDS && r.versionInfo === rejected.versionInfo).length, 1, 'the NACKed version was resent');
  });

  it('reports figures and a dump, and marks proxies disconnected on close', async () => {
    const metrics = await (await fetch(`${server.http}/metrics`)).text();
    assert.match(metrics, /tendril_resources_served\S* 2\b/);
    assert.match(metrics, /tendril_generation\S* 4\b/);
    assert.match(metrics, /tendril_xds_nacks\S* 1\b/);
    const dump = JSON.parse(new TextDecoder().decode((await nc.request('tendril.xds-server.dump', new Uint8Array(), { timeout: 3000 })).data));
    assert.equal(dump.snapshot.generation, 4);
    assert.deepEqual(dump.proxies.map((p: { nodeId: string }) => p.nodeId).sort(), ['node-a', 'node-b', 'node-c', 'node-d']);
    clients.find((c) => c === clients[0])!.close();
    const state = await waitFor('node-a disconnected', async () => ((await proxyState('node-a'))?.connected === false ? true : undefined));
    assert.equal(state, true);
    await waitFor('disconnect event', () => events.some((e) => e.nodeId === 'node-a' && e.event === 'disconnect'));
    assert.ok(!/error/i.test(output.replace(/NACKed/g, '')), output);
  });
});
