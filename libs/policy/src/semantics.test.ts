import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, identityOfAddress, parsePrefix, prefixContains, traceAddresses, type CompiledPolicy } from './index.js';

const pod = (namespace: string, name: string, labels: Record<string, string>, ip: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { nodeName: 'node-a', ...extra },
  status: { phase: 'Running', podIP: ip },
});
const cnp = (namespace: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { namespace, name }, spec });
const verdict = (compiled: CompiledPolicy, from: string, to: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP') => traceAddresses(compiled, from, to, protocol, port, 'node-a').verdict;

test('a workload no policy selects keeps today’s behaviour: everything allowed', () => {
  const compiled = compilePolicy({ cluster: 'c1', objects: [pod('a', 'x', { app: 'x' }, '198.18.0.1'), pod('a', 'y', { app: 'y' }, '198.18.0.2')] });
  assert.deepEqual(compiled.policies, []);
  assert.equal(verdict(compiled, '198.18.0.1', '198.18.0.2', 80), 'allowed');
  assert.equal(verdict(compiled, '203.0.113.1', '198.18.0.2', 80), 'allowed');
});

test('Pods with the same security labels share one identity; a label change moves a Pod to another', () => {
  const objects = [pod('a', 'x-1', { app: 'x', 'pod-template-hash': '1' }, '198.18.0.1'), pod('a', 'x-2', { app: 'x', 'pod-template-hash': '2' }, '198.18.0.2')];
  const compiled = compilePolicy({ cluster: 'c1', objects });
  assert.equal(identityOfAddress(compiled, '198.18.0.1'), identityOfAddress(compiled, '198.18.0.2'));
  const moved = compilePolicy({ cluster: 'c1', objects: [objects[0]!, pod('a', 'x-2', { app: 'x', tier: 'canary' }, '198.18.0.2')] });
  assert.notEqual(identityOfAddress(moved, '198.18.0.1'), identityOfAddress(moved, '198.18.0.2'));
});

test('CNP: deny wins over allow, whatever the order of the policies', () => {
  const objects = [
    pod('a', 'server', { app: 'server' }, '198.18.0.1'),
    pod('a', 'client', { app: 'client' }, '198.18.0.2'),
    cnp('a', 'allow', { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{}] }] }),
    cnp('a', 'deny-8080', { endpointSelector: { matchLabels: { app: 'server' } }, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] }] }),
  ];
  for (const order of [objects, [...objects].reverse()]) {
    const compiled = compilePolicy({ cluster: 'c1', objects: order });
    assert.equal(verdict(compiled, '198.18.0.2', '198.18.0.1', 8080), 'denied');
    assert.equal(verdict(compiled, '198.18.0.2', '198.18.0.1', 8080, 'UDP'), 'allowed', 'the deny names TCP only');
    assert.equal(verdict(compiled, '198.18.0.2', '198.18.0.1', 80), 'allowed');
    assert.equal(verdict(compiled, '203.0.113.9', '198.18.0.1', 80), 'denied', 'fromEndpoints {} is every workload of the namespace, not the world');
  }
});

test('CNP peers see their own namespace unless they name one; the cluster-wide kind sees every namespace', () => {
  const objects = [
    pod('a', 'server', { app: 'server' }, '198.18.0.1'),
    pod('a', 'client', { app: 'client' }, '198.18.0.2'),
    pod('b', 'client', { app: 'client' }, '198.18.0.3'),
    cnp('a', 'same-ns', { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }] }),
  ];
  const compiled = compilePolicy({ cluster: 'c1', objects });
  assert.equal(verdict(compiled, '198.18.0.2', '198.18.0.1', 80), 'allowed');
  assert.equal(verdict(compiled, '198.18.0.3', '198.18.0.1', 80), 'denied');
  const clusterwide = compilePolicy({
    cluster: 'c1',
    objects: [...objects.slice(0, 3), { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'any-ns' }, spec: { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }] } }],
  });
  assert.equal(verdict(clusterwide, '198.18.0.3', '198.18.0.1', 80), 'allowed');
});

