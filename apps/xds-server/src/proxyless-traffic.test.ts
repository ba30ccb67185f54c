// Real proxyless gRPC clients (@grpc/grpc-js-xds) bootstrapped to the real xds-server process, making real
// calls to real gRPC backends on 127.0.0.1: a weighted split, header-matched routes, an endpoint drained by
// a new ClusterLoadAssignment, a restart of the xds-server while calls continue, and a failover from one
// replica to another behind one address (as a Kubernetes Service puts them).
import assert from 'node:assert/strict';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { type XdsType, xdsEnvelope } from '@tendril/contract';
import { encodeResource, validateResource } from '@tendril/envoy';
import { freePort, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { apiListener, echoService, registerProxyless } from './testing/proxyless.js';
import { TestXdsBucket, startXdsServer as startXdsProcess, type XdsServerProcess } from './testing/xds-process.js';

type EchoClient = grpc.Client & { Say: (req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Buffer) => void) => void };
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo') as unknown as new (target: string, creds: grpc.ChannelCredentials) => EchoClient;

/** A gRPC backend that answers with its own name and counts the calls it served. */
interface Backend {
  name: string;
  port: number;
  hits: number;
  server: grpc.Server;
}
const backends: Record<'a' | 'b' | 'd1' | 'd2', Backend> = {} as never;

let nats: TestNatsServer;
let nc: NatsConnection;
let bucket: TestXdsBucket;
let xdsServer: XdsServerProcess | undefined;
let grpcPort: number;
let httpPort: number;
/** The address clients are bootstrapped to, standing for the Service in front of the replicas. */
let front: Server;
let frontPort: number;
/** Replica ports the front tries in order for each new connection (a dead one refuses it). */
const replicaPorts: number[] = [];
const frontSockets = new Set<Socket>();
let replicaB: XdsServerProcess | undefined;
let output = '';
const clients: EchoClient[] = [];

async function startBackend(name: string): Promise<Backend> {
  const backend: Backend = { name, port: 0, hits: 0, server: new grpc.Server() };
  backend.server.addService(echoService, {
    Say: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      backend.hits++;
      done(null, Buffer.from(name));
    },
  });
  backend.port = await new Promise<number>((resolve, reject) => backend.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return backend;
}

function route(name: string, routes: object[]): [XdsType, object] {
  return ['route', { name, virtualHosts: [{ name, domains: ['*'], routes }] }];
}
function cluster(name: string, ...members: Backend[]): [XdsType, object][] {
  return [
    ['cluster', { name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } }, lbPolicy: 'ROUND_ROBIN', connectTimeout: '1s' }],
    endpoints(name, ...members),
  ];
}
function endpoints(clusterName: string, ...members: Backend[]): [XdsType, object] {
  return [
    'endpoint',
    {
      clusterName,
      endpoints: [{ locality: { region: 'local', zone: 'a' }, loadBalancingWeight: 1, lbEndpoints: members.map((b) => ({ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: b.port } } } })) }],
    },
  ];
}

/** Writes resources as envelopes into tendril-xds, then a new generation marker covering the whole bucket. */
async function publish(resources: [XdsType, object][]): Promise<void> {
  const envelopes = resources.map(([type, resource]) => {
    assert.deepEqual(validateResource(type, resource), [], `${type} is valid`);
    const named = resource as { name?: string; clusterName?: string };
    return xdsEnvelope(type, String(named.name ?? named.clusterName), encodeResource(type, resource));
  });
  await bucket.publish({ put: envelopes });
}

function spawnReplica(xdsPort: number, statusPort: number): Promise<XdsServerProcess> {
  return startXdsProcess(nats.url, { grpcPort: xdsPort, httpPort: statusPort, readyTimeoutMs: 30000, onOutput: (d) => (output += d) });
}

async function startXdsServer(): Promise<void> {
  xdsServer = await spawnReplica(grpcPort, httpPort);
}

