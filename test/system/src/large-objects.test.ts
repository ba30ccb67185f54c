/**
 * Objects as large as an API server stores, on a nats-server left at its default max_payload (1 MiB):
 * a 1.2 MiB Service and an Ingress with 50,000 paths (about 4 MB of JSON) dropped into the manifest
 * folder reach `tendril-objects` whole (read back by the contract's chunk rules, as any reader
 * would), and the Ingress's RouteConfiguration, several MB, is served whole to an ADS client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, XDS_TYPES, chunkKeys, decodeChunkedHead, isChunkKey, sha256Hex, xdsKey } from '@tendril/contract';
import { AdsTestClient, waitFor } from '@tendril/testing';
import { System } from './system.js';

const RANGES = 70000;
const PATHS = 50000;
const pathOf = (i: number) => `/${i.toString(36)}`;
/** 198.18.0.0/15, one /32 each: about 18 bytes of JSON per entry. */
const rangeOf = (i: number) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;

function bigService(): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'big', namespace: 'default' },
    spec: { type: 'LoadBalancer', clusterIP: '127.96.90.1', ports: [{ name: 'http', port: 80, targetPort: 8080 }], loadBalancerSourceRanges: Array.from({ length: RANGES }, (_, i) => rangeOf(i)) },
  };
}

function manyPaths(): object[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'w', namespace: 'default' }, spec: { clusterIP: '127.96.90.2', ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'paths', namespace: 'default' },
      spec: {
        ingressClassName: 'cilium',
        rules: [{ http: { paths: Array.from({ length: PATHS }, (_, i) => ({ path: pathOf(i), pathType: 'Prefix', backend: { service: { name: 'w', port: { number: 80 } } } })) } }],
      },
    },
  ];
}

/** A value read as the contract says: the head, or the chunks it names, checked against its digest. */
async function readValue(kv: KV, key: string): Promise<Uint8Array | undefined> {
  const entry = await kv.get(key);
  if (!entry || entry.operation !== 'PUT') return undefined;
  const head = decodeChunkedHead(entry.value);
  if (!head) return entry.value;
  const parts: Uint8Array[] = [];
  for (const chunk of chunkKeys(key, head)) parts.push((await kv.get(chunk))!.value);
  const bytes = Buffer.concat(parts);
  assert.equal(sha256Hex(bytes), head.sha256, `${key}: the chunks make the value its head names`);
  return bytes;
}

describe('objects larger than max_payload flow through every bucket and the xds-server', { timeout: 600000 }, () => {
  const system = new System('large', { nats: { maxPayload: 1024 * 1024 } });
  let nc: NatsConnection;
  let ads: AdsTestClient | undefined;

  before(async () => {
    await system.start(['k8s-watcher', 'translator', 'xds-server']);
    nc = await connect(system.observer);
  });

  after(async () => {
    ads?.close();
    await nc?.close();
    await system.dispose();
  });

  it('a 1.2 MiB Service reaches tendril-objects whole and its cluster is served', async () => {
    const text = JSON.stringify(bigService());
    assert.ok(text.length > 1.2 * 1024 * 1024, `the manifest is ${text.length} bytes`);
    system.writeManifest('big-service.json', text);
    const objects = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
    const stored = await waitFor('the Service in tendril-objects', () => readValue(objects, 'default.service.default.big'), 120000);
    const service = JSON.parse(new TextDecoder().decode(stored)) as { spec: { loadBalancerSourceRanges: string[] } };
    assert.equal(service.spec.loadBalancerSourceRanges.length, RANGES);
    assert.equal(service.spec.loadBalancerSourceRanges.at(-1), rangeOf(RANGES - 1));
    ads = new AdsTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'large-proxy' }, { 'grpc.max_receive_message_length': -1 });
    ads.subscribe(XDS_TYPES.cluster);
    await ads.waitFor(XDS_TYPES.cluster, (r) => r.resources.some((c) => c['name'] === 'default/big:80'), 60000);
  });

  it('a 50,000-path Ingress reaches tendril-objects whole, and its RouteConfiguration reaches an ADS client with every route', async () => {
    const [service, ingressObject] = manyPaths();
    system.writeManifest('w-service.json', JSON.stringify(service));
    system.writeManifest('many-paths.json', JSON.stringify(ingressObject));
    const objects = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
    const stored = await waitFor('the Ingress in tendril-objects', () => readValue(objects, 'default.ingress.default.paths'), 240000);
    const ingress = JSON.parse(new TextDecoder().decode(stored)) as { spec: { rules: { http: { paths: { path: string }[] } }[] } };
    assert.equal(ingress.spec.rules[0]!.http.paths.length, PATHS);

    const routeName = 'default/cilium-ingress-paths/insecure';
    const xds = await nc.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    const envelope = await waitFor('the RouteConfiguration in tendril-xds', () => readValue(xds, xdsKey({ type: 'route', name: routeName })), 240000);
    assert.ok(envelope.length > 1024 * 1024, `the route configuration's entry (${envelope.length} bytes) is over max_payload`);

    ads ??= new AdsTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'large-proxy' }, { 'grpc.max_receive_message_length': -1 });
    ads.subscribe(XDS_TYPES.route, [routeName]);
    const response = await ads.waitFor(XDS_TYPES.route, (r) => r.resources.some((c) => c['name'] === routeName), 120000);
    const route = response.resources.find((c) => c['name'] === routeName) as { virtualHosts: { routes: { match: Record<string, unknown> }[] }[] };
    const matches = new Set(route.virtualHosts.flatMap((host) => host.routes.map((r) => JSON.stringify(r.match))));
    const missing = Array.from({ length: PATHS }, (_, i) => pathOf(i)).filter((path) => ![...['prefix', 'path', 'pathSeparatedPrefix']].some((field) => matches.has(JSON.stringify({ [field]: path }))));
    assert.ok(route.virtualHosts.flatMap((host) => host.routes).length >= PATHS, 'a route per path at least');
    assert.deepEqual(missing.slice(0, 5), [], `every path has its route (${missing.length} missing; a match looks like ${[...matches][0]})`);
    assert.ok(response.acked, 'the client took it');

    // removing the file removes the object and every chunk it left
    system.removeManifest('many-paths.json');
    await waitFor('the Ingress removed', async () => (await objects.get('default.ingress.default.paths'))?.operation !== 'PUT', 120000);
    await waitFor('no chunk of it left', async () => {
      for await (const key of await objects.keys()) if (isChunkKey(key) && key.startsWith('default.ingress.default.paths.')) return false;
      return true;
    }, 60000);
  });
});
