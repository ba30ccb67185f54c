import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import {
  envelopeBytes,
  kubeObjectCodec,
  lbKey,
  lbServiceCodec,
  objectKey,
  objectStatusCodec,
  xdsKey,
  xdsResourceCodec,
  type KubeObject,
} from '@tendril/contract';
import { decodeResource } from '@tendril/envoy';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';
import type { GenerationRecord } from './record.js';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

function startTranslator(natsUrl: string, httpPort: number, dataDir: string, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_NATS_URL: natsUrl, TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_CLUSTER: 'c1', TENDRIL_DEBOUNCE_MS: '20', TENDRIL_DEBOUNCE_MAX_MS: '200', TENDRIL_DATA_DIR: dataDir, TENDRIL_DB_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  return child;
}

async function history(nc: NatsConnection, last?: number): Promise<GenerationRecord[]> {
  const request = last === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify({ last }));
  const reply = await nc.request('tendril.translator.history', request, { timeout: 5000 });
  return JSON.parse(new TextDecoder().decode(reply.data)) as GenerationRecord[];
}

const service = (port: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'echo', namespace: 'default' },
  spec: { clusterIP: '127.96.0.20', ports: [{ name: 'http', port, targetPort: 8080 }] },
});
const config: KubeObject = {
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumEnvoyConfig',
  metadata: { name: 'edge', namespace: 'default', generation: 1 },
  spec: {
    services: [{ name: 'echo' }],
    nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'node-a' } },
    resources: [
      {
        '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
        name: 'edge',
        filter_chains: [{ filters: [{ name: 'tcp', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'edge', cluster: 'default/echo:80' } }] }],
      },
      // Envoy refuses a cluster with a zero connect timeout: only this one is left out
      { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'broken', type: 'EDS', connect_timeout: '0s' },
    ],
  },
};

test('config history: one record per publish that changed something, served on tendril.translator.history; CiliumEnvoyConfig published with its node selector, refusals in its status', { timeout: 90000 }, async (t) => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-translator-history-'));
  const log: string[] = [];
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await nc.close();
    await nats.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });
  try {
    const js = nc.jetstream();
    const objects = await js.views.kv('tendril-objects', { history: 1 });
    await js.views.kv('tendril-secrets', { history: 1 }); // the watcher creates both input buckets
    const serviceKey = objectKey({ cluster: 'c1', kind: 'service', namespace: 'default', name: 'echo' });
    const configKey = objectKey({ cluster: 'c1', kind: 'ciliumenvoyconfig', namespace: 'default', name: 'edge' });
    await objects.put(serviceKey, kubeObjectCodec.encode(service(80)));

    const httpPort = await freePort();
    children.push(startTranslator(nats.url, httpPort, dataDir, log));
    const first = await waitFor('first history record', async () => {
      try {
        const records = await history(nc);
        return records.length > 0 ? records : undefined;
      } catch {
        return undefined;
      }
    }, 30000);
    assert.equal(first.length, 1);
    assert.ok(first[0]!.added.includes('cluster default/echo:80'), first[0]!.added.join(', '));
    assert.ok(first[0]!.added.includes('lb default/echo'));
    assert.deepEqual([first[0]!.changed, first[0]!.removed], [[], []]);
    assert.equal(first[0]!.counts['cluster'], 1);
    assert.match(first[0]!.inputDigest, /^[0-9a-f]{64}$/);

    // A changed Service port: the old cluster removed, the new one added, the LB entry changed.
    await objects.put(serviceKey, kubeObjectCodec.encode(service(81)));
    const second = await waitFor('second record', async () => ((await history(nc)).length >= 2 ? history(nc) : undefined));
    assert.equal(second[0]!.generation, first[0]!.generation + 1);
    assert.ok(second[0]!.removed.includes('cluster default/echo:80'));
    assert.ok(second[0]!.added.includes('cluster default/echo:81'));
    assert.ok(second[0]!.changed.includes('lb default/echo'));
    assert.notEqual(second[0]!.inputDigest, first[0]!.inputDigest);
    assert.deepEqual((await history(nc, 1)).map((record) => record.generation), [second[0]!.generation]);

    await objects.put(serviceKey, kubeObjectCodec.encode(service(80)));
    await objects.put(configKey, kubeObjectCodec.encode(config));
    const xds = await js.views.kv('tendril-xds', { bindOnly: true });
    const status = await js.views.kv('tendril-status', { bindOnly: true });
    const lb = await js.views.kv('tendril-lb', { bindOnly: true });
    const listenerKey = xdsKey({ type: 'listener', name: 'default/edge/edge' });
    const envelope = await waitFor('hand-written listener published', async () => {
      const entry = await xds.get(listenerKey);
      return entry && entry.operation === 'PUT' ? xdsResourceCodec.decode(entry.value) : undefined;
    });
    assert.deepEqual(envelope.nodeSelector, { nodeIds: ['node-a'] });
    const listener = decodeResource('listener', envelopeBytes(envelope)) as { address: { socketAddress: { portValue: number } } };
    const port = listener.address.socketAddress.portValue;
    assert.equal((await xds.get(xdsKey({ type: 'cluster', name: 'default/edge/broken' })))?.operation ?? 'absent', 'absent');
    const entry = await waitFor('LB entry redirected', async () => {
      const value = lbServiceCodec.decode((await lb.get(lbKey({ cluster: 'c1', namespace: 'default', name: 'echo' })))!.value);
      return value.l7Proxy ? value : undefined;
    });
    assert.deepEqual(entry.l7Proxy, { port });
    const desired = objectStatusCodec.decode((await status.get(configKey))!.value).status as { resources: string[]; errors: string[] };
    assert.deepEqual(desired.resources, ['listener default/edge/edge']);
    assert.equal(desired.errors.length, 1);
    assert.match(desired.errors[0]!, /^cluster default\/edge\/broken: refused by Envoy's rules: Cluster\.connectTimeout: must be longer than 0s/);
    const latest = (await history(nc, 1))[0]!;
    assert.ok(latest.added.includes('listener default/edge/edge'));
    assert.ok(latest.errors.some((error) => error.object === 'default/CiliumEnvoyConfig/edge' && error.message.includes('default/edge/broken')));

    // A restart keeps the history and, with unchanged input, adds nothing to it.
    const before = await history(nc, 100);
    children[0]!.kill('SIGTERM');
    await new Promise((resolve) => children[0]!.once('exit', resolve));
    children.push(startTranslator(nats.url, await freePort(), dataDir, log));
    await waitFor('restarted translator answers', async () => {
      try {
        return (await history(nc, 100)).length > 0;
      } catch {
        return false;
      }
      // a process start on a machine busy with other builds can take longer than the default wait
    }, 60000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await history(nc, 100), before);
    await assert.rejects(nc.request('tendril.translator.history', new TextEncoder().encode('{"last": 0}'), { timeout: 5000 }).then((reply) => {
      if (reply.headers?.get('Nats-Service-Error-Code')) throw new Error(reply.headers.get('Nats-Service-Error'));
      return reply;
    }), /"last" must be a positive integer/);
  } catch (error) {
    console.error(log.join(''));
    throw error;
  }
});