/** A TCP front: each connection goes to the first replica that accepts it, and ends when that one does. */
async function startFront(): Promise<void> {
  front = createServer((downstream) => {
    frontSockets.add(downstream);
    downstream.on('close', () => frontSockets.delete(downstream));
    downstream.on('error', () => downstream.destroy());
    const attempt = (index: number) => {
      if (index >= replicaPorts.length) return downstream.destroy();
      const upstream = connectTcp(replicaPorts[index]!, '127.0.0.1');
      upstream.once('error', () => attempt(index + 1)); // refused: that replica is down
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => downstream.destroy());
        upstream.on('close', () => downstream.destroy());
        downstream.on('close', () => upstream.destroy());
        downstream.pipe(upstream).pipe(downstream);
      });
    };
    attempt(0);
  });
  frontPort = await new Promise<number>((resolve) => front.listen(0, '127.0.0.1', () => resolve((front.address() as { port: number }).port)));
}

async function stopXdsServer(): Promise<void> {
  await xdsServer?.stop();
}

function client(service: string): EchoClient {
  const c = new EchoClient(`xds:///${service}`, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}

/** One unary call; resolves with the name of the backend that answered. */
function say(c: EchoClient, metadata = new grpc.Metadata(), deadlineMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => c.Say(Buffer.from('hi'), metadata, { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r.toString()))));
}

