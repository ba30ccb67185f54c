import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests } from './manifests.js';

test('a Pod from a manifest is kept trimmed to what network policy reads, with its declared addresses', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: { name: web-0, namespace: shop, labels: { app: web }, annotations: { a: b } }
spec:
  nodeName: node-a
  serviceAccountName: web
  containers: [{ name: web, image: "web:1", ports: [{ name: http, containerPort: 8080 }, { containerPort: 9090 }] }, { name: sidecar, image: "s:1" }]
status: { phase: Running, podIPs: [{ ip: 198.18.0.20 }, { ip: "2001:db8::20" }], conditions: [{ type: Ready, status: "True" }] }
`;
  const parsed = parseManifests(text, 'pods.yaml', 'c1');
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.objects.map(({ key }) => key), ['c1.pod.shop.web-0']);
  assert.deepEqual(parsed.objects[0]!.object, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web' } },
    spec: { nodeName: 'node-a', serviceAccountName: 'web', containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIPs: [{ ip: '198.18.0.20' }, { ip: '2001:db8::20' }] },
  });
});

test('a Pod whose address is not an IP is refused naming the field', () => {
  const parsed = parseManifests('apiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: ns }\nstatus: { podIPs: [{ ip: "198.18.0.300" }] }\n', 'p.yaml', 'c1');
  assert.deepEqual(parsed.objects, []);
  assert.deepEqual(parsed.errors.map((error) => [error.object, error.message]), [['ns/Pod/p', 'status.podIPs[0].ip: must be an IP address']]);
});

test('NetworkPolicy is checked strictly, each problem naming its field', () => {
  const good = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: allow-web, namespace: shop }
spec:
  podSelector: { matchLabels: { app: web } }
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector: { matchLabels: { team: a } }
          podSelector: { matchExpressions: [{ key: role, operator: In, values: [client] }] }
        - ipBlock: { cidr: 198.18.0.0/16, except: [198.18.1.0/24] }
      ports: [{ protocol: TCP, port: 8000, endPort: 9000 }, { port: http }]
  egress: [{}]
`;
  const accepted = parseManifests(good, 'np.yaml', 'c1');
  assert.deepEqual(accepted.errors, []);
  assert.deepEqual(accepted.objects.map(({ key }) => key), ['c1.networkpolicy.shop.allow-web']);

  const bad = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: bad, namespace: shop }
spec:
  podSelector: { matchExpressions: [{ key: role, operator: In }] }
  policyTypes: [Inbound]
  ingress:
    - from: [{ ipBlock: { cidr: 198.18.0.0/16 }, podSelector: {} }]
      ports: [{ port: 9000, endPort: 8000 }, { port: http, endPort: 90 }, { port: 70000 }]
  egress: [{ too: [] }]
`;
  const refused = parseManifests(bad, 'np.yaml', 'c1');
  assert.deepEqual(refused.objects, []);
  assert.equal(refused.errors.length, 1);
  assert.equal(refused.errors[0]!.object, 'shop/NetworkPolicy/bad');
  for (const field of [
    'spec.podSelector.matchExpressions[0].values: must be non-empty for operator In',
    'spec.policyTypes[0]:',
    'spec.ingress[0].from[0].ipBlock: may not be combined with podSelector or namespaceSelector',
    'spec.ingress[0].ports[0].endPort: must be at least port (9000)',
    'spec.ingress[0].ports[1].endPort: may only be set with a numeric port',
    'spec.ingress[0].ports[2].port:',
    'spec.egress[0].too: unknown field',
  ]) {
    assert.ok(refused.errors[0]!.message.includes(field), `${field} in ${refused.errors[0]!.message}`);
  }
});

test('Cilium network policies are mirrored by kind and scope; their rules are checked by the policy compiler', () => {
  const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: l3, namespace: shop }
spec: { endpointSelector: { matchLabels: { app: web } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: client } }] }] }
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: world-out, namespace: ignored }
specs: [{ endpointSelector: {}, egress: [{ toEntities: [world] }] }]
`;
  const parsed = parseManifests(text, 'cnp.yaml', 'c1');
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.objects.map(({ key }) => key), ['c1.ciliumnetworkpolicy.shop.l3', 'c1.ciliumclusterwidenetworkpolicy._.world-out']);
});
