/**
 * The spine, end to end, against the real parts: nats-server, the five services as separate
 * processes, a real ADS client, the kernel's BPF, and a real TCP backend. A manifest dropped into the
 * folder must reach Envoy (CDS + EDS, ACKed) and the kernel (connect() to the VIP reaches the backend),
 * and show up on the metrics service; removing it must undo both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, SERVICES, XDS_GENERATION_KEY, XDS_TYPES, generationDigest, microServiceName, proxyStateCodec, xdsGenerationCodec, xdsResourceCodec } from '@tendril/contract';
import { AdsTestClient, waitFor, type AdsTestResponse } from '@tendril/testing';
import { System } from './system.js';
import { connectFromCgroup, startTcpBackend, type TcpBackend } from './clients.js';
import { isLoopback, listeningSockets } from './sockets.js';

const VIP = '127.100.77.7';
const BACKEND_IP = '127.0.77.8';
const CLUSTER = 'default/web:80';

function manifest(backendPort: number, backends: string[] = [BACKEND_IP]): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  clusterIP: ${VIP}
  ports:
  - name: http
    port: 80
    targetPort: ${backendPort}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: ${backendPort}
endpoints:
${backends.map((ip) => `- addresses: [${ip}]\n  conditions: { ready: true }`).join('\n')}
`;
}

const clusterNames = (response: AdsTestResponse) => response.resources.map((r) => String(r['name']));
const endpointAddresses = (response: AdsTestResponse) =>
  response.resources.flatMap((r) =>
    ((r['endpoints'] as { lbEndpoints?: { endpoint?: { address?: { socketAddress?: { address?: string; portValue?: number } } } }[] }[] | undefined) ?? []).flatMap((group) =>
      (group.lbEndpoints ?? []).map((lb) => `${lb.endpoint?.address?.socketAddress?.address}:${lb.endpoint?.address?.socketAddress?.portValue}`),
    ),
  );

describe('spine: manifest -> NATS -> translator -> xds-server / datapath -> metrics', { timeout: 240000 }, () => {
  const system = new System('spine');
  let backend: TcpBackend;
  let backendPort: number;
  let ads: AdsTestClient;
  let nc: NatsConnection;

  before(async () => {
    backendPort = 20000 + (process.pid % 20000);
    backend = await startTcpBackend(BACKEND_IP, backendPort);
    await system.start();
    nc = await connect(system.observer);
  });

  after(async () => {
    ads?.close();
    await nc?.close();
    await system.dispose();
    await backend?.close();
  });

  it('all five services answer /readyz 200 and NATS micro discovery', async () => {
    for (const name of SERVICES) assert.equal(await system.readyz(name), 200, `${name} /readyz`);
    const client = nc.services.client();
    const pinged = new Set<string>();
    for await (const reply of await client.ping()) pinged.add(reply.name);
    assert.deepEqual([...pinged].sort(), SERVICES.map(microServiceName).sort());
    const infos = new Map<string, string[]>();
    for await (const info of await client.info()) infos.set(info.name, info.endpoints.map((e) => e.subject));
    for (const name of SERVICES) assert.ok(infos.get(microServiceName(name))?.includes(`tendril.${name}.info`), `${name} info endpoint`);
    const reply = await nc.request('tendril.translator.info', new Uint8Array(), { timeout: 2000 });
    assert.equal(JSON.parse(new TextDecoder().decode(reply.data)).service, 'translator');
  });

  it('with no host configured, every service listens on loopback only (HTTP, xDS, access logs)', () => {
    const found: string[] = [];
    for (const service of system.services.values()) {
      const sockets = listeningSockets(service.process.pid!);
      assert.ok(sockets.length > 0, `${service.name} listens somewhere`);
      for (const socket of sockets) {
        found.push(`${service.name} ${socket.address}:${socket.port}`);
        assert.ok(isLoopback(socket.address), `${service.name} listens on ${socket.address}:${socket.port}`);
      }
    }
    // the ports the services were given are among them: the check looked at the right sockets
    assert.ok(found.includes(`xds-server 127.0.0.1:${system.xdsPort}`), found.join(', '));
    for (const service of system.services.values()) assert.ok(found.includes(`${service.name} 127.0.0.1:${service.httpPort}`), found.join(', '));
  });

  it('a Service + EndpointSlice manifest reaches an xDS client as a Cluster and a ClusterLoadAssignment, ACKed', async () => {
    system.writeManifest('web.yaml', manifest(backendPort));
    ads = new AdsTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'spine-proxy', nodeCluster: 'spine' });
    ads.subscribe(XDS_TYPES.cluster);
    const cds = await ads.waitFor(XDS_TYPES.cluster, (r) => clusterNames(r).includes(CLUSTER), 30000);
    const cluster = cds.resources.find((r) => r['name'] === CLUSTER)!;
    assert.equal(cluster['type'], 'EDS');
    ads.subscribe(XDS_TYPES.endpoint, [CLUSTER]);
    const eds = await ads.waitFor(XDS_TYPES.endpoint, (r) => endpointAddresses(r).includes(`${BACKEND_IP}:${backendPort}`), 15000);
    assert.equal(eds.resources[0]!['clusterName'], CLUSTER);
    // the server recorded our ACKs of both types
    const proxies = await nc.jetstream().views.kv(BUCKETS.proxies, { bindOnly: true });
    await waitFor('ACKs recorded in tendril-proxies', async () => {
      const keys: string[] = [];
      for await (const key of await proxies.keys()) keys.push(key);
      for (const key of keys) {
        const entry = await proxies.get(key);
        if (!entry || entry.operation !== 'PUT') continue;
        const state = proxyStateCodec.decode(entry.value);
        if (state.nodeId !== 'spine-proxy') continue;
        const acked = (url: string) => state.types.find((t) => t.typeUrl === url)?.versionAcked;
        return acked(XDS_TYPES.cluster) === cds.versionInfo && acked(XDS_TYPES.endpoint) === eds.versionInfo;
      }
      return false;
    });
  });

  it('a connect() to the VIP from a process in the cgroup reaches the real backend', async () => {
    const before = backend.connections;
    const result = await waitFor('VIP translated', async () => {
      const attempt = await connectFromCgroup(system.cgroup, VIP, 80);
      return attempt.ok ? attempt : undefined;
    }, 20000, 250);
    assert.equal(result.greeting, `backend ${BACKEND_IP}:${backendPort}`);
    assert.ok(backend.connections > before);
  });

  it('the metrics service counts what the others report', async () => {
    const figure = (text: string, name: string, reporter: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`tendril_mesh_${name}{`) && l.includes(`reporter="${reporter}"`));
      return line ? Number(line.split(' ').pop()) : undefined;
    };
    await waitFor('mesh figures', async () => {
      const text = await system.metrics('metrics');
      return (
        (figure(text, 'objects_seen', 'k8s-watcher') ?? 0) >= 2 &&
        (figure(text, 'resources_written', 'translator') ?? 0) >= 2 &&
        (figure(text, 'proxies_connected', 'xds-server') ?? 0) >= 1 &&
        (figure(text, 'map_entries', 'datapath') ?? 0) >= 1
      );
    }, 20000, 300);
  });

  it('SIGKILL of the translator and a restart converge with nothing lost or duplicated', async () => {
    const xds = await nc.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    const snapshot = async () => {
      const entries = new Map<string, string>();
      let marker;
      const keys: string[] = [];
      for await (const key of await xds.keys()) keys.push(key);
      for (const key of keys) {
        const entry = await xds.get(key);
        if (!entry || entry.operation !== 'PUT') continue;
        if (key === XDS_GENERATION_KEY) marker = xdsGenerationCodec.decode(entry.value);
        else entries.set(key, xdsResourceCodec.decode(entry.value).hash);
      }
      return { entries, marker };
    };
    const before = await snapshot();
    const translator = system.services.get('translator')!;
    translator.process.kill('SIGKILL');
    await translator.exit;
    // a change while the translator is down is picked up when it comes back
    const extraPort = backendPort + 1;
    const extra = await startTcpBackend('127.0.77.9', extraPort);
    try {
      system.writeManifest('web.yaml', manifest(backendPort, [BACKEND_IP, '127.0.77.10']));
      await system.startService('translator');
      await system.waitReady(['translator']);
      await ads.waitFor(XDS_TYPES.endpoint, (r) => endpointAddresses(r).includes(`127.0.77.10:${backendPort}`), 20000);
      const after = await snapshot();
      assert.deepEqual([...after.entries.keys()].sort(), [...before.entries.keys()].sort(), 'same resource keys: none lost, none duplicated');
      assert.ok(after.marker, `generation marker present among ${[...after.entries.keys()].join(', ')}`);
      assert.equal(after.marker!.count, after.entries.size);
      assert.equal(after.marker!.digest, generationDigest(after.entries));
      // the cluster itself did not change, so its bytes were not rewritten
      const clusterKey = [...after.entries.keys()].find((k) => k.startsWith('cluster.'))!;
      assert.equal(after.entries.get(clusterKey), before.entries.get(clusterKey));
    } finally {
      await extra.close();
    }
    // An endpoint change goes the short way: patched into the last translation and published alone;
    // the xds-server serves it only if its running digest of the bucket agrees with the new marker.
    const seen = ads.responses.length;
    system.writeManifest('web.yaml', manifest(backendPort));
    await waitFor('the endpoint removal pushed', () => ads.responses.slice(seen).some((r) => r.typeUrl === XDS_TYPES.endpoint && endpointAddresses(r).join(',') === `${BACKEND_IP}:${backendPort}`), 20000, 100);
    const figure = (text: string, name: string) => Number(text.split('\n').find((line) => line.startsWith(`tendril_${name}{`))?.split(' ').pop());
    assert.ok(figure(await system.metrics('translator'), 'publishes_incremental') >= 1, 'published alone');
  });

  it('deleting the manifest removes the cluster and the VIP translation', async () => {
    system.removeManifest('web.yaml');
    await ads.waitFor(XDS_TYPES.cluster, (r) => !clusterNames(r).includes(CLUSTER), 20000);
    await waitFor('VIP no longer translated', async () => {
      const attempt = await connectFromCgroup(system.cgroup, VIP, 80, 1000);
      return !attempt.ok;
    }, 20000, 250);
  });

  it('every service drains and exits 0 within 10 s of SIGTERM', async () => {
    ads.close();
    const results = await system.stopAll();
    for (const [name, result] of results) {
      assert.equal(result.code, 0, `${name} exit code (signal ${result.signal})\n${system.dumpOutput()}`);
      assert.ok(result.ms < 10000, `${name} took ${result.ms} ms`);
    }
  });
});