/** Calls back to back until stop(): which backend answered how often, the successes and the failures. */
interface Load {
  seen: Map<string, number>;
  ok: number;
  failures: string[];
  stop(): Promise<void>;
}
function keepCalling(c: EchoClient): Load {
  let running = true;
  const load: Load = {
    seen: new Map(),
    ok: 0,
    failures: [],
    stop: async () => {
      running = false;
      await calls;
    },
  };
  const calls = (async () => {
    while (running) {
      try {
        const name = await say(c, undefined, 10000);
        load.seen.set(name, (load.seen.get(name) ?? 0) + 1);
        load.ok++;
      } catch (error) {
        load.failures.push((error as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return load;
}

/** Runs a test body and adds the xds-server's output to its failure. */
async function withOutput(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    throw new Error(`${(error as Error).message}\nxds-server output:\n${output.slice(-6000)}`);
  }
}

before(async () => {
  for (const name of ['a', 'b', 'd1', 'd2'] as const) backends[name] = await startBackend(name);
  const { a, b, d1, d2 } = backends;

  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  bucket = await TestXdsBucket.open(nc);
  await publish([
    apiListener('split.test', 'split-route'),
    route('split-route', [{ match: { prefix: '' }, route: { weightedClusters: { clusters: [{ name: 'split-a', weight: 75 }, { name: 'split-b', weight: 25 }] } } }]),
    ...cluster('split-a', a),
    ...cluster('split-b', b),
    apiListener('header.test', 'header-route'),
    route('header-route', [
      { match: { prefix: '', headers: [{ name: 'x-tendril-lane', stringMatch: { exact: 'canary' } }] }, route: { cluster: 'header-a' } },
      { match: { prefix: '' }, route: { cluster: 'header-b' } },
    ]),
    ...cluster('header-a', a),
    ...cluster('header-b', b),
    apiListener('drain.test', 'drain-route'),
    route('drain-route', [{ match: { prefix: '' }, route: { cluster: 'drain' } }]),
    ...cluster('drain', d1, d2),
    apiListener('restart.test', 'restart-route'),
    route('restart-route', [{ match: { prefix: '' }, route: { cluster: 'restart' } }]),
    ...cluster('restart', a),
  ]);

  [grpcPort, httpPort] = [await freePort(), await freePort()];
  await startXdsServer();
  replicaPorts.push(grpcPort);
  await startFront();
  await registerProxyless(`127.0.0.1:${frontPort}`, 'proxyless-traffic');
});

after(async () => {
  for (const c of clients) c.close();
  for (const backend of Object.values(backends)) backend?.server.forceShutdown();
  await stopXdsServer();
  await replicaB?.stop('SIGKILL');
  for (const socket of frontSockets) socket.destroy();
  front?.close();
  await nc?.close();
  await nats?.dispose();
});

it('a 75/25 weighted split lands within binomial tolerance over 400 calls', { timeout: 90000 }, () =>
  withOutput(async () => {
    const c = client('split.test');
    await say(c, undefined, 30000); // the first call waits for LDS/RDS/CDS/EDS
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const name = await say(c);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const toA = counts.get('a') ?? 0;
    assert.equal(toA + (counts.get('b') ?? 0), 400, `only the two split clusters answer: ${JSON.stringify([...counts])}`);
    // 75% ± 7% is more than 3 standard deviations (sqrt(400 * 0.75 * 0.25) = 8.7 calls) either side.
    assert.ok(toA >= 272 && toA <= 328, `split-a got ${toA}/400 calls, expected 300 ± 28`);
  }));

it('header-matched routes: a call with the header goes to cluster A, one without it to cluster B', { timeout: 60000 }, () =>
  withOutput(async () => {
    const c = client('header.test');
    const canary = new grpc.Metadata();
    canary.set('x-tendril-lane', 'canary');
    const other = new grpc.Metadata();
    other.set('x-tendril-lane', 'stable');
    assert.equal(await say(c, canary, 30000), 'a');
    for (let i = 0; i < 20; i++) {
      assert.equal(await say(c, canary), 'a', `call ${i} with x-tendril-lane: canary`);
      assert.equal(await say(c), 'b', `call ${i} without the header`);
      assert.equal(await say(c, other), 'b', `call ${i} with x-tendril-lane: stable`);
    }
  }));

it('removing an endpoint drains it: no new call reaches it and calls keep succeeding', { timeout: 90000 }, () =>
  withOutput(async () => {
    const { d1, d2 } = backends;
    const c = client('drain.test');
    await say(c, undefined, 30000);
    const before = new Set<string>();
    for (let i = 0; i < 20; i++) before.add(await say(c));
    assert.deepEqual([...before].sort(), ['d1', 'd2'], 'round robin over both endpoints before the change');

    await publish([endpoints('drain', d1)]);
    // Calls keep going (each must succeed) until the client has the new assignment: 20 calls in a row on d1.
    let streak = 0;
    let calls = 0;
    await waitFor(
      'd2 drained from the client',
      async () => {
        calls++;
        streak = (await say(c)) === 'd1' ? streak + 1 : 0;
        return streak >= 20;
      },
      45000,
      10,
    );
    const d2Hits = d2.hits;
    for (let i = 0; i < 100; i++) assert.equal(await say(c), 'd1', `call ${i} after the drain`);
    assert.equal(d2.hits, d2Hits, 'the removed endpoint (still running) got no new call');
    assert.ok(calls < 2000, `the drain reached the client after ${calls} calls`);
  }));

it('calls keep succeeding while the xds-server restarts, and the client follows the new process', { timeout: 120000 }, () =>
  withOutput(async () => {
    const { b } = backends;
    const c = client('restart.test');
    assert.equal(await say(c, undefined, 30000), 'a');
    const load = keepCalling(c);
    try {
      await waitFor('calls flowing', () => load.ok >= 20, 30000, 20);
      await stopXdsServer();
      const duringDown = load.ok;
      await waitFor('calls flowing while the xds-server is down', () => load.ok >= duringDown + 20, 30000, 20);
      await startXdsServer();
      // The client must be fed by the new process: point the cluster at b and see calls land there.
      await publish([endpoints('restart', b)]);
      await waitFor('calls reach b through the restarted xds-server', () => (load.seen.get('b') ?? 0) >= 20, 60000, 50);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures, [], `every call succeeded (${load.ok} did)`);
    assert.ok((load.seen.get('a') ?? 0) >= 40, 'calls reached a before and during the restart');
  }));

it('a replica failover keeps calls succeeding: killed replica A, the client reconnects through the front to B and follows it', { timeout: 120000 }, () =>
  withOutput(async () => {
    const { a, b } = backends;
    const [bGrpc, bHttp] = [await freePort(), await freePort()];
    replicaB = await spawnReplica(bGrpc, bHttp);
    replicaPorts.push(bGrpc);
    await publish([endpoints('restart', a)]);
    const c = client('restart.test');
    await waitFor('calls reach a', async () => (await say(c, undefined, 30000)) === 'a', 60000, 50);
    const load = keepCalling(c);
    try {
      await waitFor('calls flowing', () => load.ok >= 20, 30000, 20);
      await xdsServer!.stop('SIGKILL'); // a crash: no goodbye to the proxies
      // Only replica B can feed the client now: point the cluster at b and see the calls follow.
      await publish([endpoints('restart', b)]);
      await waitFor('calls reach b through replica B', () => (load.seen.get('b') ?? 0) >= 20, 60000, 50);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures, [], `every call succeeded (${load.ok} did)`);
    assert.ok((load.seen.get('a') ?? 0) >= 20, 'calls reached a before the failover');
  }));
