import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PublishedPolicy, addressBits, addressEntryCodec, identityPolicyCodec, policyKey, type IdentityPolicyValue } from './index.js';

const web: IdentityPolicyValue = {
  v: 1,
  identity: 300,
  key: 'k8s:app=web',
  ingress: {
    enforced: true,
    rules: [
      { verdict: 'allow', peers: [301], ports: [{ protocol: 'TCP', from: 8000, to: 8100 }], policy: 'shop/NetworkPolicy/web', field: 'spec.ingress[0]' },
      { verdict: 'deny', peers: [301], ports: [{ protocol: 'ANY', from: 8080, to: 8080 }], policy: 'shop/CiliumNetworkPolicy/no-8080', field: 'spec.ingressDeny[0]' },
    ],
    policies: ['shop/NetworkPolicy/web'],
  },
  egress: { enforced: false, rules: [], policies: [] },
};
const client: IdentityPolicyValue = {
  v: 1,
  identity: 301,
  key: 'k8s:app=client',
  ingress: { enforced: false, rules: [], policies: [] },
  egress: { enforced: true, failClosed: ['shop/CiliumNetworkPolicy/fqdn: toFQDNs is not enforced'], rules: [], policies: ['shop/CiliumNetworkPolicy/fqdn'] },
};

const view = PublishedPolicy.fromEntries([
  [policyKey('address', '198.18.0.10/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.10/32', identity: 300, owner: 'shop/web', node: 'n1' })],
  [policyKey('address', '198.18.0.11/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.11/32', identity: 301, owner: 'shop/client', node: 'n1' })],
  [policyKey('address', '198.18.0.0/16'), addressEntryCodec.encode({ v: 1, prefix: '198.18.0.0/16', identity: 400 })],
  [policyKey('address', '198.18.1.1/32'), addressEntryCodec.encode({ v: 1, prefix: '198.18.1.1/32', identity: 6, owner: 'Node/n1', node: 'n1' })],
  [policyKey('address', 'fd00::a/128'), addressEntryCodec.encode({ v: 1, prefix: 'fd00::a/128', identity: 300, owner: 'shop/web', node: 'n1' })],
  [policyKey('policy', 300), identityPolicyCodec.encode(web)],
  [policyKey('policy', 301), identityPolicyCodec.encode(client)],
]);

describe('the published policy read for verdicts', () => {
  it('reads addresses of both families', () => {
    assert.deepEqual(addressBits('198.18.0.1'), { family: 4, value: 0xc6120001n });
    assert.deepEqual(addressBits('fd00::1'), { family: 6, value: (0xfd00n << 112n) | 1n });
    assert.deepEqual(addressBits('::ffff:198.18.0.1'), { family: 6, value: (0xffffn << 32n) | 0xc6120001n });
    assert.equal(addressBits('not an address'), undefined);
  });

  it('finds the identity of an address by its longest entry, a node its own host, the rest the world', () => {
    assert.equal(view.identityOf('198.18.0.10'), 300);
    assert.equal(view.identityOf('198.18.7.7'), 400);
    assert.equal(view.identityOf('198.19.0.1'), 2);
    assert.equal(view.identityOf('fd00::a'), 300);
    assert.equal(view.identityOf('fd00::b'), 2);
    assert.equal(view.identityOf('198.18.1.1', 'n1'), 1);
    assert.equal(view.identityOf('198.18.1.1', 'n2'), 6);
  });

  it('names the allow rule, a deny over an allow, and the default deny', () => {
    const allowed = view.judge(301, 300, 'TCP', 8000);
    // the client's egress is closed: the verdict is denied whatever web allows
    assert.equal(allowed.verdict, 'denied');
    assert.equal(allowed.steps[0]!.match, 'closed');
    assert.match(allowed.steps[0]!.reason, /toFQDNs/);
    assert.equal(allowed.steps[1]!.verdict, 'allowed');
    assert.equal(allowed.steps[1]!.rule?.field, 'spec.ingress[0]');

    const denied = view.decide('ingress', 300, 301, 'TCP', 8080);
    assert.equal(denied.verdict, 'denied');
    assert.equal(denied.rule?.policy, 'shop/CiliumNetworkPolicy/no-8080');

    const outside = view.decide('ingress', 300, 301, 'UDP', 8000);
    assert.equal(outside.verdict, 'denied');
    assert.equal(outside.match, 'default');
    assert.equal(outside.rule, undefined);

    const world = view.judge(2, 301, 'TCP', 443);
    assert.deepEqual(
      world.steps.map((step) => [step.direction, step.verdict, step.match]),
      [
        ['egress', 'allowed', 'not-enforced'],
        ['ingress', 'allowed', 'not-enforced'],
      ],
    );
    assert.equal(world.verdict, 'allowed');
  });
});
