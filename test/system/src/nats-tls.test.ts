/**
 * TLS to NATS with real processes: nats-server requires TLS and verifies client certificates
 * (certificates made with openssl by the test); the k8s-watcher and translator connect with
 * TENDRIL_NATS_TLS_CA / _CERT / _KEY and do their work; the CLI works with the same settings and,
 * without them, fails with a message naming the setting to set and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS } from '@tendril/contract';
import { makeTestCertificates, waitFor } from '@tendril/testing';
import { runCli, serviceManifest } from './fixtures.js';
import { System } from './system.js';

const certs = makeTestCertificates();
const TLS_ENV = { TENDRIL_NATS_TLS_CA: certs.ca, TENDRIL_NATS_TLS_CERT: certs.clientCert, TENDRIL_NATS_TLS_KEY: certs.clientKey };

const MANIFEST = serviceManifest({ name: 'secure', clusterIP: '127.100.92.1', endpoints: ['127.0.92.1'] });

describe('TLS to NATS: services and the CLI against a nats-server that requires TLS and client certificates', { timeout: 180000 }, () => {
  const system = new System('tls', { nats: { tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verify: true } }, env: TLS_ENV });
  let nc: NatsConnection;

  const tendril = (args: string[], env: Record<string, string>) =>
    runCli(
      args,
      { TENDRIL_NATS_USER: 'cli', TENDRIL_NATS_PASSWORD: system.nats.credentials!.cli.password, ...env },
      Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TENDRIL_NATS_TLS_'))),
    );

  before(async () => {
    system.writeManifest('secure.yaml', MANIFEST);
    await system.start(['k8s-watcher', 'translator']);
    nc = await connect({ ...system.observer, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } });
  });
  after(async () => {
    await nc?.close();
    await system.dispose();
    certs.dispose();
  });

  it('the services connect over TLS and do their work', async () => {
    assert.match(system.nats.url, /^tls:\/\//);
    const lb = await nc.jetstream().views.kv(BUCKETS.lb, { bindOnly: true });
    await waitFor('the LB entry of default/secure written by the translator', async () => {
      const keys: string[] = [];
      for await (const key of await lb.keys()) keys.push(key);
      return keys.length > 0;
    }, 30000);
    const client = nc.info!;
    assert.equal(client.tls_required, true);
  });

  it('the CLI works with the same settings', async () => {
    const result = await tendril(['status', '--nats', system.nats.url, '-o', 'json'], TLS_ENV);
    const status = JSON.parse(result.stdout) as { instances: { service: string; ready: boolean; role?: string }[] };
    assert.deepEqual(status.instances.map((i) => i.service), ['k8s-watcher', 'translator']);
    assert.ok(status.instances.every((i) => i.ready), result.stdout);
    assert.equal(status.instances.find((i) => i.service === 'translator')!.role, 'active');
  });

  it('without the CA the CLI fails naming TENDRIL_NATS_TLS_CA, exit 3', async () => {
    const result = await tendril(['status', '--nats', system.nats.url], {});
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /set TENDRIL_NATS_TLS_CA to the CA that signed it/);
  });

  it('without a client certificate the server refuses, and the CLI names TENDRIL_NATS_TLS_CERT and _KEY', async () => {
    const result = await tendril(['status', '--nats', system.nats.url], { TENDRIL_NATS_TLS_CA: certs.ca });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /requires a client certificate: set TENDRIL_NATS_TLS_CERT and TENDRIL_NATS_TLS_KEY/);
  });

  it('a service started without the CA stays unready and says why in /readyz', async () => {
    const replica = await system.startReplica('translator', { TENDRIL_NATS_TLS_CA: '', TENDRIL_NATS_TLS_CERT: '', TENDRIL_NATS_TLS_KEY: '' });
    const reason = await waitFor('the reason in /readyz', async () => {
      try {
        const body = (await (await fetch(`http://127.0.0.1:${replica.httpPort}/readyz`)).json()) as { ready: boolean; checks: Record<string, { reason: string }> };
        return !body.ready && /TENDRIL_NATS_TLS_CA/.test(body.checks['nats']?.reason ?? '') ? body.checks['nats']!.reason : undefined;
      } catch {
        return undefined;
      }
    }, 30000, 200);
    assert.match(reason, /^cannot reach NATS at tls:\/\/127\.0\.0\.1:\d+: the NATS server's certificate is not trusted/);
    replica.process.kill('SIGTERM');
    await replica.exit;
  });
});
