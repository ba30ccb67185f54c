import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { makeTestCertificates, startNatsServer, waitFor, type TestCertificates, type TestNatsServer } from '@tendril/testing';
import { ConfigError, NatsClient, Readiness, connectOnce, natsTlsConfig, type Logger } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const TLS_VARIABLES = ['TENDRIL_NATS_TLS_CA', 'TENDRIL_NATS_TLS_CERT', 'TENDRIL_NATS_TLS_KEY'];

describe('TLS to NATS against a real nats-server', () => {
  let certs: TestCertificates;
  let server: TestNatsServer;
  let verifying: TestNatsServer;
  let plain: TestNatsServer;
  before(async () => {
    certs = makeTestCertificates();
    server = await startNatsServer({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    verifying = await startNatsServer({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verify: true } });
    plain = await startNatsServer();
  });
  after(async () => {
    await Promise.all([server.dispose(), verifying.dispose(), plain.dispose()]);
    certs.dispose();
  });
  afterEach(() => {
    for (const name of TLS_VARIABLES) delete process.env[name];
  });

  it('a service client trusting the CA writes and reads a bucket over TLS', async () => {
    process.env['TENDRIL_NATS_TLS_CA'] = certs.ca;
    const { natsTls } = natsTlsConfig(server.url);
    const client = new NatsClient({ url: server.url, name: 'tls-writer', kvReplicas: 1, logger: quiet, ...(natsTls ? { tls: natsTls } : {}) });
    try {
      const kv = await client.bucket('tls-test');
      await kv.put('key', new TextEncoder().encode('over tls'));
      assert.equal(new TextDecoder().decode((await kv.get('key'))!.value), 'over tls');
      assert.equal(client.nc.info?.tls_required, true, 'the server says the connection is TLS');
    } finally {
      await client.drain();
    }
  });

  it('without the CA the connection fails with an error naming TENDRIL_NATS_TLS_CA', async () => {
    await assert.rejects(connectOnce(server.url, 'no-ca', 3000), /set TENDRIL_NATS_TLS_CA/);
    // a plain nats:// URL is upgraded because the server requires TLS, and fails the same way
    await assert.rejects(connectOnce(server.url.replace('tls://', 'nats://'), 'no-ca', 3000), /set TENDRIL_NATS_TLS_CA/);
    await assert.rejects(connectOnce(server.url, 'wrong-ca', 3000, { tls: { caFile: certs.otherCa } }), new RegExp(`not signed by TENDRIL_NATS_TLS_CA=${certs.otherCa}`));
  });

  it('a retrying service client reports the missing CA in its readiness', async () => {
    const readiness = new Readiness();
    const client = new NatsClient({ url: server.url, name: 'tls-retrying', kvReplicas: 1, logger: quiet, readiness: readiness.register('nats', 'starting') });
    void client.connect().catch(() => undefined);
    try {
      await waitFor('readiness naming TENDRIL_NATS_TLS_CA', () => /TENDRIL_NATS_TLS_CA/.test(readiness.reason), 15000);
      assert.equal(readiness.ready, false);
    } finally {
      await client.drain();
    }
  });

  it('a server with verify refuses a client without a certificate and accepts one with it', async () => {
    await assert.rejects(connectOnce(verifying.url, 'no-cert', 3000, { tls: { caFile: certs.ca } }), /requires a client certificate: set TENDRIL_NATS_TLS_CERT and TENDRIL_NATS_TLS_KEY/);
    process.env['TENDRIL_NATS_TLS_CA'] = certs.ca;
    process.env['TENDRIL_NATS_TLS_CERT'] = certs.clientCert;
    process.env['TENDRIL_NATS_TLS_KEY'] = certs.clientKey;
    const { natsTls } = natsTlsConfig(verifying.url);
    const nc = await connectOnce(verifying.url, 'with-cert', 3000, natsTls ? { tls: natsTls } : {});
    try {
      const reply = await nc.jetstreamManager();
      assert.ok((await reply.getAccountInfo()).limits, 'JetStream answers over the verified connection');
    } finally {
      await nc.close();
    }
  });

  it('TLS asked of a server without it fails saying so', async () => {
    await assert.rejects(connectOnce(plain.url, 'tls-to-plain', 3000, { tls: { caFile: certs.ca } }), /the NATS server does not offer it/);
  });

  it('settings: a tls:// URL or the CA alone turns TLS on; a certificate needs its key; files must exist', () => {
    assert.deepEqual(natsTlsConfig('nats://127.0.0.1:4222'), {});
    assert.deepEqual(natsTlsConfig('nats://a:4222,tls://b:4222'), { natsTls: {} });
    process.env['TENDRIL_NATS_TLS_CA'] = certs.ca;
    assert.deepEqual(natsTlsConfig('nats://127.0.0.1:4222'), { natsTls: { caFile: certs.ca } });
    process.env['TENDRIL_NATS_TLS_CERT'] = certs.clientCert;
    assert.throws(() => natsTlsConfig('nats://127.0.0.1:4222'), (error: Error) => error instanceof ConfigError && /TENDRIL_NATS_TLS_CERT and TENDRIL_NATS_TLS_KEY go together/.test(error.message));
    process.env['TENDRIL_NATS_TLS_KEY'] = `${certs.dir}/missing.key`;
    assert.throws(() => natsTlsConfig('nats://127.0.0.1:4222'), /TENDRIL_NATS_TLS_KEY=.*missing.key: no such file/);
  });
});
