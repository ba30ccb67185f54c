import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type KV } from 'nats';
import {
  LB_GENERATION_KEY,
  XDS_GENERATION_KEY,
  contentHash,
  envelopeBytes,
  generationDigest,
  kubeObjectCodec,
  lbGenerationCodec,
  lbKey,
  lbServiceCodec,
  objectKey,
  xdsGenerationCodec,
  xdsKey,
  xdsResourceCodec,
  type KubeObject,
} from '@tendril/contract';
import { decodeResource } from '@tendril/envoy';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';

const main = fileURLToPath(new URL('./main.js', import.meta.url));

function startTranslator(natsUrl: string, httpPort: number, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_NATS_URL: natsUrl, TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_CLUSTER: 'c1', TENDRIL_DEBOUNCE_MS: '20', TENDRIL_DEBOUNCE_MAX_MS: '200',
      // a restart after SIGKILL takes the dead process's lease (tendril-leases/translator) at once: nothing
      // answers for it; a long renew deadline keeps a loaded machine from making the writer step down
      TENDRIL_LEASE_DURATION_MS: '15000', TENDRIL_LEASE_RENEW_DEADLINE_MS: '10000', TENDRIL_LEASE_RETRY_MS: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  return child;
}

async function figure(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`tendril_${name}{`) || l.startsWith(`tendril_${name} `));
  if (!line) throw new Error(`no figure ${name}`);
  return Number(line.split(' ').at(-1));
}

async function ready(httpPort: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

async function present(kv: KV, key: string): Promise<Uint8Array | undefined> {
  const entry = await kv.get(key);
  return entry && entry.operation === 'PUT' ? entry.value : undefined;
}

const service: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'echo', namespace: 'default', annotations: { 'io.cilium/lb-protocol': 'grpc' } },
  spec: { clusterIP: '127.96.0.10', ports: [{ name: 'grpc', port: 80, targetPort: 50051 }] },
};
const slice: KubeObject = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'echo-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'echo' } },
  addressType: 'IPv4',
  ports: [{ name: 'grpc', port: 50051, protocol: 'TCP' }],
  endpoints: [{ addresses: ['127.0.0.11'], conditions: { ready: true } }, { addresses: ['127.0.0.12'], conditions: { ready: false, serving: true, terminating: true } }],
};

