import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectKey, type KubeObject } from '@tendril/contract';
import { translate, TranslationMemo, type TranslationOutput } from '../index.js';

const C = 'c1';
const key = (kind: 'ingress' | 'service' | 'node' | 'gateway' | 'gatewayclass' | 'endpointslice', name: string, namespace?: string) => objectKey({ cluster: C, kind, name, ...(namespace ? { namespace } : {}) });

function ingress(name: string, annotations: Record<string, string> = {}, uid = `uid-${name}`): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'shop', uid, annotations },
    spec: { ingressClassName: 'cilium', rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  };
}
const web: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '127.96.0.5', ports: [{ port: 80, protocol: 'TCP' }] } };
const node = (name: string, address: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }] } });

function owned(output: TranslationOutput, name: string): KubeObject | undefined {
  return output.owned.find((entry) => entry.key === name)?.object;
}

test('a dedicated Ingress owns a Service and an EndpointSlice of its load balancer, as Cilium shapes them', () => {
  const objects: [string, KubeObject][] = [
    [key('service', 'web', 'shop'), web],
    [key('node', 'n1'), node('n1', '198.18.0.11')],
    [key('node', 'n2'), node('n2', '198.18.0.12')],
    [key('ingress', 'front', 'shop'), ingress('front', { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal', 'example.com/other': 'x', 'ingress.cilium.io/loadbalancer-class': 'io.cilium/bgp' })],
  ];
  const output = translate({ cluster: C, objects });
  const service = owned(output, key('service', 'cilium-ingress-front', 'shop'))!;
  assert.ok(service, 'the Service is owned');
  assert.deepEqual(service.metadata['ownerReferences'], [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'front', uid: 'uid-front', controller: true, blockOwnerDeletion: true }]);
  assert.deepEqual(service.metadata.labels, { 'app.kubernetes.io/managed-by': 'tendril', 'cilium.io/ingress': 'true' });
  assert.deepEqual(service.metadata.annotations, { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal' }, 'only the load-balancer annotation prefixes are copied');
  const spec = service['spec'] as { type: string; selector?: unknown; loadBalancerClass?: string; ports: { name: string; port: number; targetPort: number }[] };
  assert.equal(spec.type, 'LoadBalancer');
  assert.equal(spec.selector, undefined, 'no selector: its endpoints are ours');
  assert.equal(spec.loadBalancerClass, 'io.cilium/bgp');
  assert.deepEqual(spec.ports.map((port) => [port.name, port.port]), [['http', 80], ['https', 443]]);
  const proxyPort = (output.lb.find((entry) => entry.name === 'cilium-ingress-front') ?? { l7Proxy: undefined }).l7Proxy?.port;
  assert.equal(proxyPort, undefined, 'no LB entry before the Service has an address');
  const slice = owned(output, key('endpointslice', 'cilium-ingress-front', 'shop'))! as KubeObject & { endpoints: { addresses: string[]; nodeName: string }[]; ports: { name: string; port: number }[] };
  assert.deepEqual(slice.endpoints.map((endpoint) => [endpoint.nodeName, endpoint.addresses]), [['n1', ['198.18.0.11']], ['n2', ['198.18.0.12']]]);
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'cilium-ingress-front');
  assert.deepEqual(new Set(slice.ports.map((port) => port.port)).size, 1, 'both ports go to the load balancer listener');
  assert.equal(slice.ports[0]!.port, spec.ports[0]!.targetPort);
});

test('the owned Service lends its status address to the Ingress and the LB entry; a Service not ours lends nothing', () => {
  const base: [string, KubeObject][] = [[key('service', 'web', 'shop'), web], [key('ingress', 'front', 'shop'), ingress('front')]];
  const first = translate({ cluster: C, objects: base });
  const ours = owned(first, key('service', 'cilium-ingress-front', 'shop'))!;
  const withStatus = { ...ours, spec: { ...(ours['spec'] as object), clusterIP: '127.96.0.9' }, status: { loadBalancer: { ingress: [{ ip: '198.18.5.5' }] } } };
  const second = translate({ cluster: C, objects: [...base, [key('service', 'cilium-ingress-front', 'shop'), withStatus]] });
  const status = second.statuses.find((entry) => entry.key === key('ingress', 'front', 'shop'))!.status.status;
  assert.deepEqual(status, { loadBalancer: { ingress: [{ ip: '198.18.5.5' }] } });
  const entry = second.lb.find((item) => item.name === 'cilium-ingress-front')!;
  assert.deepEqual([...new Set(entry.frontends.map((frontend) => frontend.address))], ['198.18.5.5']);
  const port = (ours['spec'] as { ports: { targetPort: number }[] }).ports[0]!.targetPort;
  assert.equal(entry.l7Proxy?.port, port, 'the VIP is redirected to the node-proxy port of the owned slice');

  // someone else's Service of that name (no mark): its address is not taken
  const foreign = { ...withStatus, metadata: { name: 'cilium-ingress-front', namespace: 'shop' } };
  const third = translate({ cluster: C, objects: [...base, [key('service', 'cilium-ingress-front', 'shop'), foreign]] });
  assert.deepEqual(third.statuses.find((item) => item.key === key('ingress', 'front', 'shop'))!.status.status, { loadBalancer: {} });
  assert.equal(third.lb.find((item) => item.name === 'cilium-ingress-front' && item.l7Proxy), undefined);
});

test('NodePort, node ports, and the shared load balancer', () => {
  const objects: [string, KubeObject][] = [
    [key('service', 'web', 'shop'), web],
    [key('ingress', 'np', 'shop'), ingress('np', { 'ingress.cilium.io/service-type': 'NodePort', 'ingress.cilium.io/insecure-node-port': '30080', 'ingress.cilium.io/secure-node-port': '30443' })],
    [key('ingress', 'one', 'shop'), ingress('one', { 'ingress.cilium.io/loadbalancer-mode': 'shared' })],
  ];
  const output = translate({ cluster: C, objects });
  const nodePort = owned(output, key('service', 'cilium-ingress-np', 'shop'))!['spec'] as { type: string; ports: { nodePort?: number }[] };
  assert.equal(nodePort.type, 'NodePort');
  assert.deepEqual(nodePort.ports.map((port) => port.nodePort), [30080, 30443]);
  const shared = owned(output, key('service', 'cilium-ingress', 'kube-system'))!;
  assert.ok(shared, 'the shared Service lives in the shared namespace');
  assert.equal(shared.metadata['ownerReferences'], undefined, 'no single Ingress owns the shared Service');
  assert.equal(owned(output, key('service', 'cilium-ingress-one', 'shop')), undefined);
});

test('a Gateway owns a Service with its infrastructure labels and annotations, one port per listener port', () => {
  const gateway: KubeObject = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'edge', namespace: 'infra', uid: 'uid-edge', generation: 1 },
    spec: {
      gatewayClassName: 'cilium',
      infrastructure: { labels: { team: 'net' }, annotations: { 'example.com/lb': 'yes' } },
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'alt', port: 8080, protocol: 'HTTP' },
      ],
    },
  };
  const output = translate({ cluster: C, objects: [[key('gateway', 'edge', 'infra'), gateway]] });
  const service = owned(output, key('service', 'cilium-gateway-edge', 'infra'))!;
  assert.deepEqual(service.metadata.labels, { 'app.kubernetes.io/managed-by': 'tendril', 'gateway.networking.k8s.io/gateway-name': 'edge', 'io.cilium.gateway/owning-gateway': 'edge', team: 'net' });
  assert.deepEqual(service.metadata.annotations, { 'example.com/lb': 'yes' });
  assert.deepEqual(service.metadata['ownerReferences'], [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'edge', uid: 'uid-edge', controller: true, blockOwnerDeletion: true }]);
  assert.deepEqual((service['spec'] as { ports: { name: string; port: number }[] }).ports.map((port) => [port.name, port.port]), [['port-80', 80], ['port-8080', 8080]]);
  const status = output.statuses.find((entry) => entry.key === key('gateway', 'edge', 'infra'))!.status.status as { addresses?: unknown; conditions: { type: string; reason: string }[] };
  assert.equal(status.addresses, undefined, 'no address picked from a range');
  assert.equal(status.conditions.find((condition) => condition.type === 'Programmed')?.reason, 'AddressNotAssigned');
});

