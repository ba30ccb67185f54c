/**
 * TLS on the xDS port with real certificates made by openssl: with TENDRIL_XDS_TLS_CA a client needs a
 * certificate signed by that CA, and may claim only a node id its certificate names; without a CA the
 * port is TLS only. (@grpc/grpc-js-xds 1.14 knows only `insecure` and `google_default` channel
 * credentials in its bootstrap, so raw grpc-js clients stand in for proxyless ones here.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { XDS_TYPES, xdsEnvelope } from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import { AdsTestClient, DeltaTestClient, makeTestCertificates, startNatsServer, waitFor, type TestCertificates, type TestNatsServer } from '@tendril/testing';
import { TestXdsBucket, edsCluster, startXdsServer, tlsListener, xdsServerMain, type XdsServerProcess } from './testing/xds-process.js';

const CDS = XDS_TYPES.cluster;
const SDS = XDS_TYPES.secret;

describe('xds-server: TLS and mTLS on the xDS port', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let certs: TestCertificates;
  const servers: XdsServerProcess[] = [];
  const clients: { close(): void }[] = [];
  let output = '';

  async function startServer(env: Record<string, string>): Promise<number> {
    const server = await startXdsServer(nats.url, { env, onOutput: (d) => (output += d) });
    servers.push(server);
    return server.grpcPort;
  }
  const tls = (withClientCertificate: boolean) =>
    grpc.credentials.createSsl(readFileSync(certs.ca), withClientCertificate ? readFileSync(certs.clientKey) : null, withClientCertificate ? readFileSync(certs.clientCert) : null);
  function ads(port: number, nodeId: string, credentials?: grpc.ChannelCredentials): AdsTestClient {
    const client = new AdsTestClient(`127.0.0.1:${port}`, { nodeId, ...(credentials ? { credentials } : {}) });
    clients.push(client);
    return client;
  }
  async function refused(client: AdsTestClient | DeltaTestClient): Promise<Error> {
    return waitFor('the stream refused', () => client.streamError, 10000);
  }

  before(async () => {
    certs = makeTestCertificates();
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    const bucket = await TestXdsBucket.open(nc);
    await bucket.publish({
      put: [
        edsCluster('default/a'),
        // Only the node named "client" (the client certificate's CN) may have this one.
        xdsEnvelope('secret', 'gw/cert', encodeResource('secret', { name: 'gw/cert', genericSecret: { secret: { inlineString: 'for client only' } } }), { nodeIds: ['client'] }),
        // ... and it needs it: its listener serves that certificate
        tlsListener('gw/443', ['gw/cert'], ['client']),
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

  it('mTLS: a client certificate signed by the CA is served; none, or plaintext, is refused', async () => {
    const port = await startServer({ TENDRIL_XDS_TLS_CERT: certs.serverCert, TENDRIL_XDS_TLS_KEY: certs.serverKey, TENDRIL_XDS_TLS_CA: certs.ca });
    const good = ads(port, 'client', tls(true));
    good.subscribe(CDS);
    assert.deepEqual((await good.waitFor(CDS, (r) => r.resources.length === 1, 10000)).resources.map((r) => r['name']), ['default/a']);
    good.subscribe(SDS, ['gw/cert']);
    assert.equal((await good.waitFor(SDS, (r) => r.resources.length === 1, 10000)).resources[0]!['name'], 'gw/cert');

    const delta = new DeltaTestClient(`127.0.0.1:${port}`, { nodeId: 'client', credentials: tls(true) });
    clients.push(delta);
    delta.subscribe(CDS);
    assert.deepEqual((await delta.waitFor(CDS, (r) => r.resources.length === 1, 10000)).resources.map((r) => r.name), ['default/a']);

    const anonymous = ads(port, 'client', tls(false));
    anonymous.subscribe(CDS);
    assert.equal(((await refused(anonymous)) as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
    assert.equal(anonymous.responses.length, 0);
    const plaintext = ads(port, 'client');
    plaintext.subscribe(CDS);
    assert.equal(((await refused(plaintext)) as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
    assert.equal(plaintext.responses.length, 0);
  });

  it("mTLS: a node id the certificate does not name is refused before anything is served (another node's Secret stays with it)", async () => {
    const port = await startServer({ TENDRIL_XDS_TLS_CERT: certs.serverCert, TENDRIL_XDS_TLS_KEY: certs.serverKey, TENDRIL_XDS_TLS_CA: certs.ca });
    const impostor = ads(port, 'node-x', tls(true));
    impostor.subscribe(SDS, ['gw/cert']);
    const error = (await refused(impostor)) as grpc.ServiceError;
    assert.equal(error.code, grpc.status.PERMISSION_DENIED);
    assert.match(error.details, /node id "node-x" is not an identity of the client certificate \(client\)/);
    assert.equal(impostor.responses.length, 0);
    // With the check off (one certificate shared by every proxy), the same stream is served.
    const lenient = await startServer({ TENDRIL_XDS_TLS_CERT: certs.serverCert, TENDRIL_XDS_TLS_KEY: certs.serverKey, TENDRIL_XDS_TLS_CA: certs.ca, TENDRIL_XDS_TLS_NODE_CHECK: 'false' });
    const shared = ads(lenient, 'node-x', tls(true));
    shared.subscribe(CDS);
    await shared.waitFor(CDS, (r) => r.resources.length === 1, 10000);
  });

  it('TLS without a CA: clients without certificates are served over TLS, plaintext is refused', async () => {
    const port = await startServer({ TENDRIL_XDS_TLS_CERT: certs.serverCert, TENDRIL_XDS_TLS_KEY: certs.serverKey });
    const client = ads(port, 'any-node', tls(false));
    client.subscribe(CDS);
    await client.waitFor(CDS, (r) => r.resources.length === 1, 10000);
    const plaintext = ads(port, 'any-node');
    plaintext.subscribe(CDS);
    assert.equal(((await refused(plaintext)) as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
    assert.match(output, /ADS listening on 127\.0\.0\.1:\d+ \(mTLS, node id checked against the client certificate\)/);
    assert.match(output, /ADS listening on 127\.0\.0\.1:\d+ \(TLS\)/);
  });

  it('a key without a certificate is a configuration error naming both settings', async () => {
    const child = spawn(process.execPath, [xdsServerMain], { env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_PORT: '0', TENDRIL_XDS_TLS_KEY: certs.serverKey, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout!.on('data', (d) => (text += d));
    child.stderr!.on('data', (d) => (text += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(text, /TENDRIL_XDS_TLS_CERT and TENDRIL_XDS_TLS_KEY/);
  });
});