test('entities and CIDR sets with except: world, cluster, host; addresses outside every range are the world', () => {
  const objects = [
    pod('a', 'app', { app: 'app' }, '198.18.0.1'),
    pod('a', 'other', { app: 'other' }, '198.18.0.2'),
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: '198.18.255.1' }] } },
    cnp('a', 'egress', {
      endpointSelector: { matchLabels: { app: 'app' } },
      egress: [{ toEntities: ['host'] }, { toCIDRSet: [{ cidr: '198.51.100.0/24', except: ['198.51.100.128/25'] }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }],
    }),
    cnp('a', 'ingress', { endpointSelector: { matchLabels: { app: 'app' } }, ingress: [{ fromEntities: ['world'] }] }),
  ];
  const compiled = compilePolicy({ cluster: 'c1', objects });
  assert.equal(verdict(compiled, '198.18.0.1', '198.51.100.10', 443), 'allowed');
  assert.equal(verdict(compiled, '198.18.0.1', '198.51.100.200', 443), 'denied', 'in the except range');
  assert.equal(verdict(compiled, '198.18.0.1', '198.51.100.10', 80), 'denied', 'another port');
  assert.equal(verdict(compiled, '198.18.0.1', '198.18.255.1', 22), 'allowed', 'the host entity is this node');
  assert.equal(verdict(compiled, '198.18.0.1', '198.18.0.2', 80), 'denied', 'another workload: not the world, not the host');
  assert.equal(verdict(compiled, '192.0.2.1', '198.18.0.1', 80), 'allowed', 'from the world');
  assert.equal(verdict(compiled, '198.51.100.200', '198.18.0.1', 80), 'allowed', 'a range a policy names is part of the world');
  assert.equal(verdict(compiled, '198.18.0.2', '198.18.0.1', 80), 'denied', 'a workload is not the world');
});

test('a policy that cannot be enforced fails closed for the endpoints it selects, and only for them', () => {
  const objects = [
    pod('a', 'web', { app: 'web' }, '198.18.0.1'),
    pod('a', 'db', { app: 'db' }, '198.18.0.2'),
    cnp('a', 'l7', { endpointSelector: { matchLabels: { app: 'web' } }, ingress: [{ fromEntities: ['all'] }, { toPorts: [{ ports: [{ port: '80' }], rules: { http: [{ method: 'GET' }] } }] }] }),
  ];
  const compiled = compilePolicy({ cluster: 'c1', objects });
  const result = traceAddresses(compiled, '198.18.0.2', '198.18.0.1', 'TCP', 80);
  assert.equal(result.verdict, 'denied', 'even the fromEntities: all rule beside it does not open it');
  assert.match(result.steps[1]!.reason, /fails closed: a\/CiliumNetworkPolicy\/l7 spec\.ingress\[1\]\.toPorts\[0\]\.rules: L7 rules are not enforced yet/);
  assert.equal(verdict(compiled, '198.18.0.1', '198.18.0.2', 5432), 'allowed', 'db is not selected');
  assert.deepEqual(compiled.errors.map((error) => [error.object, error.field, error.effect]), [['a/CiliumNetworkPolicy/l7', 'spec.ingress[1].toPorts[0].rules', 'fail-closed']]);
});

test('NetworkPolicy egress: ipBlock with except, endPort, UDP', () => {
  const objects = [
    pod('a', 'app', { app: 'app' }, '198.18.0.1'),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { namespace: 'a', name: 'egress' },
      spec: {
        podSelector: { matchLabels: { app: 'app' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.5.0/24'] } }], ports: [{ protocol: 'TCP', port: 30000, endPort: 30010 }, { protocol: 'UDP', port: 53 }] }],
      },
    },
  ];
  const compiled = compilePolicy({ cluster: 'c1', objects });
  assert.equal(verdict(compiled, '198.18.0.1', '198.19.1.1', 30005), 'allowed');
  assert.equal(verdict(compiled, '198.18.0.1', '198.19.1.1', 30011), 'denied');
  assert.equal(verdict(compiled, '198.18.0.1', '198.19.5.1', 30005), 'denied');
  assert.equal(verdict(compiled, '198.18.0.1', '198.19.1.1', 53, 'UDP'), 'allowed');
  assert.equal(verdict(compiled, '198.18.0.1', '198.19.1.1', 53, 'TCP'), 'denied');
  assert.equal(verdict(compiled, '198.19.1.1', '198.18.0.1', 80), 'allowed', 'ingress is not isolated');
});

test('prefixes: canonical text, IPv6, containment, refusals naming the problem', () => {
  const v6 = parsePrefix('2001:db8:0:0::/64');
  assert.ok(typeof v6 !== 'string');
  assert.equal(v6.text, '2001:db8::/64');
  const inner = parsePrefix('2001:db8::1');
  assert.ok(typeof inner !== 'string');
  assert.ok(prefixContains(v6, inner));
  assert.match(parsePrefix('198.18.0.0/33') as string, /prefix length must be 0 to 32/);
  assert.match(parsePrefix('not-an-ip/8') as string, /is not an IP prefix/);
  assert.ok(!prefixContains(parsePrefix('0.0.0.0/0') as never, inner), 'families do not mix');
});
