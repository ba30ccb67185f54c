/**
 * Secrets go only to a node that proved its id and needs them, with the real xds-server: a loopback
 * client of a loopback-bound xDS port, or a client certificate naming the node (mTLS with the node
 * check), is proven; a node is served only the Secrets its listeners and clusters refer to; anything
 * else it names is answered as absent, counted (tendril_xds_secrets_refused) and logged with the node
 * and the secret. State of the world and delta, over ADS and the per-type SDS services.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { XDS_TYPES } from '@tendril/contract';
import { typedDiscoveryServices } from '@tendril/envoy';
import { AdsTestClient, DeltaTestClient, makeTestCertificates, startNatsServer, waitFor, type TestCertificates, type TestNatsServer } from '@tendril/testing';
import { TestXdsBucket, edsCluster, genericSecret, startXdsServer, tlsListener, type XdsServerProcess } from './testing/xds-process.js';

const SDS = XDS_TYPES.secret;
const CDS = XDS_TYPES.cluster;
const sdsService = Object.values(typedDiscoveryServices).find((service) => service.typeUrl === SDS)!;

describe('xds-server: Secrets only to proven nodes whose config refers to them', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let certs: TestCertificates;
  const servers: XdsServerProcess[] = [];
  const clients: { close(): void }[] = [];
  let output = '';

  async function start(env: Record<string, string> = {}): Promise<XdsServerProcess> {
    const server = await startXdsServer(nats.url, { env, onOutput: (d) => (output += d) });
    servers.push(server);
    return server;
  }
  function track<T extends { close(): void }>(client: T): T {
    clients.push(client);
    return client;
  }
  const names = (r: { resources: ({ name: string } | Record<string, unknown>)[] }) => r.resources.map((x) => String(x['name' as keyof typeof x])).sort();
  async function refused(server: XdsServerProcess): Promise<number> {
    const text = await (await fetch(`${server.http}/metrics`)).text();
    return Number(/^tendril_xds_secrets_refused(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);
  }
  const mtls = () => grpc.credentials.createSsl(readFileSync(certs.ca), readFileSync(certs.clientKey), readFileSync(certs.clientCert));

  before(async () => {
    certs = makeTestCertificates();
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    const bucket = await TestXdsBucket.open(nc);
    await bucket.publish({
      put: [
        edsCluster('default/a'),
        // gw-1 (and the node "client", the test certificate's CN) serve cert-1; gw-2 serves cert-2
        tlsListener('ns/gw-1/443', ['ns/cert-1'], ['gw-1', 'client']),
        tlsListener('ns/gw-2/443', ['ns/cert-2'], ['gw-2']),
        genericSecret('ns/cert-1', 'private key one'),
        genericSecret('ns/cert-2', 'private key two'),
        genericSecret('ns/unused', 'nobody needs this'),
      ],
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const server of servers) await server.stop();
    await nc?.close();
    await nats?.dispose();
    certs?.dispose();
  });

  it('loopback: a node gets the secrets its listeners refer to; another node\'s, or an unused one, is absent and counted', async () => {
    const server = await start(); // the default: TENDRIL_XDS_HOST 127.0.0.1 (the harness sets it)
    assert.equal(await refused(server), 0);

    const sotw = track(new AdsTestClient(server.address, { nodeId: 'gw-1' }));
    sotw.subscribe(SDS, ['ns/cert-1', 'ns/cert-2', 'ns/unused']);
    const answer = await sotw.waitFor(SDS, (r) => r.resources.length > 0, 15000);
    assert.deepEqual(names(answer), ['ns/cert-1']);
    await waitFor('two refusals counted', async () => (await refused(server)) === 2, 10000);
    await waitFor('a log line names the node and each secret', () => /refused secret "ns\/cert-2" to node "gw-1"/.test(output) && /refused secret "ns\/unused" to node "gw-1"/.test(output), 10000);

    // a wildcard SDS subscription (delta, over ADS) gets the same one secret, and nothing is counted for it
    const delta = track(new DeltaTestClient(server.address, { nodeId: 'gw-1' }));
    delta.subscribe(SDS, ['*']);
    assert.deepEqual(names(await delta.waitFor(SDS, (r) => r.resources.length > 0, 15000)), ['ns/cert-1']);

    // delta, named: another node's secret is answered as removed (does not exist), as an unknown name is
    const other = track(new DeltaTestClient(server.address, { nodeId: 'gw-2' }));
    other.subscribe(SDS, ['ns/cert-1', 'ns/no-such-secret']);
    const removed = await other.waitFor(SDS, () => true, 15000);
    assert.deepEqual(removed.resources, []);
    assert.deepEqual([...removed.removedResources].sort(), ['ns/cert-1', 'ns/no-such-secret']);
    await waitFor('four refusals counted', async () => (await refused(server)) === 4, 10000);

    // the per-type SDS service (state of the world) follows the same rule
    const typed = track(new AdsTestClient(server.address, { nodeId: 'gw-2', service: sdsService }));
    typed.subscribe(SDS, ['ns/cert-2', 'ns/cert-1']);
    assert.deepEqual(names(await typed.waitFor(SDS, (r) => r.resources.length > 0, 15000)), ['ns/cert-2']);
    const typedDelta = track(new DeltaTestClient(server.address, { nodeId: 'gw-2', service: sdsService }));
    typedDelta.subscribe(SDS, ['ns/cert-2']);
    assert.deepEqual(names(await typedDelta.waitFor(SDS, () => true, 15000)), ['ns/cert-2']);
  });

  it('a node id claimed on a port that is not loopback-only, without a certificate naming it, gets no Secret at all', async () => {
    // bound on every interface: a client is no longer known to be local, even if it comes from loopback
    const server = await start({ TENDRIL_XDS_HOST: '0.0.0.0' });
    const claimed = track(new AdsTestClient(server.address, { nodeId: 'gw-1' }));
    claimed.subscribe(CDS);
    assert.deepEqual(names(await claimed.waitFor(CDS, (r) => r.resources.length > 0, 15000)), ['default/a'], 'other types are served');
    claimed.subscribe(SDS, ['ns/cert-1']);
    const answer = await claimed.waitFor(SDS, () => true, 15000);
    assert.deepEqual(answer.resources, [], 'its listener needs cert-1, but the node id is not proven');
    const delta = track(new DeltaTestClient(server.address, { nodeId: 'gw-1' }));
    delta.subscribe(SDS, ['*']);
    delta.subscribe(CDS);
    await delta.waitFor(CDS, () => true, 15000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(delta.responses.filter((r) => r.typeUrl === SDS && r.resources.length > 0), []);
    await waitFor('the refusal is counted', async () => (await refused(server)) === 1, 10000);
    assert.match(output, /refused secret "ns\/cert-1" to node "gw-1" \([^)]*\): the connection does not prove its node id/);
  });

  it('mTLS: the node named by its client certificate gets its secrets on any address; with one shared certificate (no node check), none', async () => {
    const tls = { TENDRIL_XDS_HOST: '0.0.0.0', TENDRIL_XDS_TLS_CERT: certs.serverCert, TENDRIL_XDS_TLS_KEY: certs.serverKey, TENDRIL_XDS_TLS_CA: certs.ca };
    const checked = await start(tls);
    const client = track(new AdsTestClient(checked.address, { nodeId: 'client', credentials: mtls() }));
    client.subscribe(SDS, ['ns/cert-1', 'ns/cert-2']);
    assert.deepEqual(names(await client.waitFor(SDS, (r) => r.resources.length > 0, 15000)), ['ns/cert-1']);
    await waitFor('cert-2 refused and counted', async () => (await refused(checked)) === 1, 10000);

    const shared = await start({ ...tls, TENDRIL_XDS_TLS_NODE_CHECK: 'false' });
    const unproven = track(new AdsTestClient(shared.address, { nodeId: 'client', credentials: mtls() }));
    unproven.subscribe(SDS, ['ns/cert-1']);
    assert.deepEqual((await unproven.waitFor(SDS, () => true, 15000)).resources, []);
  });
});
