/**
 * One scenario file, two modes: the k8s-watcher reading it as a manifest folder (standalone) and the
 * same objects created in a Kubernetes API server (the test API server of libs/testing) must give the
 * translator the same input and so the same output: identical `tendril-objects`, `tendril-owned` and
 * `tendril-status`, once normalised for what legitimately differs between an API server and the
 * manifest folder:
 * - identity and bookkeeping the API server assigns: metadata.uid (and the uid in ownerReferences),
 *   resourceVersion, creationTimestamp, generation (statuses still compare observedGeneration);
 * - defaulting: the manifest folder applies an API server's defaults (built-in kinds' and, for Gateway
 *   API kinds, their CRD schemas'), the test API server does not (it serves those kinds without the
 *   CRDs' schemas): applyDefaults and admitObject of libs/kube on both sides;
 * - cluster IPs of the Services Tendril owns: allocated by the API server from its service range, here
 *   by two different allocators (the folder's from TENDRIL_SERVICE_CIDR);
 * - the status of the kinds Tendril writes status for (Ingress, GatewayClass, Gateway, routes): in
 *   Kubernetes mode the watcher writes `tendril-status` back to the API server, which then comes back
 *   with the object; in standalone mode it goes to the log. `tendril-status` itself is compared whole.
 * In Kubernetes mode the test plays the cluster's LB provider with the same LB-IPAM pools the
 * standalone watcher uses, so the load balancers' addresses must be the same too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { parseAllDocuments } from 'yaml';
import { BUCKETS, canonicalJson, type KubeObject } from '@tendril/contract';
import { admitObject, applyDefaults, assignLoadBalancerIPs, lbIpamRequest } from '@tendril/kube';
import { startKubeApiServer, waitFor, type KubeApiServer } from '@tendril/testing';
import { System } from './system.js';

const INGRESS_CIDR = '198.18.64.0/24';
const GATEWAY_CIDR = '198.18.65.0/24';

const SCENARIO = `
apiVersion: v1
kind: Node
metadata: { name: node-a }
status: { addresses: [{ type: InternalIP, address: 198.18.0.11 }, { type: Hostname, address: node-a }] }
---
apiVersion: v1
kind: Node
metadata: { name: node-b }
status: { addresses: [{ type: InternalIP, address: 198.18.0.12 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { clusterIP: 198.18.100.10, ports: [{ name: http, port: 80, protocol: TCP, targetPort: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints: [{ addresses: [198.18.1.1], conditions: { ready: true } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: front
  namespace: default
  annotations: { service.beta.kubernetes.io/aws-load-balancer-scheme: internal }
spec:
  ingressClassName: cilium
  rules: [{ host: web.example, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }] } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: cilium }
spec: { controllerName: io.cilium/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  gatewayClassName: cilium
  infrastructure: { labels: { team: web } }
  listeners: [{ name: http, port: 80, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]
`;

type Json = Record<string, unknown>;
const STATUS_KINDS = new Set(['ingress', 'gatewayclass', 'gateway', 'httproute', 'grpcroute', 'tlsroute', 'tcproute', 'udproute', 'backendtlspolicy', 'listenerset']);
const scenario = parseAllDocuments(SCENARIO).map((document) => document.toJS() as KubeObject);

/** What legitimately differs between the modes (see the header), taken out. */
function normalise(bucket: string, key: string, value: Json): Json {
  const out = structuredClone(value);
  const scrub = (object: Json) => {
    const metadata = object['metadata'] as Json | undefined;
    if (!metadata) return;
    for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'generation']) delete metadata[field];
    for (const reference of (metadata['ownerReferences'] as Json[] | undefined) ?? []) delete reference['uid'];
  };
  if (bucket === BUCKETS.status) return out;
  scrub(out);
  if (bucket === BUCKETS.objects) {
    const kind = key.split('.')[1]!;
    if (STATUS_KINDS.has(kind)) delete out['status'];
    const builtIn = kind === 'node' ? out : (applyDefaults(out as KubeObject, !key.split('.')[2]!.startsWith('_')) as Json);
    const defaulted = String(builtIn['apiVersion']).startsWith('gateway.networking.k8s.io/') ? (admitObject(builtIn).object as Json) : builtIn;
    const labels = (defaulted['metadata'] as { labels?: Record<string, string> }).labels;
    if (kind === 'service' && labels?.['app.kubernetes.io/managed-by'] === 'tendril') {
      const spec = defaulted['spec'] as Json;
      delete spec['clusterIP'];
      delete spec['clusterIPs'];
    }
    return JSON.parse(canonicalJson(defaulted)) as Json;
  }
  return out;
}

