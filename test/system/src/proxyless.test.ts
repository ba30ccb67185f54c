/**
 * Proxyless gRPC, end to end: the seed's gRPC Service (io.cilium/lb-protocol grpc, lb-mode
 * weighted-least-request) and its EndpointSlice dropped into the manifest folder; a real
 * @grpc/grpc-js-xds client dialling `xds:///backend.default.svc.cluster.local:80` through the real
 * xds-server reaches both gRPC backends with no proxy, and ACKs every resource type (the cluster's
 * least-request policy is sent as load_balancing_policy with round robin after it, which gRPC takes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import { BUCKETS, nodeToken, proxyStateCodec } from '@tendril/contract';
import { waitFor } from '@tendril/testing';
import { System } from './system.js';

const BACKENDS = ['127.0.78.1', '127.0.78.2'];
const TARGET = 'xds:///backend.default.svc.cluster.local:80';
const NODE_ID = `proxyless-${process.pid}`;

const raw = (b: Buffer) => b;
const echoService = {
  Say: { path: '/tendril.test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
} satisfies grpc.ServiceDefinition;
type EchoClient = grpc.Client & { Say(request: Buffer, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply: Buffer) => void): void };

function manifest(port: number): string {
  return `# the seed, unchanged
apiVersion: v1
kind: Service
metadata:
  name: backend
  annotations:
    io.cilium/lb-protocol: "grpc"
    io.cilium/lb-mode: "weighted-least-request"
spec:
  type: ClusterIP
  ports:
  - port: 80
  selector:
    name: backend
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-1
  labels:
    kubernetes.io/service-name: backend
addressType: IPv4
ports:
- port: ${port}
endpoints:
${BACKENDS.map((ip) => `- addresses: [${ip}]`).join('\n')}
`;
}

describe('proxyless gRPC: Service manifest -> translator -> xds-server -> @grpc/grpc-js-xds client', { timeout: 180000 }, () => {
  const system = new System('proxyless');
  const servers: grpc.Server[] = [];
  let nc: NatsConnection;
  let port = 0;

  before(async () => {
    port = 21000 + (process.pid % 20000);
    for (const ip of BACKENDS) {
      const server = new grpc.Server();
      server.addService(echoService, { Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, Buffer.from(ip)) });
      await new Promise<void>((resolve, reject) => server.bindAsync(`${ip}:${port}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
      servers.push(server);
    }
    await system.start();
    // a least-privilege observer where the system runs NATS with users, else the open server
    nc = await connect((system as { observer?: ConnectionOptions }).observer ?? { servers: system.nats.url });
    process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${system.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: NODE_ID, cluster: 'system-test', locality: {} },
    });
    (await import('@grpc/grpc-js-xds')).register();
  });

  after(async () => {
    for (const server of servers) server.forceShutdown();
    await nc?.close();
    await system.dispose();
  });

  it('calls reach both backends, and every xDS type is ACKed', async () => {
    system.writeManifest('backend.yaml', manifest(port));
    const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
    const client = new Client(TARGET, grpc.credentials.createInsecure()) as unknown as EchoClient;
    const call = () => new Promise<string>((resolve, reject) => client.Say(Buffer.from('hi'), { deadline: Date.now() + 5000 }, (error, reply) => (error ? reject(error) : resolve(reply.toString()))));
    try {
      const seen = await waitFor(
        'both backends answer through xds:///',
        async () => {
          const replies = new Set<string>();
          for (let i = 0; i < 20; i++) replies.add(await call().catch(() => 'error'));
          return replies.size === 2 && !replies.has('error') ? replies : undefined;
        },
        60000,
      );
      assert.deepEqual([...seen].sort(), BACKENDS);
      const proxies = await nc.jetstream().views.kv(BUCKETS.proxies, { bindOnly: true });
      const state = await waitFor('the client ACKs every type in tendril-proxies', async () => {
        const entry = await proxies.get(nodeToken(NODE_ID));
        const decoded = entry?.value.length ? proxyStateCodec.decode(entry.value) : undefined;
        return decoded && decoded.types.length === 4 && decoded.types.every((type) => type.versionAcked !== '' && !type.lastNack) ? decoded : undefined;
      });
      const subscribed = Object.fromEntries(state.types.map((type) => [type.typeUrl.split('.').pop(), type.subscribed]));
      assert.deepEqual(subscribed, {
        Cluster: ['default/backend:80'],
        ClusterLoadAssignment: ['default/backend:80'],
        Listener: ['backend.default.svc.cluster.local:80'],
        RouteConfiguration: ['backend.default.svc.cluster.local:80'],
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${system.dumpOutput()}`);
    } finally {
      client.close();
    }
  });
});
