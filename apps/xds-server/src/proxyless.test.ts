// A real proxyless gRPC client (@grpc/grpc-js-xds) routed through this xds-server: API listener with
// RDS over ADS and the router filter, a RouteConfiguration, an EDS cluster and its endpoints.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, type XdsResourceEnvelope, type XdsType, nodeToken, proxyStateCodec, xdsEnvelope } from '@tendril/contract';
import { encodeResource, validateResource } from '@tendril/envoy';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { apiListener, echoService, registerProxyless } from './testing/proxyless.js';
import { TestXdsBucket, startXdsServer, type XdsServerProcess } from './testing/xds-process.js';

let nats: TestNatsServer;
let nc: NatsConnection;
let xdsServer: XdsServerProcess;
let backend: grpc.Server;
let backendPort: number;
let output = '';

function resources(port: number): [XdsType, object][] {
  return [
    apiListener('echo.test', 'echo-route', 'echo'),
    ['route', { name: 'echo-route', virtualHosts: [{ name: 'echo', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: 'echo-cluster' } }] }] }],
    ['cluster', { name: 'echo-cluster', type: 'EDS', edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } }, lbPolicy: 'ROUND_ROBIN', connectTimeout: '1s' }],
    ['endpoint', { clusterName: 'echo-cluster', endpoints: [{ locality: { region: 'local', zone: 'a' }, loadBalancingWeight: 1, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }] }],
  ];
}

before(async () => {
  backend = new grpc.Server();
  backend.addService(echoService, { Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, Buffer.concat([Buffer.from('echo:'), call.request])) });
  backendPort = await new Promise<number>((resolve, reject) => backend.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));

  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const envelopes: XdsResourceEnvelope[] = [];
  for (const [type, resource] of resources(backendPort)) {
    assert.deepEqual(validateResource(type, resource), [], `${type} is valid`);
    envelopes.push(xdsEnvelope(type, String((resource as { name?: string; clusterName?: string }).name ?? (resource as { clusterName: string }).clusterName), encodeResource(type, resource)));
  }
  await (await TestXdsBucket.open(nc)).publish({ put: envelopes });

  xdsServer = await startXdsServer(nats.url, { onOutput: (d) => (output += d) });
  await registerProxyless(xdsServer.address, 'proxyless-1');
});

after(async () => {
  backend?.forceShutdown();
  await xdsServer?.stop();
  await nc?.close();
  await nats?.dispose();
});

it('a unary call through xds:/// reaches the backend the xds-server pointed it at, and every type is ACKed', async () => {
  const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
  const client = new Client('xds:///echo.test', grpc.credentials.createInsecure());
  try {
    const reply = await new Promise<Buffer>((resolve, reject) =>
      (client as unknown as { Say: (req: Buffer, opts: object, cb: (e: Error | null, r: Buffer) => void) => void }).Say(Buffer.from('hi'), { deadline: Date.now() + 15000 }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    assert.equal(reply.toString(), 'echo:hi');
    const proxies = await nc.jetstream().views.kv(BUCKETS.proxies, { bindOnly: true });
    const state = await waitFor('proxyless client ACKs in tendril-proxies', async () => {
      const entry = await proxies.get(nodeToken('proxyless-1'));
      const decoded = entry?.value.length ? proxyStateCodec.decode(entry.value) : undefined;
      return decoded && decoded.types.length === 4 && decoded.types.every((t) => t.versionAcked !== '' && !t.lastNack) ? decoded : undefined;
    });
    assert.deepEqual(state.types.map((t) => t.subscribed), [['echo-cluster'], ['echo-cluster'], ['echo.test'], ['echo-route']]);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nxds-server output:\n${output}`);
  } finally {
    client.close();
  }
});
