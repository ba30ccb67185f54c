import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import * as grpc from '@grpc/grpc-js';
import { BUCKETS, XDS_TYPES, type XdsResourceEnvelope, nodeToken, proxyStateCodec, xdsEnvelope } from '@tendril/contract';
import { encodeResource, typedDiscoveryServices } from '@tendril/envoy';
import { AdsTestClient, DeltaTestClient, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { TestXdsBucket, edsCluster, startXdsServer, tlsListener, type XdsServerProcess } from './testing/xds-process.js';

const CDS = XDS_TYPES.cluster;
const EDS = XDS_TYPES.endpoint;
const RDS = XDS_TYPES.route;
const SDS = XDS_TYPES.secret;

const assignment = (name: string, port: number) =>
  xdsEnvelope('endpoint', name, encodeResource('endpoint', { clusterName: name, endpoints: [{ locality: {}, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }] }));
const route = (name: string, clusterName: string) =>
  xdsEnvelope('route', name, encodeResource('route', { name, virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: clusterName } }] }] }));
const secret = (name: string, nodeIds: string[]) =>
  xdsEnvelope('secret', name, encodeResource('secret', { name, genericSecret: { secret: { inlineString: 'not for everyone' } } }), { nodeIds });

describe('xds-server: delta xDS and the per-type services', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let bucket: TestXdsBucket;
  let grpcPort: number;
  let output = '';
  const clients: { close(): void }[] = [];
  const replicas: XdsServerProcess[] = [];

  const publish = (changes: { put?: XdsResourceEnvelope[]; remove?: XdsResourceEnvelope[] }) => bucket.publish(changes);
  const address = () => `127.0.0.1:${grpcPort}`;
  function delta(nodeId: string, options: Partial<ConstructorParameters<typeof DeltaTestClient>[1]> = {}): DeltaTestClient {
    const created = new DeltaTestClient(address(), { nodeId, nodeCluster: 'test', ...options });
    clients.push(created);
    return created;
  }
  const names = (r: { resources: { name: string }[] }) => r.resources.map((x) => x.name).sort();
  const quiet = () => new Promise((resolve) => setTimeout(resolve, 400));

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    bucket = await TestXdsBucket.open(nc);
    await publish({ put: [edsCluster('default/a'), assignment('default/a', 8081), edsCluster('default/b'), assignment('default/b', 8082), secret('gw/cert', ['gateway-1']), tlsListener('gw/443', ['gw/cert'], ['gateway-1'])] });
    ({ grpcPort } = await startReplica('replica-1'));
  });

  async function startReplica(instance: string, extraEnv: Record<string, string> = {}): Promise<XdsServerProcess> {
    const replica = await startXdsServer(nats.url, { env: extraEnv, name: `xds-server ${instance} ready`, onOutput: (d) => (output += d) });
    replicas.push(replica);
    return replica;
  }

  after(async () => {
    for (const c of clients) c.close();
    for (const replica of replicas) await replica.stop();
    await nc.close();
    await nats.dispose();
  });

  it('delta ADS: wildcard CDS, named EDS, per-resource versions, only changes pushed, ACKs recorded', async () => {
    const proxy = delta('delta-1');
    proxy.subscribe(CDS);
    const clusters = await proxy.waitFor(CDS);
    assert.deepEqual(names(clusters), ['default/a', 'default/b']);
    assert.ok(clusters.resources.every((r) => /^[0-9a-f]{64}$/.test(r.version)));
    proxy.subscribe(EDS, ['default/a']);
    const endpoints = await proxy.waitFor(EDS);
    assert.deepEqual(names(endpoints), ['default/a']);
    await publish({ put: [assignment('default/a', 9091), assignment('default/b', 9092)] });
    const changed = await proxy.waitFor(EDS, (r) => r !== endpoints);
    assert.deepEqual(names(changed), ['default/a'], 'only the subscribed name, only what changed');
    await quiet();
    assert.equal(proxy.responses.filter((r) => r.typeUrl === CDS).length, 1, 'clusters did not change: nothing pushed');
    const state = await waitFor('delta ACKs in tendril-proxies', async () => {
      const entry = await (await nc.jetstream().views.kv(BUCKETS.proxies, { bindOnly: true })).get(nodeToken('delta-1'));
      const decoded = entry?.value.length ? proxyStateCodec.decode(entry.value) : undefined;
      return decoded?.types.find((t) => t.typeUrl === EDS)?.versionAcked === changed.systemVersionInfo ? decoded : undefined;
    });
    assert.deepEqual(state.types.map((t) => [t.typeUrl, t.subscribed]), [[CDS, []], [EDS, ['default/a']]]);
  });

  it('a reconnect with initial_resource_versions gets only what changed meanwhile, and the removals', async () => {
    const first = delta('delta-2');
    first.subscribe(CDS);
    await first.waitFor(CDS);
    const held = first.versions(CDS);
    first.close();
    await publish({ put: [edsCluster('default/c'), edsCluster('default/b', '5s')], remove: [edsCluster('default/a'), assignment('default/a', 0)] });
    const again = delta('delta-2');
    again.subscribe(CDS, [], held);
    const update = await again.waitFor(CDS);
    assert.deepEqual(names(update), ['default/b', 'default/c']);
    assert.deepEqual(update.removedResources, []);
    const removal = await again.waitFor(CDS, (r) => r.removedResources.length > 0);
    assert.deepEqual(removal.removedResources, ['default/a']);
    assert.deepEqual(removal.resources, []);
    assert.deepEqual(Object.keys(again.versions(CDS)).sort(), ['default/b', 'default/c']);
  });

  it('removals wait for the ACK of the additions that replace them (make before break)', async () => {
    const proxy = delta('delta-3', { holdAcks: true });
    proxy.subscribe(CDS);
    proxy.subscribe(RDS, ['r']);
    await proxy.waitFor(CDS);
    proxy.release();
    await publish({ put: [route('r', 'default/c')] });
    await proxy.waitFor(RDS);
    proxy.release();
    await publish({ put: [edsCluster('default/d'), route('r', 'default/d')], remove: [edsCluster('default/c')] });
    await proxy.waitFor(RDS, (r) => r.resources.length === 1 && JSON.stringify(r.resources[0]!.resource).includes('default/d'));
    const added = proxy.responses.find((r) => r.typeUrl === CDS && r.resources.some((x) => x.name === 'default/d'))!;
    assert.ok(proxy.responses.indexOf(added) < proxy.responses.findLastIndex((r) => r.typeUrl === RDS), 'the cluster goes out before the route naming it');
    await quiet();
    assert.ok(!proxy.responses.some((r) => r.removedResources.includes('default/c')), 'default/c removed before its replacement was ACKed');
    proxy.release();
    const removal = await proxy.waitFor(CDS, (r) => r.removedResources.includes('default/c'));
    assert.deepEqual(removal.resources, []);
  });

  it('a NACKed version is not resent; the next push carries a new version', async () => {
    const proxy = delta('delta-4');
    proxy.subscribe(CDS);
    await proxy.waitFor(CDS);
    proxy.nack(CDS, 'cluster default/b: bad timeout');
    await publish({ put: [edsCluster('default/b', '7s')] });
    const rejected = await proxy.waitFor(CDS, (r) => r.acked === false);
    const nack = await waitFor('the NACK naming default/b in tendril-proxies', async () => {
      const entry = await (await nc.jetstream().views.kv(BUCKETS.proxies, { bindOnly: true })).get(nodeToken('delta-4'));
      return entry?.value.length ? proxyStateCodec.decode(entry.value).types.find((t) => t.lastNack)?.lastNack : undefined;
    });
    assert.deepEqual(nack!.resources, ['default/b']);
    await publish({ put: [edsCluster('default/b', '7s'), edsCluster('default/e')] });
    const next = await proxy.waitFor(CDS, (r) => r.resources.some((x) => x.name === 'default/e'));
    assert.deepEqual(names(next), ['default/e'], 'the rejected default/b is not sent again');
    await publish({ put: [edsCluster('default/b', '8s')] });
    const fixed = await proxy.waitFor(CDS, (r) => r.resources.some((x) => x.name === 'default/b' && x.version !== rejected.resources[0]!.version));
    assert.notEqual(fixed.systemVersionInfo, rejected.systemVersionInfo);
  });

  it('a node a Secret is not meant for does not get it, even by name; the one it is for does', async () => {
    const other = delta('sidecar-9');
    other.subscribe(SDS, ['gw/cert']);
    const answer = await other.waitFor(SDS);
    assert.deepEqual(answer.resources, []);
    assert.deepEqual(answer.removedResources, ['gw/cert'], 'told it does not exist');
    const sotw = new AdsTestClient(address(), { nodeId: 'sidecar-9' });
    clients.push(sotw);
    sotw.subscribe(SDS, ['gw/cert']);
    assert.deepEqual((await sotw.waitFor(SDS)).resources, []);
    const gateway = delta('gateway-1');
    gateway.subscribe(SDS, ['gw/cert']);
    const served = await gateway.waitFor(SDS);
    assert.deepEqual(names(served), ['gw/cert']);
  });

  it('a proxy failing over to another replica with its versions gets nothing it already has, then the changes', async () => {
    const second = await startReplica('replica-2');
    const proxy = delta('failover-1');
    proxy.subscribe(CDS);
    proxy.subscribe(EDS, ['default/b']);
    await proxy.waitFor(EDS);
    const held = { clusters: proxy.versions(CDS), endpoints: proxy.versions(EDS) };
    proxy.close();
    const moved = new DeltaTestClient(`127.0.0.1:${second.grpcPort}`, { nodeId: 'failover-1', nodeCluster: 'test' });
    clients.push(moved);
    moved.subscribe(CDS, [], held.clusters);
    moved.subscribe(EDS, ['default/b'], held.endpoints);
    await quiet();
    assert.equal(moved.responses.length, 0, 'the replicas serve identical versions');
    await publish({ put: [assignment('default/b', 9999)] });
    const change = await moved.waitFor(EDS);
    assert.deepEqual(names(change), ['default/b']);
    assert.equal((change.resources[0]!.resource['endpoints'] as { lbEndpoints: { endpoint: { address: { socketAddress: { portValue: number } } } }[] }[])[0]!.lbEndpoints[0]!.endpoint.address.socketAddress.portValue, 9999);
    await quiet();
    assert.deepEqual(moved.responses.map((r) => r.typeUrl), [EDS], 'nothing but the change');
  });

  it('a burst of generations is debounced into fewer pushes, and the ceiling pushes before the burst ends', async () => {
    const debounced = await startReplica('replica-debounced', { TENDRIL_XDS_DEBOUNCE_MS: '400', TENDRIL_XDS_DEBOUNCE_MAX_MS: '600' });
    const proxy = new DeltaTestClient(`127.0.0.1:${debounced.grpcPort}`, { nodeId: 'debounce-1', nodeCluster: 'test' });
    clients.push(proxy);
    const receivedAt = new Map<object, number>();
    proxy.onResponse = (response) => receivedAt.set(response, Date.now());
    proxy.subscribe(CDS);
    await proxy.waitFor(CDS);
    const before = proxy.responses.length;
    const generations = 8;
    let lastPublishedAt = 0;
    for (let i = 1; i <= generations; i++) {
      await publish({ put: [edsCluster('default/burst', `${i}s`)] });
      lastPublishedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const final = await proxy.waitFor(CDS, (r) => r.resources.some((x) => x.name === 'default/burst' && (x.resource['connectTimeout'] as string) === `${generations}s`));
    const pushes = proxy.responses.slice(before);
    const firstAt = receivedAt.get(pushes[0]!)!;
    assert.ok(pushes.length < generations, `${pushes.length} pushes for ${generations} generations`);
    assert.ok(firstAt < lastPublishedAt, 'the ceiling let a push out while changes kept coming');
    assert.equal(pushes.at(-1), final);
  });

  it('per-type services: StreamClusters (state of the world) and DeltaEndpoints share the state machines; Fetch is not served', async () => {
    const sotw = new AdsTestClient(address(), { nodeId: 'typed-1', service: typedDiscoveryServices.cluster });
    clients.push(sotw);
    sotw.subscribe(CDS);
    const clusters = await sotw.waitFor(CDS);
    assert.ok(clusters.resources.length >= 2);
    const eds = delta('typed-2', { service: typedDiscoveryServices.endpoint });
    eds.subscribe(EDS, ['default/b']);
    assert.deepEqual(names(await eds.waitFor(EDS)), ['default/b']);
    // A per-type stream serves its own type only.
    eds.subscribe(CDS, ['*']);
    await quiet();
    assert.equal(eds.responses.filter((r) => r.typeUrl === CDS).length, 0);

    const fetch = typedDiscoveryServices.cluster.fetch;
    const Client = grpc.makeGenericClientConstructor({ Fetch: fetch }, typedDiscoveryServices.cluster.service);
    const raw = new Client(address(), grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Fetch: (request: object, callback: (error: grpc.ServiceError | null) => void) => void;
    };
    const error = await new Promise<grpc.ServiceError | null>((resolve) => raw.Fetch({ typeUrl: CDS, resourceNames: [], versionInfo: '', responseNonce: '', node: { id: 'typed-3', cluster: '' } }, resolve));
    assert.equal(error?.code, grpc.status.UNIMPLEMENTED);
    raw.close();
    assert.ok(!/\berror\b/i.test(output.replace(/NACKed[^\n]*/g, '')), output);
  });
});
