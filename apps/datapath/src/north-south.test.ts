import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'nats';
import { BUCKETS, SUBJECTS, flowEventCodec, lbKey, lbServiceCodec, type FlowEvent, type LbService } from '@tendril/contract';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';
import { spawnAgent, startAgent, stopAgent, type AgentProcess } from './testing/agent.js';
import { scratch } from './testing/kernel.js';
import { runIn, startIn, startServer, topology } from './testing/netns.js';

const NODE_PORT = 30080;
const L7_NODE_PORT = 30090;
const LB_ADDRESS = '198.19.1.1';
const EXTERNAL_IP = '198.19.2.1';
const BACKEND_PORT = 8080;

test('north-south: NodePort, LoadBalancer and external IPs from a client namespace, through the tc programs on the node', { timeout: 300000 }, async (t) => {
  const net = topology(2);
  const dir = scratch();
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const processes: ChildProcess[] = [];
  const agents: AgentProcess[] = [];
  t.after(async () => {
    for (const agent of agents) await stopAgent(agent.child, 'SIGKILL');
    for (const child of processes) child.kill('SIGKILL');
    await nc.close();
    await nats.dispose();
    net.dispose();
    dir.dispose();
  });
  const [b0, b1] = net.backendAddresses as [string, string];
  processes.push(await startServer(net.backends[0]!, 'b0', BACKEND_PORT), await startServer(net.backends[1]!, 'b1', BACKEND_PORT));
  const proxyPort = await freePort();
  processes.push(await startServer(net.node, 'proxy', proxyPort, '127.0.0.1'));

  const kv = await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
  const backend = (address: string, protocol: 'TCP' | 'UDP', nodeName: string) => ({ address, port: BACKEND_PORT, protocol, portName: protocol === 'TCP' ? 'http' : 'dns', weight: 1, state: 'active' as const, nodeName });
  const web = (addresses: string[], extra: Partial<LbService> = {}): LbService => ({
    v: 1,
    cluster: 'default',
    namespace: 'shop',
    name: 'web',
    frontends: [
      { address: '198.19.0.10', port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' },
      { address: '0.0.0.0', port: NODE_PORT, protocol: 'TCP', portName: 'http', scope: 'NodePort' },
      { address: '0.0.0.0', port: NODE_PORT, protocol: 'UDP', portName: 'dns', scope: 'NodePort' },
      { address: LB_ADDRESS, port: 80, protocol: 'TCP', portName: 'http', scope: 'LoadBalancer' },
      { address: EXTERNAL_IP, port: 80, protocol: 'TCP', portName: 'http', scope: 'ExternalIP' },
      { address: EXTERNAL_IP, port: 53, protocol: 'UDP', portName: 'dns', scope: 'ExternalIP' },
    ],
    backends: addresses.flatMap((address) => [backend(address, 'TCP', address === b0 ? 'node-a' : 'node-b'), backend(address, 'UDP', address === b0 ? 'node-a' : 'node-b')]),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
    ...extra,
  });
  const key = lbKey({ cluster: 'default', namespace: 'shop', name: 'web' });
  const serve = (service: LbService) => kv.put(key, lbServiceCodec.encode(service));
  const healthPort = await freePort();
  const localKey = lbKey({ cluster: 'default', namespace: 'shop', name: 'local' });
  const local = (addresses: string[]): LbService => ({
    ...web(addresses, { externalTrafficPolicy: 'Local', healthCheckNodePort: healthPort }),
    name: 'local',
    frontends: [{ address: '0.0.0.0', port: NODE_PORT + 1, protocol: 'TCP', portName: 'http', scope: 'NodePort' }],
  });
  const l7Key = lbKey({ cluster: 'default', namespace: 'shop', name: 'gateway' });
  await kv.put(
    l7Key,
    lbServiceCodec.encode({
      ...web([]),
      name: 'gateway',
      frontends: [{ address: '0.0.0.0', port: L7_NODE_PORT, protocol: 'TCP', portName: 'http', scope: 'NodePort' }],
      l7Proxy: { port: proxyPort },
    }),
  );
  await serve(web([b0, b1]));
  // UDP to a port nothing listens on: the backend answers with ICMP port unreachable
  await kv.put(
    lbKey({ cluster: 'default', namespace: 'shop', name: 'closed' }),
    lbServiceCodec.encode({
      ...web([]),
      name: 'closed',
      frontends: [{ address: '0.0.0.0', port: NODE_PORT + 2, protocol: 'UDP', portName: 'dns', scope: 'NodePort' }],
      backends: [{ ...backend(b0, 'UDP', 'node-a'), port: BACKEND_PORT + 1 }],
    }),
  );
  await kv.put(localKey, lbServiceCodec.encode(local([b0, b1])));

  const env = { TENDRIL_NODEPORT_DEVICES: net.devices.join(','), TENDRIL_NODEPORT_NETNS: `/run/netns/${net.node}`, TENDRIL_NODE_NAME: 'node-a' };
  agents.push(await startAgent(dir, nats.url, env));
  const names = (replies: { reply?: string }[]) => new Set(replies.map((reply) => reply.reply?.split(' ')[0]));

  await t.test('TCP to the NodePort reaches every backend, from the node (SNAT: replies come back through it)', async () => {
    const replies = await runIn(net.client, 'tcp', net.nodeAddress, NODE_PORT, 40);
    assert.deepEqual(replies.filter((reply) => reply.error), []);
    assert.deepEqual(names(replies), new Set(['b0', 'b1']));
    for (const reply of replies) {
      const [name, peer] = reply.reply!.split(' ');
      assert.equal(peer, name === 'b0' ? net.nodeBackendSide[0] : net.nodeBackendSide[1], 'the backend sees the node, not the client');
    }
  });

  await t.test('UDP to the NodePort and to an external IP reaches the backends; replies come from the address dialled', async () => {
    const replies = await runIn(net.client, 'udp', net.nodeAddress, NODE_PORT, 20);
    assert.deepEqual(replies.filter((reply) => reply.error), []);
    assert.deepEqual(names(replies), new Set(['b0', 'b1']));
    assert.ok(replies.every((reply) => reply.from === `${net.nodeAddress}:${NODE_PORT}`));
    const external = await runIn(net.client, 'udp', EXTERNAL_IP, 53, 5);
    assert.ok(external.every((reply) => reply.from === `${EXTERNAL_IP}:53` && reply.reply?.startsWith('b')), JSON.stringify(external));
  });

  await t.test('an ICMP error from the backend reaches the client translated back (port unreachable refuses its connected socket)', async () => {
    const [result] = await runIn(net.client, 'udpc', net.nodeAddress, NODE_PORT + 2);
    assert.equal(result!.error, 'ECONNREFUSED');
  });

  await t.test('TCP to a LoadBalancer address and an external IP reaches the backends', async () => {
    for (const address of [LB_ADDRESS, EXTERNAL_IP]) {
      const replies = await runIn(net.client, 'tcp', address, 80, 20);
      assert.deepEqual(replies.filter((reply) => reply.error), [], address);
      assert.deepEqual(names(replies), new Set(['b0', 'b1']), address);
    }
  });

  await t.test('externalTrafficPolicy Local: only the local backend, with the client address; the health check port says so', async () => {
    const replies = await runIn(net.client, 'tcp', net.nodeAddress, NODE_PORT + 1, 20);
    assert.deepEqual(replies.map((reply) => reply.reply), new Array(20).fill(`b0 ${net.clientAddress}`));
    const [healthy] = await runIn(net.client, 'http', net.nodeAddress, healthPort);
    assert.equal(healthy!.status, 200);
    assert.deepEqual(healthy!.body, { service: { namespace: 'shop', name: 'local' }, localEndpoints: 1, serviceProxyHealthy: true });
    // only a backend on another node left: 503, and nothing is sent off the node
    await kv.put(localKey, lbServiceCodec.encode(local([b1])));
    await waitFor('health check 503', async () => (await runIn(net.client, 'http', net.nodeAddress, healthPort))[0]!.status === 503, 60000, 200);
    const none = await runIn(net.client, 'tcp', net.nodeAddress, NODE_PORT + 1, 1);
    assert.equal(none[0]!.error, 'timeout', 'no local backend: dropped, not sent to another node');
  });

  await t.test('an L7 frontend lands on the node proxy listener, which sees the address the client dialled', async () => {
    const replies = await runIn(net.client, 'tcp', net.nodeAddress, L7_NODE_PORT, 5);
    assert.deepEqual(replies.map((reply) => reply.reply), new Array(5).fill(`proxy ${net.nodeAddress}:${L7_NODE_PORT}`));
  });

  await t.test('a backend removed mid-traffic gets no new flow while its established connection keeps working', async () => {
    await serve(web([b0, b1]));
    // a long connection on each backend (flows hash differently: open until both are covered)
    const longs = [];
    const on = new Map<string, ReturnType<typeof startIn>>();
    for (let attempt = 0; attempt < 20 && on.size < 2; attempt++) {
      const client = startIn(net.client, 'long', net.nodeAddress, NODE_PORT);
      longs.push(client);
      const first = await waitFor('first answer', () => client.lines[0], 10000, 20);
      const name = first.reply!.split(' ')[0]!;
      if (!on.has(name)) on.set(name, client);
    }
    const held = on.get('b1');
    assert.ok(held, 'a long connection to b1');
    await serve(web([b0]));
    await waitFor('new connections only to b0', async () => (await runIn(net.client, 'tcp', net.nodeAddress, NODE_PORT, 10)).every((reply) => reply.reply?.startsWith('b0 ')), 60000, 200);
    const before = held.lines.length;
    await waitFor('the connection to b1 still answered', () => held.lines.length >= before + 10, 10000, 20);
    const fresh = await runIn(net.client, 'tcp', net.nodeAddress, NODE_PORT, 20);
    assert.ok(fresh.every((reply) => reply.reply?.startsWith('b0 ')), JSON.stringify(fresh));
    const lines = (await Promise.all(longs.map((client) => client.stop()))).flat();
    assert.deepEqual(lines.filter((line) => line.error), []);
    assert.ok(held.lines.slice(1, -1).every((line) => line.reply === 'b1'), 'the established connection stayed on b1');
    await serve(web([b0, b1]));
  });

  await t.test('SIGKILL of the agent under continuous external traffic fails no flow; a new agent takes over in place', async () => {
    const loop = startIn(net.client, 'loop', net.nodeAddress, NODE_PORT);
    const more = (count: number) => {
      const from = loop.lines.length;
      return waitFor(`${count} more connections`, () => loop.lines.length >= from + count, 60000, 20);
    };
    await more(20);
    assert.equal(await stopAgent(agents[0]!.child, 'SIGKILL'), null);
    await more(40);
    const second = await spawnAgent(dir, nats.url, env);
    agents.push(second);
    await second.ready();
    assert.match(second.log(), /n0 ingress \(replaced\)/, 'the tc programs were swapped in place');
    await serve(web([b1]));
    await waitFor('traffic moves to b1 under the new agent', () => loop.lines.slice(-10).every((line) => line.reply?.startsWith('b1 ')), 60000, 50);
    const lines = await loop.stop();
    assert.deepEqual(lines.filter((line) => line.error), [], `${lines.filter((line) => line.error).length} of ${lines.length} connections failed`);
    assert.ok(lines.length >= 70, `${lines.length} connections`);
  });

  await t.test('per-frontend counters and flows carry the external client', async () => {
    await agents.at(-1)!.ready();
    const flows: FlowEvent[] = [];
    const subscription = nc.subscribe(SUBJECTS.flows('node-a'), { callback: (_error, message) => flows.push(flowEventCodec.decode(message.data)) });
    await runIn(net.client, 'tcp', net.nodeAddress, NODE_PORT, 3);
    const flow = await waitFor('a flow from the client', () => flows.find((event) => event.source?.address === net.clientAddress), 20000, 50);
    subscription.unsubscribe();
    assert.deepEqual(flow.service, { address: net.nodeAddress, port: NODE_PORT });
    assert.equal(flow.serviceName, 'shop/web');
    assert.equal(flow.verdict, 'translated');
    const counters = await (await fetch(`${agents.at(-1)!.http}/metrics`)).text();
    assert.match(counters, /tendril_datapath_connections\{lb_service="default\.shop\.web",frontend="external 0\.0\.0\.0:30080\/TCP",backend="198\.18\.3\.2:8080"[^}]*\} [1-9]/);
  });
});
