import assert from 'node:assert/strict';
import { it } from 'node:test';
import { POLICY_GENERATION_KEY, addressEntryCodec, identityEntryCodec, identityPolicyCodec, policyGenerationCodec, policyKey } from '@tendril/contract';
import { podPolicy } from './policy.js';

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
