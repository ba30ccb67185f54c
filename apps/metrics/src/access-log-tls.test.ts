/**
 * mTLS on the access log port (TENDRIL_ALS_TLS_*), with the real metrics process and a real gRPC
 * client: plaintext, TLS without a client certificate and a certificate of another CA are refused;
 * a client certificate signed by the configured CA is served. TLS without a CA is a start-up error.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { makeTestCertificates, startNatsServer, waitFor, type TestCertificates, type TestNatsServer } from '@tendril/testing';
import { httpEntry, identifier, sample, sendAccessLogs, startMetrics, type MetricsProcess } from './testing/metrics-process.js';

describe('access log service with mTLS', () => {
  let nats: TestNatsServer;
  let certs: TestCertificates;
  let metrics: MetricsProcess;
  let strangerKey: string;
  let strangerCert: string;

  before(async () => {
    certs = makeTestCertificates();
    // a client certificate another CA signed
    strangerKey = join(certs.dir, 'stranger.key');
    strangerCert = join(certs.dir, 'stranger.crt');
    writeFileSync(join(certs.dir, 'stranger.ext'), 'extendedKeyUsage=clientAuth\n');
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=stranger', '-keyout', strangerKey, '-out', 'stranger.csr');
    openssl('x509', '-req', '-in', 'stranger.csr', '-CA', 'other-ca.crt', '-CAkey', 'other-ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'stranger.ext', '-out', strangerCert);
    nats = await startNatsServer();
    metrics = await startMetrics(nats.url, { TENDRIL_ALS_TLS_CERT: certs.serverCert, TENDRIL_ALS_TLS_KEY: certs.serverKey, TENDRIL_ALS_TLS_CA: certs.ca });
  });
  after(async () => {
    await metrics?.stop();
    await nats?.dispose();
    certs?.dispose();
  });

  const entries = (method: string) => [{ identifier: identifier('node-tls'), httpLogs: { logEntry: [httpEntry({ from: '192.0.2.7', cluster: 'shop/cart:80', method, status: 200, millis: 2 })] } }];
  const counted = async (method: string) => sample(await metrics.scrape(), 'tendril_http_requests_total', { method });

  it('plaintext, no client certificate, or another CA\'s: refused, and nothing is counted', async () => {
    const ca = readFileSync(certs.ca);
    const attempts: [string, grpc.ChannelCredentials][] = [
      ['plaintext', grpc.credentials.createInsecure()],
      ['TLS without a client certificate', grpc.credentials.createSsl(ca)],
      ['a client certificate of another CA', grpc.credentials.createSsl(ca, readFileSync(strangerKey), readFileSync(strangerCert))],
    ];
    for (const [what, credentials] of attempts) {
      await assert.rejects(() => sendAccessLogs(metrics.alsPort, entries('DELETE'), credentials), /UNAVAILABLE|handshake|certificate|closed|reset|14/i, what);
    }
    assert.equal(await counted('DELETE'), 0);
  });

  it('a client certificate signed by the configured CA: its access logs are counted', async () => {
    const credentials = grpc.credentials.createSsl(readFileSync(certs.ca), readFileSync(certs.clientKey), readFileSync(certs.clientCert));
    await sendAccessLogs(metrics.alsPort, entries('PUT'), credentials);
    await waitFor('the entry counted', async () => (await counted('PUT')) === 1, 20000);
    const readyz = (await (await fetch(`${metrics.http}/readyz`)).json()) as { checks: Record<string, { reason: string }> };
    assert.match(readyz.checks['access-log-service']!.reason, /mTLS/);
  });

  it('TLS without a CA does not start: it would take logs from anyone', async () => {
    await assert.rejects(() => startMetrics(nats.url, { TENDRIL_ALS_TLS_CERT: certs.serverCert, TENDRIL_ALS_TLS_KEY: certs.serverKey }), /exited/);
  });
});