test('an Ingress edit patched in changes its owned Service as a fresh translation does', () => {
  const memo = new TranslationMemo();
  const objects = new Map<string, KubeObject>([
    [key('service', 'web', 'shop'), web],
    [key('ingress', 'front', 'shop'), ingress('front')],
  ]);
  translate({ cluster: C, objects, memo });
  const ours = translate({ cluster: C, objects, memo }).owned.find((entry) => entry.object.kind === 'Service')!.object;
  objects.set(key('service', 'cilium-ingress-front', 'shop'), { ...ours, spec: { ...(ours['spec'] as object), clusterIP: '127.96.0.9' }, status: { loadBalancer: { ingress: [{ ip: '198.18.5.5' }] } } });
  translate({ cluster: C, objects, memo, changes: [[key('service', 'cilium-ingress-front', 'shop'), objects.get(key('service', 'cilium-ingress-front', 'shop'))]] });
  const edited = ingress('front', { 'service.beta.kubernetes.io/x': 'y' });
  objects.set(key('ingress', 'front', 'shop'), edited);
  const patched = translate({ cluster: C, objects, memo, changes: [[key('ingress', 'front', 'shop'), edited]] });
  const fresh = translate({ cluster: C, objects });
  assert.deepEqual(patched.owned, fresh.owned);
  assert.equal(owned(patched, key('service', 'cilium-ingress-front', 'shop'))!.metadata.annotations?.['service.beta.kubernetes.io/x'], 'y');
});
