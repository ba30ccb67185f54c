/**
 * Secrets go to tendril-secrets, not tendril-objects, with the real watcher (standalone) and
 * nats-server: a Secret of the folder is written there and only there, follows edits and removal, and
 * Secrets an older version left in tendril-objects are deleted from it at start, after their
 * replacement is in tendril-secrets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, kubeObjectCodec } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { startWatcherProcess, type WatcherProcess } from './testing/watcher-process.js';

const SECRET = (name: string, key: string) => `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==, tls.key: ${Buffer.from(key).toString('base64')}}
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 127.100.9.9, ports: [{port: 80}]}
`;

describe('k8s-watcher (standalone): Secrets in tendril-secrets', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let folder: string;
  let watcher: WatcherProcess;
  let secrets: KV;
  let objects: KV;
  const keysOf = async (kv: KV) => {
    const out: string[] = [];
    for await (const key of await kv.keys()) out.push(key);
    return out.sort();
  };
  const data = async (kv: KV, key: string) => {
    const entry = await kv.get(key);
    return entry?.operation === 'PUT' ? ((kubeObjectCodec.decode(entry.value) as unknown as { data: Record<string, string> }).data['tls.key'] ?? '') : undefined;
  };

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // what an older version left: Secrets in tendril-objects, one of them no longer in the folder
    objects = await nc.jetstream().views.kv(BUCKETS.objects, { history: 1 });
    const legacy = (name: string) => kubeObjectCodec.encode({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.key': 'b2xk' } } as never);
    await objects.put('default.secret.default.cert', legacy('cert'));
    await objects.put('default.secret.default.gone', legacy('gone'));
    folder = mkdtempSync(join(tmpdir(), 'tendril-watcher-secrets-'));
    writeFileSync(join(folder, 'cert.yaml'), SECRET('cert', 'first key'));
    writeFileSync(join(folder, 'web.yaml'), SERVICE);
    watcher = await startWatcherProcess(nats.url, folder);
    secrets = await waitFor('tendril-secrets bucket', async () => {
      const bucket = await nc.jetstream().views.kv(BUCKETS.secrets, { bindOnly: true });
      await bucket.status();
      return bucket;
    }, 120000, 200);
  });
  after(async () => {
    await watcher?.close();
    await nc?.close();
    await nats?.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('writes the folder\'s Secret to tendril-secrets only, and deletes the Secrets an older version left in tendril-objects', async () => {
    await waitFor('readyz 200', async () => (await watcher.readyz())?.status === 200, 120000);
    await waitFor('the Secrets moved', async () => (await keysOf(objects)).every((key) => !key.includes('.secret.')), 30000);
    assert.deepEqual(await keysOf(objects), ['default.service.default.web']);
    assert.deepEqual(await keysOf(secrets), ['default.secret.default.cert']);
    assert.equal(await data(secrets, 'default.secret.default.cert'), Buffer.from('first key').toString('base64'));
    assert.match(watcher.output(), /moved Secrets out of tendril-objects: 2 deleted there/);
    assert.doesNotMatch(watcher.output(), /Zmlyc3Qga2V5|first key/, 'key material never logged');
  });

  it('follows edits and removal of the Secret in tendril-secrets', async () => {
    writeFileSync(join(folder, 'cert.yaml'), SECRET('cert', 'rotated key'));
    await waitFor('rotated', async () => (await data(secrets, 'default.secret.default.cert')) === Buffer.from('rotated key').toString('base64'), 30000);
    unlinkSync(join(folder, 'cert.yaml'));
    await waitFor('deleted', async () => (await keysOf(secrets)).length === 0, 30000);
    assert.deepEqual(await keysOf(objects), ['default.service.default.web']);
  });
});
