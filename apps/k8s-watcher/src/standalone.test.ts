import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type KV } from 'nats';
import { BUCKETS, kubeObjectCodec, objectStatusCodec } from '@tendril/contract';
import { freePort, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const SERVICE = (name: string, ip = '') => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  ${ip ? `clusterIP: ${ip}` : 'type: ClusterIP'}
  ports:
  - port: 80
`;

describe('k8s-watcher in standalone mode', () => {
  let nats: TestNatsServer;
  let folder: string;
  let port: number;
  let watcher: ChildProcess;
  let kv: KV;
  let output = '';
  const startWatcher = () => {
    watcher = spawn(process.execPath, [main], {
      env: { ...process.env, KUBECONFIG: '/nonexistent/kubeconfig' /* TENDRIL_MANIFESTS set: auto mode stays standalone */, TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_PORT: String(port), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_MANIFESTS: folder, TENDRIL_MANIFESTS_DEBOUNCE_MS: '20', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    watcher.stdout!.on('data', (d) => (output += d));
    watcher.stderr!.on('data', (d) => (output += d));
  };
  const stopWatcher = () =>
    new Promise<number | null>((resolve) => {
      watcher.once('exit', (code) => resolve(code));
      watcher.kill('SIGTERM');
    });
  const keys = async () => {
    const out: string[] = [];
    for await (const key of await kv.keys()) out.push(key);
    return out.sort();
  };
  const object = async (key: string) => {
    const entry = await kv.get(key);
    return entry && entry.operation === 'PUT' ? kubeObjectCodec.decode(entry.value) : undefined;
  };

  before(async () => {
    nats = await startNatsServer();
    folder = mkdtempSync(join(tmpdir(), 'tendril-watcher-'));
    port = await freePort();
    writeFileSync(join(folder, 'a.yaml'), SERVICE('alpha', '127.100.9.1'));
    mkdirSync(join(folder, 'nested'));
    writeFileSync(join(folder, 'nested', 'b.yaml'), SERVICE('beta'));
    startWatcher();
    const nc = await connect({ servers: nats.url });
    kv = await waitFor('tendril-objects bucket', async () => {
      const bucket = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
      await bucket.status();
      return bucket;
    }, 1120000);
  });
  after(async () => {
    if (watcher.exitCode === null) await stopWatcher();
    await nats.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('mirrors every manifest under the folder, with API defaults and an allocated ClusterIP', async () => {
    await waitFor('readyz 200', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 120000);
    assert.deepEqual(await keys(), ['default.service.default.alpha', 'default.service.default.beta']);
    const beta = (await object('default.service.default.beta')) as any;
    assert.match(beta.spec.clusterIP, /^127\.96\.\d+\.\d+$/);
    assert.equal(beta.spec.ports[0].protocol, 'TCP');
    assert.equal(beta.metadata.generation, 1);
    assert.match(beta.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(beta.metadata.uid, /\S/);
  });

  it('shows the desired status on tendril.k8s-watcher.status and in the log', async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const statuses = await nc.jetstream().views.kv(BUCKETS.status, { history: 1 });
      const status = { v: 1 as const, apiVersion: 'v1', kind: 'Service', namespace: 'default', name: 'alpha', status: { conditions: [{ type: 'Programmed', status: 'True' as const, reason: 'Programmed', message: 'on 1 node' }] } };
      await statuses.put('default.service.default.alpha', objectStatusCodec.encode(status));
      await waitFor('status logged', () => output.includes('default/Service/alpha conditions[0]: Programmed=True (Programmed) on 1 node'));
      const reply = await waitFor('status endpoint', async () => JSON.parse(new TextDecoder().decode((await nc.request('tendril.k8s-watcher.status', new Uint8Array(), { timeout: 2000 })).data)));
      assert.equal(reply['default.service.default.alpha'].status.conditions[0].message, 'on 1 node');
    } finally {
      await nc.close();
    }
  });

  it('follows edits, additions and removals, bumping generation only on spec changes', async () => {
    writeFileSync(join(folder, 'a.yaml'), SERVICE('alpha', '127.100.9.2'));
    writeFileSync(join(folder, 'c.yml'), SERVICE('gamma', '127.100.9.3'));
    rmSync(join(folder, 'nested', 'b.yaml'));
    await waitFor('changes mirrored', async () => (await keys()).join() === 'default.service.default.alpha,default.service.default.gamma', 60000);
    await waitFor('edit mirrored', async () => ((await object('default.service.default.alpha')) as any)?.spec.clusterIP === '127.100.9.2', 60000);
    assert.equal(((await object('default.service.default.alpha')) as any).metadata.generation, 2);
  });

  it('refuses a bad manifest naming object and field, and keeps serving the rest', async () => {
    writeFileSync(
      join(folder, 'bad.yaml'),
      `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: broken}
spec:
  rules:
  - http:
      paths:
      - backend: {service: {name: details, port: {number: 9080}}, path: /details, pathType: Prefix}
`,
    );
    await waitFor('refusal logged', () => output.includes('default/Ingress/broken'), 60000);
    assert.match(output, /bad\.yaml#1: default\/Ingress\/broken: .*backend\.path: unknown field/);
    assert.ok(!(await keys()).includes('default.ingress.default.broken'));
    assert.deepEqual(await keys(), ['default.service.default.alpha', 'default.service.default.gamma']);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /tendril_manifest_errors\{[^}]*\} 1/);
    // and as a status entry naming the file, the object and the field
    const nc = await connect({ servers: nats.url });
    const reply = await nc.request('tendril.k8s-watcher.status', new Uint8Array(), { timeout: 5000 }).finally(() => nc.close());
    const statuses = JSON.parse(new TextDecoder().decode(reply.data)) as Record<string, { object: string; status: { conditions: { reason: string; message: string }[] } }>;
    const refused = statuses['refused:bad.yaml#1']!;
    assert.equal(refused.object, 'default/Ingress/broken');
    assert.equal(refused.status.conditions[0]!.reason, 'Invalid');
    assert.match(refused.status.conditions[0]!.message, /backend\.path: unknown field/);
  });

  it('exits 0 on SIGTERM, and a restart rewrites nothing that did not change', async () => {
    const before = (await kv.status()).streamInfo.state.last_seq;
    assert.equal(await stopWatcher(), 0);
    output = '';
    startWatcher();
    await waitFor('ready again', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 120000);
    assert.equal((await kv.status()).streamInfo.state.last_seq, before);
    assert.equal(((await object('default.service.default.alpha')) as any).metadata.generation, 2);
  });
});