test('objects in, xDS + LB out; restart rewrites nothing; deletes remove keys', { timeout: 90000 }, async (t) => {
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
    await js.views.kv('tendril-secrets', { history: 1 }); // the watcher creates both input buckets
    const serviceKey = objectKey({ cluster: 'c1', kind: 'service', namespace: 'default', name: 'echo' });
    const sliceKey = objectKey({ cluster: 'c1', kind: 'endpointslice', namespace: 'default', name: 'echo-1' });
    await objects.put(serviceKey, kubeObjectCodec.encode(service));
    await objects.put(sliceKey, kubeObjectCodec.encode(slice));

    const httpPort = await freePort();
    children.push(startTranslator(nats.url, httpPort, log));
    await waitFor('translator ready', () => ready(httpPort), 30000);

    const xds = await js.views.kv('tendril-xds', { bindOnly: true });
    const lb = await js.views.kv('tendril-lb', { bindOnly: true });
    const clusterKey = xdsKey({ type: 'cluster', name: 'default/echo:80' });
    const endpointKey = xdsKey({ type: 'endpoint', name: 'default/echo:80' });

    const clusterEnvelope = xdsResourceCodec.decode((await present(xds, clusterKey))!);
    const cluster = decodeResource('cluster', envelopeBytes(clusterEnvelope)) as Record<string, unknown>;
    assert.equal(cluster['name'], 'default/echo:80');
    assert.equal(cluster['type'], 'EDS');
    assert.ok(JSON.stringify(cluster).includes('http2ProtocolOptions'), 'gRPC Service without an HTTP/2 upstream');

    const endpointEnvelope = xdsResourceCodec.decode((await present(xds, endpointKey))!);
    const cla = decodeResource('endpoint', envelopeBytes(endpointEnvelope)) as { endpoints: { lbEndpoints: { endpoint: { address: { socketAddress: { address: string; portValue: number } } }; healthStatus: string }[] }[] };
    const endpoints = cla.endpoints.flatMap((locality) => locality.lbEndpoints).map((e) => `${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue} ${e.healthStatus}`);
    assert.deepEqual(endpoints, ['127.0.0.11:50051 HEALTHY', '127.0.0.12:50051 DRAINING']);

    // The Service port is also served to proxyless gRPC clients (API listener and route), and its
    // lb-protocol annotation gives it a node-proxy listener and route.
    const proxylessName = 'echo.default.svc.cluster.local:80';
    const l7Name = 'default/echo/l7';
    const more = [xdsKey({ type: 'listener', name: l7Name }), xdsKey({ type: 'listener', name: proxylessName }), xdsKey({ type: 'route', name: l7Name }), xdsKey({ type: 'route', name: proxylessName })];
    const moreEntries: [string, string][] = [];
    for (const key of more) moreEntries.push([key, xdsResourceCodec.decode((await present(xds, key))!).hash]);
    const marker = xdsGenerationCodec.decode((await present(xds, XDS_GENERATION_KEY))!);
    assert.equal(marker.count, 6);
    assert.equal(marker.digest, generationDigest([[clusterKey, clusterEnvelope.hash], [endpointKey, endpointEnvelope.hash], ...moreEntries]));

    const entry = lbServiceCodec.decode((await present(lb, lbKey({ cluster: 'c1', namespace: 'default', name: 'echo' })))!);
    assert.deepEqual(entry.frontends.map((f) => `${f.address}:${f.port}`), ['127.96.0.10:80']);
    assert.deepEqual(entry.backends.map((b) => `${b.address}:${b.port} ${b.state}`), ['127.0.0.11:50051 active', '127.0.0.12:50051 terminating']);
    // counted once the publish is complete (the LB marker and the statuses come after the entry read above)
    await waitFor('the first publish counted', async () => (await figure(httpPort, 'resources_written')) === 7, 15000); // cluster, endpoints, 2 listeners, 2 routes, marker
    // tendril-lb's own marker, after its entries: the same generation, a digest of exactly what it holds
    const echoKey = lbKey({ cluster: 'c1', namespace: 'default', name: 'echo' });
    const lbMarker = lbGenerationCodec.decode((await present(lb, LB_GENERATION_KEY))!);
    assert.deepEqual(lbMarker, { v: 1, generation: marker.generation, count: 1, digest: generationDigest([[echoKey, contentHash((await lb.get(echoKey))!.value)]]) });
    assert.equal(await figure(httpPort, 'generation'), marker.generation);

    const dump = JSON.parse(new TextDecoder().decode((await nc.request('tendril.translator.dump', new Uint8Array(), { timeout: 5000 })).data)) as { xds: { name: string }[]; generation: number };
    assert.deepEqual(dump.xds.map((x) => x.name), ['default/echo:80', 'default/echo:80', l7Name, proxylessName, l7Name, proxylessName]);

    // SIGKILL and restart: same output, nothing rewritten, same generation.
    const revisionBefore = (await xds.status()).streamInfo.state.last_seq;
    children[0]!.kill('SIGKILL');
    await new Promise((resolve) => children[0]!.once('exit', resolve));
    const httpPort2 = await freePort();
    children.push(startTranslator(nats.url, httpPort2, log));
    await waitFor('restarted translator ready', () => ready(httpPort2), 30000);
    // it writes only once it holds the lease, and then publishes against what the buckets hold
    await waitFor('restarted translator holds the lease and published', async () => {
      const body = (await (await fetch(`http://127.0.0.1:${httpPort2}/readyz`)).json()) as { checks: Record<string, { reason: string }> };
      return body.checks['lease']?.reason.startsWith('active') && body.checks['translation']?.reason.startsWith('generation');
    }, 30000);
    assert.ok((await figure(httpPort2, 'translations')) >= 1);
    assert.equal(await figure(httpPort2, 'resources_written'), 0);
    assert.equal((await xds.status()).streamInfo.state.last_seq, revisionBefore, 'tendril-xds was written after a restart with unchanged input');
    assert.equal(xdsGenerationCodec.decode((await present(xds, XDS_GENERATION_KEY))!).generation, marker.generation);

    // A key changed behind the translator's back is restored (drift), without a restart.
    const original = await present(xds, clusterKey);
    await xds.put(clusterKey, new TextEncoder().encode('{"tampered":true}'));
    await waitFor('tampered cluster restored', async () => Buffer.from((await present(xds, clusterKey)) ?? []).equals(Buffer.from(original!)), 15000);

    // An endpoint change is patched into the last output and published alone: the CLA and the marker
    // (whose digest still names exactly what the bucket holds), and the LB entry.
    const written = await figure(httpPort2, 'resources_written');
    const patchedBefore = await figure(httpPort2, 'translations_patched');
    const incrementalBefore = await figure(httpPort2, 'publishes_incremental');
    await objects.put(sliceKey, kubeObjectCodec.encode({ ...slice, endpoints: [{ addresses: ['127.0.0.13'], conditions: { ready: true } }] }));
    await waitFor('the new endpoint published', async () => (await figure(httpPort2, 'resources_written')) === written + 2, 15000);
    const changedCla = decodeResource('endpoint', envelopeBytes(xdsResourceCodec.decode((await present(xds, endpointKey))!)));
    assert.match(JSON.stringify(changedCla), /127\.0\.0\.13/);
    assert.equal(await figure(httpPort2, 'translations_patched'), patchedBefore + 1);
    assert.equal(await figure(httpPort2, 'publishes_incremental'), incrementalBefore + 1);
    const keys: string[] = [];
    for await (const key of await xds.keys()) if (key !== XDS_GENERATION_KEY) keys.push(key); // no await inside: the key listing would end early
    const entries: [string, string][] = [];
    for (const key of keys) entries.push([key, xdsResourceCodec.decode((await present(xds, key))!).hash]);
    const patchedMarker = xdsGenerationCodec.decode((await present(xds, XDS_GENERATION_KEY))!);
    assert.equal(patchedMarker.count, 6);
    assert.equal(patchedMarker.digest, generationDigest(entries), 'the marker names exactly what the bucket holds');
    const patchedEntry = lbServiceCodec.decode((await present(lb, lbKey({ cluster: 'c1', namespace: 'default', name: 'echo' })))!);
    assert.deepEqual(patchedEntry.backends.map((b) => `${b.address}:${b.port} ${b.state}`), ['127.0.0.13:50051 active']);

    // A plain Service created, then deleted: each patched and published alone (its resources and LB
    // entry put, then removed), the marker naming exactly what the bucket holds each time.
    const plainKey = objectKey({ cluster: 'c1', kind: 'service', namespace: 'default', name: 'plain' });
    const plainCluster = xdsKey({ type: 'cluster', name: 'default/plain:80' });
    const bucketDigest = async () => {
      const held: string[] = [];
      for await (const key of await xds.keys()) if (key !== XDS_GENERATION_KEY) held.push(key);
      const pairs: [string, string][] = [];
      for (const key of held) pairs.push([key, xdsResourceCodec.decode((await present(xds, key))!).hash]);
      return generationDigest(pairs);
    };
    const plainBefore = await figure(httpPort2, 'publishes_incremental');
    await objects.put(plainKey, kubeObjectCodec.encode({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'plain', namespace: 'default' }, spec: { clusterIP: '127.96.0.11', ports: [{ name: 'http', port: 80 }] } } as KubeObject));
    await waitFor('the new Service published', async () => (await present(xds, plainCluster)) !== undefined && (await figure(httpPort2, 'publishes_incremental')) === plainBefore + 1, 15000);
    assert.ok(await present(lb, lbKey({ cluster: 'c1', namespace: 'default', name: 'plain' })));
    await waitFor('marker of the bucket with it', async () => xdsGenerationCodec.decode((await present(xds, XDS_GENERATION_KEY))!).digest === (await bucketDigest()), 15000);
    await objects.delete(plainKey);
    await waitFor('the deleted Service unpublished', async () => (await present(xds, plainCluster)) === undefined && (await figure(httpPort2, 'publishes_incremental')) === plainBefore + 2, 15000);
    assert.equal(await present(lb, lbKey({ cluster: 'c1', namespace: 'default', name: 'plain' })), undefined);
    await waitFor('marker of the bucket without it', async () => {
      const plainMarker = xdsGenerationCodec.decode((await present(xds, XDS_GENERATION_KEY))!);
      return plainMarker.count === 6 && plainMarker.digest === (await bucketDigest());
    }, 15000);

    // Deleting the objects removes the resources and the LB entry, and moves the generation on.
    await objects.delete(sliceKey);
    await objects.delete(serviceKey);
    await waitFor('xDS keys removed', async () => !(await present(xds, clusterKey)) && !(await present(xds, endpointKey)), 15000);
    await waitFor('LB entry removed', async () => !(await present(lb, lbKey({ cluster: 'c1', namespace: 'default', name: 'echo' }))), 15000);
    const after = await waitFor('marker for the empty batch', async () => {
      const value = xdsGenerationCodec.decode((await present(xds, XDS_GENERATION_KEY))!);
      return value.count === 0 ? value : undefined;
    });
    assert.ok(after.generation > marker.generation);
    assert.equal(await figure(httpPort2, 'xds_resources'), 0);
    assert.equal(await figure(httpPort2, 'lb_entries'), 0);
  } catch (error) {
    console.error(log.join(''));
    throw error;
  }
});
