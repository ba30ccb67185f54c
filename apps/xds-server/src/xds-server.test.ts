import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type KV, type NatsConnection } from 'nats';
import {
  BUCKETS,
  SUBJECTS,
  XDS_GENERATION_KEY,
  XDS_TYPES,
  type XdsProxyEvent,
  type XdsResourceEnvelope,
  generationDigest,
  nodeToken,
  proxyStateCodec,
  xdsEnvelope,
  xdsGenerationCodec,
  xdsKey,
  xdsProxyEventCodec,
  xdsResourceCodec,
} from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import { AdsTestClient, freePort, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const CDS = XDS_TYPES.cluster;
const EDS = XDS_TYPES.endpoint;

const cluster = (name: string, timeout = '1s') => xdsEnvelope('cluster', name, encodeResource('cluster', { name, type: 'EDS', connectTimeout: timeout, edsClusterConfig: { edsConfig: { ads: {} } } }));
const assignment = (name: string, port: number) =>
  xdsEnvelope('endpoint', name, encodeResource('endpoint', { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }] }));

describe('xds-server against a real nats-server', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let xdsKv: KV;
  let server: ChildProcess;
  let grpcPort: number;
  let httpPort: number;
  let output = '';
  let generation = 0;
  const batch = new Map<string, XdsResourceEnvelope>();
  const events: XdsProxyEvent[] = [];
  const clients: AdsTestClient[] = [];

  async function publish(changes: { put?: XdsResourceEnvelope[]; remove?: XdsResourceEnvelope[] }, withMarker = true): Promise<void> {
    for (const envelope of changes.put ?? []) {
      const key = xdsKey(envelope);
      batch.set(key, envelope);
      await xdsKv.put(key, xdsResourceCodec.encode(envelope));
    }
    for (const envelope of changes.remove ?? []) {
      const key = xdsKey(envelope);
      batch.delete(key);
      await xdsKv.delete(key);
    }
    if (withMarker) await writeMarker();
  }
  async function writeMarker(): Promise<void> {
    const digest = generationDigest([...batch].map(([key, envelope]) => [key, envelope.hash]));
    await xdsKv.put(XDS_GENERATION_KEY, xdsGenerationCodec.encode({ v: 1, generation: ++generation, digest, count: batch.size }));
  }
  const client = (nodeId: string) => {
    const created = new AdsTestClient(`127.0.0.1:${grpcPort}`, { nodeId, nodeCluster: 'test' });
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
    xdsKv = await nc.jetstream().views.kv(BUCKETS.xds, { history: 1 });
    const sub = nc.subscribe(SUBJECTS.xdsProxyAll);
    void (async () => {
      for await (const msg of sub) events.push(xdsProxyEventCodec.decode(msg.data));
    })();
    await publish({ put: [cluster('default/a'), assignment('default/a', 8081)] });
    [grpcPort, httpPort] = [await freePort(), await freePort()];
    server = spawn(process.execPath, [main], {
      env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_XDS_HOST: '127.0.0.1', TENDRIL_XDS_PORT: String(grpcPort), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (d) => (output += d));
    server.stderr!.on('data', (d) => (output += d));
    await waitFor('xds-server ready', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok, 20000);
  });

  after(async () => {
    for (const c of clients) c.close();
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
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
    await publish({ put: [cluster('default/b')] }, false);
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
    await publish({ remove: [cluster('default/b')] });
    const after = await proxy.waitFor(CDS, (r) => r.resources.length === 1);
    assert.deepEqual(clusterNames(after), ['default/a']);
  });

  it('records a NACK with its error and does not resend the rejected version', async () => {
    const proxy = client('node-d');
    proxy.subscribe(CDS);
    await proxy.waitFor(CDS, (r) => r.resources.length === 1);
    proxy.nack(CDS, 'cluster default/a: bad timeout');
    await publish({ put: [cluster('default/a', '2s')] });
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
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
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