async function contents(nc: NatsConnection, bucket: string): Promise<Map<string, Json>> {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
  const out = new Map<string, Json>();
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  for (const key of keys) {
    const entry = await kv.get(key);
    if (entry && entry.operation === 'PUT') out.set(key, normalise(bucket, key, JSON.parse(new TextDecoder().decode(entry.value)) as Json));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The three buckets once the load balancers have their addresses (Ingress status and Gateway addresses written). */
async function settled(system: System): Promise<{ objects: Map<string, Json>; owned: Map<string, Json>; status: Map<string, Json> }> {
  const cli = system.nats.credentials!['cli'];
  const nc = await connect({ servers: system.nats.url, user: cli.user, pass: cli.password });
  try {
    let last = '';
    return await waitFor(
      'addresses on the Ingress and the Gateway',
      async () => {
        const status = await contents(nc, BUCKETS.status);
        last = JSON.stringify([...status]);
        const ingress = status.get('default.ingress.default.front') as { status?: { loadBalancer?: { ingress?: unknown[] } } } | undefined;
        const gateway = status.get('default.gateway.default.edge') as { status?: { addresses?: unknown[] } } | undefined;
        if (!ingress?.status?.loadBalancer?.ingress?.length || !gateway?.status?.addresses?.length) return undefined;
        // one more look after a quiet moment: nothing still on its way
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const again = await contents(nc, BUCKETS.status);
        if (JSON.stringify([...again]) !== JSON.stringify([...status])) return undefined;
        return { objects: await contents(nc, BUCKETS.objects), owned: await contents(nc, BUCKETS.owned), status };
      },
      180000,
      500,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nlast status: ${last}\n--- k8s-watcher ---\n${system.services.get('k8s-watcher')?.output.slice(-30).join('\n')}`);
    });
  } finally {
    await nc.close();
  }
}

/** The cluster's LB provider, as the test plays it: LoadBalancer Services Tendril owns get addresses from the same pools. */
function playLoadBalancerProvider(api: KubeApiServer): () => void {
  const timer = setInterval(() => {
    for (const [pool, gateway] of [[INGRESS_CIDR, false], [GATEWAY_CIDR, true]] as const) {
      const services = api.listObjects('Service').filter((service) => (service.metadata['labels'] as Record<string, string> | undefined)?.['app.kubernetes.io/managed-by'] === 'tendril' && ((service.metadata['labels'] as Record<string, string>)['io.cilium.gateway/owning-gateway'] !== undefined) === gateway);
      const requests = services.flatMap((service) => {
        const request = lbIpamRequest(service as unknown as KubeObject, pool);
        return request ? [request] : [];
      });
      const addresses = assignLoadBalancerIPs(requests);
      for (const service of services) {
        const address = addresses.get(`${service.metadata.namespace}/${service.metadata.name}`);
        const current = (service['status'] as { loadBalancer?: { ingress?: { ip: string }[] } } | undefined)?.loadBalancer?.ingress?.[0]?.ip;
        if (address && current !== address) api.update({ ...service, status: { loadBalancer: { ingress: [{ ip: address }] } } });
      }
    }
  }, 200);
  return () => clearInterval(timer);
}

describe('the same scenario in standalone and Kubernetes mode', () => {
  const env = { TENDRIL_INGRESS_CIDR: INGRESS_CIDR, TENDRIL_GATEWAY_CIDR: GATEWAY_CIDR, TENDRIL_INGRESS_SHARED_NAMESPACE: 'tendril-system' };
  const standalone = new System('modes-standalone', { env });
  let kube: System | undefined;
  let api: KubeApiServer | undefined;
  let stopProvider = () => {};
  const dir = mkdtempSync(join(tmpdir(), 'tendril-modes-'));

  after(async () => {
    stopProvider();
    await standalone.dispose();
    await kube?.dispose();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives identical tendril-objects, tendril-owned and tendril-status', async () => {
    writeFileSync(join(standalone.manifests, 'scenario.yaml'), SCENARIO);
    await standalone.start(['k8s-watcher', 'translator'], 240000); // generous: a loaded machine starts a service slowly
    const fromFolder = await settled(standalone);

    api = await startKubeApiServer({ gcDelayMs: 200 });
    for (const object of scenario) api.create(structuredClone(object) as never);
    writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig());
    stopProvider = playLoadBalancerProvider(api);
    kube = new System('modes-kube', { env: { ...env, TENDRIL_WATCHER_MODE: 'kubernetes', KUBECONFIG: join(dir, 'kubeconfig'), TENDRIL_LEASE_NAMESPACE: 'default' } });
    await kube.start(['k8s-watcher', 'translator'], 240000);
    const fromCluster = await settled(kube);

    assert.ok(fromFolder.owned.size >= 4, `owned: ${[...fromFolder.owned.keys()].join(', ')}`);
    assert.deepEqual([...fromCluster.owned], [...fromFolder.owned], 'tendril-owned');
    assert.deepEqual([...fromCluster.status], [...fromFolder.status], 'tendril-status');
    assert.deepEqual([...fromCluster.objects.keys()], [...fromFolder.objects.keys()], 'tendril-objects keys');
    assert.deepEqual([...fromCluster.objects], [...fromFolder.objects], 'tendril-objects');
  });
});
