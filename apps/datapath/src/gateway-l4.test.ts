/**
 * TCPRoute and UDPRoute end to end on the real kernel: Gateway API objects go through the translator's
 * pure translation, its `tendril-lb` entries are programmed by the datapath into a scratch cgroup, and
 * TCP connections and UDP datagrams to the Gateway's address reach the routes' backends (loopback
 * servers) by their weights, with no node proxy on the path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate } from '@tendril/translation';
import { LbProgrammer } from './lb-programmer.js';
import { runClient, scratch, tcpBackend, udpBackend, type Backend } from './testing/kernel.js';

const quiet = { log: () => undefined, warn: (message: string) => console.warn(message), error: (message: string) => console.error(message) };
const CLUSTER = 'c1';
/** Inside the translator's default Gateway range (options.gatewayCidr, 127.102.0.0/16): served as asked. */
const GATEWAY_ADDRESS = '127.102.77.7';

type Json = Record<string, unknown>;

function keyOf(object: Json): string {
  const metadata = object['metadata'] as { namespace?: string; name: string };
  return `${CLUSTER}.${String(object['kind']).toLowerCase()}.${metadata.namespace ?? '_'}.${metadata.name}`;
}

/** A Service of one port and an EndpointSlice per backend (each backend listens on a port of its own). */
function service(name: string, protocol: 'TCP' | 'UDP', port: number, backends: Backend[], clusterIP: string): Json[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps', uid: `uid-${name}` }, spec: { clusterIP, ports: [{ name: 'main', port, protocol }] } },
    ...backends.map((backend, i) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-${i}`, namespace: 'apps', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'main', port: backend.port, protocol }],
      endpoints: [{ addresses: [backend.host], conditions: { ready: true } }],
    })),
  ];
}

test('TCP and UDP to a Gateway address reach the TCPRoute and UDPRoute backends by weight, in the kernel', async (t) => {
  const dir = scratch();
  const programmer = new LbProgrammer({ ...dir }, quiet);
  t.after(() => {
    programmer.close();
    dir.dispose();
  });
  programmer.install();
  const primary = await tcpBackend('127.0.77.1');
  const replicas = [await tcpBackend('127.0.77.2'), await tcpBackend('127.0.77.3')];
  const dns = await udpBackend('127.0.77.4');
  t.after(() => Promise.all([primary, ...replicas, dns].map((backend) => backend.close())));

  const objects: Json[] = [
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'cilium' }, spec: { controllerName: 'io.cilium/gateway-controller' } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'edge', namespace: 'apps', uid: 'uid-edge' },
      spec: {
        gatewayClassName: 'cilium',
        addresses: [{ type: 'IPAddress', value: GATEWAY_ADDRESS }],
        listeners: [
          { name: 'db', port: 5432, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'idle', port: 7000, protocol: 'TCP' },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1alpha2',
      kind: 'TCPRoute',
      metadata: { name: 'db', namespace: 'apps' },
      spec: { parentRefs: [{ name: 'edge', sectionName: 'db' }], rules: [{ backendRefs: [{ name: 'primary', port: 5432, weight: 3 }, { name: 'replicas', port: 5432, weight: 1 }] }] },
    },
    { apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'UDPRoute', metadata: { name: 'dns', namespace: 'apps' }, spec: { parentRefs: [{ name: 'edge', sectionName: 'dns' }], rules: [{ backendRefs: [{ name: 'dns', port: 53 }] }] } },
    ...service('primary', 'TCP', 5432, [primary], '198.18.77.1'),
    ...service('replicas', 'TCP', 5432, replicas, '198.18.77.2'),
    ...service('dns', 'UDP', 53, [dns], '198.18.77.3'),
  ];
  const output = translate({ cluster: CLUSTER, objects: objects.map((object) => [keyOf(object), object] as [string, Json]) as never });
  assert.deepEqual(output.errors, []);
  const gatewayEntries = output.lb.filter((entry) => entry.frontends.some((frontend) => frontend.address === GATEWAY_ADDRESS));
  assert.equal(gatewayEntries.length, 1);
  assert.equal(gatewayEntries[0]!.l7Proxy, null, 'no node proxy on the path');
  programmer.reconcile(output.lb.map((entry) => [`${entry.cluster}.${entry.namespace}.${entry.name}`, entry]));

  // TCP: 3 to 1 between the Services, the replicas' share split between their two endpoints
  const count = 400;
  const results = await runClient({ host: GATEWAY_ADDRESS, port: 5432, count, cgroupPath: dir.cgroupPath });
  assert.ok(results.every((result) => result.reply !== undefined), JSON.stringify(results.find((result) => result.reply === undefined)));
  assert.ok(results.every((result) => result.peer === `${GATEWAY_ADDRESS}:5432`), 'the client sees the Gateway address');
  const served = [primary, ...replicas].map((backend) => backend.peers.length);
  assert.equal(served.reduce((a, b) => a + b, 0), count);
  // 300 expected on the primary; 8.7 is one standard deviation of the binomial: 6 of them either side
  assert.ok(served[0]! >= 248 && served[0]! <= 352, `primary served ${served[0]} of ${count} (75% expected)`);
  assert.ok(served[1]! > 20 && served[2]! > 20, `each replica served some: ${served.slice(1)}`);

  // UDP: the datagram reaches the UDPRoute's backend, the answer comes from the Gateway address
  const [udp] = await runClient({ host: GATEWAY_ADDRESS, port: 53, udp: true, cgroupPath: dir.cgroupPath });
  assert.deepEqual(udp, { reply: `${dns.host}:${dns.port}`, peer: `${GATEWAY_ADDRESS}:53` });

  // a listener without a route refuses connections rather than sending them elsewhere
  const [idle] = await runClient({ host: GATEWAY_ADDRESS, port: 7000, cgroupPath: dir.cgroupPath });
  assert.equal(idle!.error, 'ECONNREFUSED');
});
