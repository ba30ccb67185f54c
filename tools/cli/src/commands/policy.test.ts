import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POLICY_GENERATION_KEY, PublishedPolicy, addressEntryCodec, identityEntryCodec, identityPolicyCodec, policyGenerationCodec, policyKey } from '@tendril/contract';
import { podPolicy, tracePolicy } from './policy.js';

it('finds a Pod by its address entries, with its identity, labels and rules; a Pod no policy selects has none', () => {
  const entries: [string, Uint8Array][] = [
    [policyKey('address', '198.18.0.10/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.10/32', identity: 300, owner: 'shop/web' })],
    [policyKey('address', '198.18.0.11/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.11/32', identity: 301, owner: 'shop/client' })],
    [policyKey('identity', 300), identityEntryCodec.encode({ v: 1, id: 300, key: 'k8s:app=web', labels: ['k8s:app=web'] })],
    [policyKey('policy', 300), identityPolicyCodec.encode({ v: 1, identity: 300, key: 'k8s:app=web', ingress: { enforced: true, rules: [{ verdict: 'allow', peers: [301], ports: [{ protocol: 'TCP', from: 80, to: 80 }], policy: 'shop/NetworkPolicy/web', field: 'spec.ingress[0]' }], policies: ['shop/NetworkPolicy/web'] }, egress: { enforced: false, rules: [], policies: [] } })],
    [POLICY_GENERATION_KEY, policyGenerationCodec.encode({ v: 1, generation: 1, entries: 4 })],
  ];
  const web = podPolicy(entries, 'shop/web')!;
  assert.equal(web.identity, 300);
  assert.deepEqual(web.labels, ['k8s:app=web']);
  assert.deepEqual(web.policy!.ingress.rules[0]!.peers, [301]);
  const client = podPolicy(entries, 'shop/client')!;
  assert.equal(client.identity, 301);
  assert.equal(client.policy, undefined);
  assert.equal(podPolicy(entries, 'shop/missing'), undefined);
});

describe('policy trace', () => {
  const entries: [string, Uint8Array][] = [
    [policyKey('address', '198.18.0.10/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.10/32', identity: 300, owner: 'shop/web', node: 'n1' })],
    [policyKey('address', '198.18.0.11/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.11/32', identity: 301, owner: 'shop/client', node: 'n1' })],
    [policyKey('address', '198.51.100.0/24'), addressEntryCodec.encode({ v: 1, prefix: '198.51.100.0/24', identity: 400 })],
    [policyKey('identity', 300), identityEntryCodec.encode({ v: 1, id: 300, key: 'k8s:app=web', labels: ['k8s:app=web'] })],
    [policyKey('identity', 301), identityEntryCodec.encode({ v: 1, id: 301, key: 'k8s:app=client', labels: ['k8s:app=client'] })],
    [policyKey('identity', 400), identityEntryCodec.encode({ v: 1, id: 400, key: 'cidr:198.51.100.0/24', labels: ['cidr:198.51.100.0/24'] })],
    [
      policyKey('policy', 300),
      identityPolicyCodec.encode({
        v: 1,
        identity: 300,
        key: 'k8s:app=web',
        ingress: { enforced: true, rules: [{ verdict: 'allow', peers: [301], ports: [{ protocol: 'TCP', from: 80, to: 80 }], policy: 'shop/NetworkPolicy/web', field: 'spec.ingress[0]' }], policies: ['shop/NetworkPolicy/web'] },
        egress: { enforced: true, rules: [{ verdict: 'allow', peers: [400], ports: [{ protocol: 'UDP', from: 53, to: 53 }], policy: 'shop/NetworkPolicy/web', field: 'spec.egress[0]' }], policies: ['shop/NetworkPolicy/web'] },
      }),
    ],
  ];
  const view = PublishedPolicy.fromEntries(entries);

  it('names the rule that allows a connection between two Pods', () => {
    const trace = tracePolicy(view, 'shop/client', 'shop/web', 'TCP', 80);
    assert.equal(trace.verdict, 'allowed');
    assert.equal(trace.from.identity, 301);
    assert.equal(trace.to.identity, 300);
    assert.equal(trace.steps[0]!.match, 'not-enforced');
    assert.equal(trace.steps[1]!.rule?.field, 'spec.ingress[0]');
  });

  it('says a port no rule allows is denied by the default of the policy that isolates the Pod', () => {
    const trace = tracePolicy(view, 'shop/client', 'shop/web', 'TCP', 81);
    assert.equal(trace.verdict, 'denied');
    assert.equal(trace.steps[1]!.match, 'default');
    assert.match(trace.steps[1]!.reason, /shop\/NetworkPolicy\/web/);
  });

  it('traces to a CIDR a policy names and to an address outside every range (the world)', () => {
    const dns = tracePolicy(view, 'shop/web', '198.51.100.0/24', 'UDP', 53);
    assert.equal(dns.to.identity, 400);
    assert.equal(dns.verdict, 'allowed');
    assert.equal(tracePolicy(view, 'shop/web', '198.51.100.7', 'UDP', 53).verdict, 'allowed');
    const world = tracePolicy(view, 'shop/web', '203.0.113.1', 'UDP', 53);
    assert.equal(world.to.identity, 2);
    assert.equal(world.verdict, 'denied');
    assert.equal(world.steps[0]!.direction, 'egress');
  });

  it('refuses an unknown Pod and a bad port with a message', () => {
    assert.throws(() => tracePolicy(view, 'shop/nobody', 'shop/web', 'TCP', 80), /no address of Pod "shop\/nobody"/);
    assert.throws(() => tracePolicy(view, 'shop/client', 'shop/web', 'TCP', 0), /--port 0/);
  });
});
