// The translator with workload identities on, against a real nats-server: Pods in, per-node
// certificate Secrets in tendril-sds out, signed by the CA kept in tendril-ca.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, type KV } from 'nats';
import { envelopeBytes, kubeObjectCodec, objectKey, xdsKey, xdsResourceCodec, type KubeObject, type XdsResourceEnvelope } from '@tendril/contract';
import { decodeResource } from '@tendril/envoy';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';

const main = fileURLToPath(new URL('../main.js', import.meta.url));
const frontend = 'spiffe://cluster.local/ns/shop/sa/frontend';
const backend = 'spiffe://cluster.local/ns/shop/sa/backend';

function startTranslator(natsUrl: string, httpPort: number, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_NATS_URL: natsUrl, TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_CLUSTER: 'c1', TENDRIL_DEBOUNCE_MS: '20', TENDRIL_DEBOUNCE_MAX_MS: '200',
      TENDRIL_LEASE_DURATION_MS: '15000', TENDRIL_LEASE_RENEW_DEADLINE_MS: '10000', TENDRIL_LEASE_RETRY_MS: '300', TENDRIL_WORKLOAD_IDENTITIES: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  return child;
}

const pod = (name: string, serviceAccountName: string, nodeName: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app: serviceAccountName } },
  spec: { serviceAccountName, nodeName, containers: [{ name: 'app', image: 'app' }] },
  status: { phase: 'Running', podIP: '198.18.0.10' },
});

async function secret(sds: KV, name: string): Promise<XdsResourceEnvelope | undefined> {
  const entry = await sds.get(xdsKey({ type: 'secret', name }));
  return entry && entry.operation === 'PUT' ? xdsResourceCodec.decode(entry.value) : undefined;
}

function certificateOf(envelope: XdsResourceEnvelope): X509Certificate {
  const resource = decodeResource('secret', envelopeBytes(envelope)) as { tlsCertificate: { certificateChain: { inlineString: string } } };
  return new X509Certificate(resource.tlsCertificate.certificateChain.inlineString);
}

test('Pods in, per-node workload certificates out, signed by the CA kept in tendril-ca across restarts', { timeout: 120000 }, async (t) => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const log: string[] = [];
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await nc.close();
    await nats.dispose();
  });
  try {
    const js = nc.jetstream();
    const objects = await js.views.kv('tendril-objects', { history: 1 });
    await js.views.kv('tendril-secrets', { history: 1 });
    const key = (name: string) => objectKey({ cluster: 'c1', kind: 'pod', namespace: 'shop', name });
    await objects.put(key('web-1'), kubeObjectCodec.encode(pod('web-1', 'frontend', 'node-a')));
    await objects.put(key('api-1'), kubeObjectCodec.encode(pod('api-1', 'backend', 'node-b')));

    const httpPort = await freePort();
    children.push(startTranslator(nats.url, httpPort, log));
    const jsm = await nc.jetstreamManager();
    await waitFor('the translator created tendril-sds', async () => jsm.streams.info('KV_tendril-sds').then(() => true, () => false), 30000);
    const sds = await js.views.kv('tendril-sds', { bindOnly: true });
    await waitFor('the frontend certificate', async () => (await secret(sds, frontend)) !== undefined, 30000);

    const ca = await js.views.kv('tendril-ca', { bindOnly: true });
    const caPem = (JSON.parse(new TextDecoder().decode((await ca.get('ca.active'))!.value)) as { certificatePem: string }).certificatePem;
    const caCertificate = new X509Certificate(caPem);
    const front = (await secret(sds, frontend))!;
    assert.deepEqual(front.nodeSelector, { nodeIds: ['node-a'] });
    assert.equal(certificateOf(front).subjectAltName, `URI:${frontend}`);
    assert.equal(certificateOf(front).verify(caCertificate.publicKey), true);
    assert.deepEqual((await secret(sds, backend))!.nodeSelector, { nodeIds: ['node-b'] });
    const bundle = (await secret(sds, 'tendril/trust-bundle'))!;
    assert.equal(bundle.nodeSelector, undefined);
    assert.ok(JSON.stringify(decodeResource('secret', envelopeBytes(bundle))).includes(caPem.split('\n')[1]!));

    // another frontend Pod on another node: the same certificate, now for both nodes; the last backend Pod goes: its certificate too
    await objects.put(key('web-2'), kubeObjectCodec.encode(pod('web-2', 'frontend', 'node-c')));
    await objects.delete(key('api-1'));
    await waitFor('frontend on node-a and node-c, backend gone', async () => JSON.stringify((await secret(sds, frontend))?.nodeSelector) === '{"nodeIds":["node-a","node-c"]}' && (await secret(sds, backend)) === undefined, 30000);
    assert.equal((await secret(sds, frontend))!.hash, front.hash);

    // a restarted translator signs with the same CA
    children[0]!.kill('SIGKILL');
    await new Promise((resolve) => children[0]!.once('exit', resolve));
    await objects.put(key('db-0'), kubeObjectCodec.encode(pod('db-0', 'backend', 'node-b')));
    children.push(startTranslator(nats.url, await freePort(), log));
    await waitFor('the backend certificate again', async () => (await secret(sds, backend)) !== undefined, 30000);
    assert.equal(certificateOf((await secret(sds, backend))!).verify(caCertificate.publicKey), true);
    assert.equal((JSON.parse(new TextDecoder().decode((await ca.get('ca.active'))!.value)) as { certificatePem: string }).certificatePem, caPem);
  } catch (error) {
    console.error(log.join(''));
    throw error;
  }
});
