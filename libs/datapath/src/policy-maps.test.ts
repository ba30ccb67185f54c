import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENDPOINT_FLAGS, planPolicyMaps, policyEndpointCodec, policyIpcacheCodec, policyRuleCodec, portPrefixes } from './index.js';

const object = fileURLToPath(new URL('../../../bpf/build/policy.o', import.meta.url));

test('the policy codecs have the sizes of their structs in the compiled object', () => {
  assert.ok(existsSync(object), `${object} missing: run npx nx run bpf:build`);
  const dump = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', object], { encoding: 'utf8' })) as { types: { kind: string; name?: string; size?: number }[] };
  const size = (name: string) => dump.types.find((type) => type.kind === 'STRUCT' && type.name === name)?.size;
  assert.equal(size('policy_endpoint'), policyEndpointCodec.valueSize);
  assert.equal(size('policy_ipcache_key'), policyIpcacheCodec.keySize);
  assert.equal(size('policy_ipcache_value'), policyIpcacheCodec.valueSize);
  assert.equal(size('policy_rule_key'), policyRuleCodec.keySize);
  assert.equal(size('policy_rule_value'), policyRuleCodec.valueSize);
});

test('a port range becomes the fewest port prefixes that cover it exactly', () => {
  assert.deepEqual(portPrefixes(80, 80), [{ port: 80, bits: 16 }]);
  assert.deepEqual(portPrefixes(0, 65535), [{ port: 0, bits: 0 }]);
  assert.deepEqual(portPrefixes(8000, 8015), [{ port: 8000, bits: 12 }]);
  const ranges = [[8000, 8100], [1, 65535], [30000, 32767], [5, 6]] as const;
  for (const [from, to] of ranges) {
    const covered = new Set<number>();
    for (const { port, bits } of portPrefixes(from, to)) for (let p = port; p < port + 2 ** (16 - bits); p++) covered.add(p);
    assert.equal(covered.size, to - from + 1, `${from}-${to}`);
    assert.ok([...covered].every((p) => p >= from && p <= to), `${from}-${to} exactly`);
  }
  assert.ok(portPrefixes(1, 65535).length <= 16);
});

test('the plan programs only this node’s workloads, their flags and rules, and reads this node’s addresses as the host', () => {
  const rule = (verdict: 'allow' | 'deny', peers: number[]) => ({ verdict, peers, ports: [{ protocol: 'TCP' as const, from: 80, to: 81 }], policy: 'ns/NetworkPolicy/p', field: 'spec.ingress[0]' });
  const direction = (enforced: boolean, rules: ReturnType<typeof rule>[], failClosed?: string[]) => ({ enforced, rules, policies: [], ...(failClosed ? { failClosed } : {}) });
  const plan = planPolicyMaps(
    [
      { v: 1, prefix: '198.18.0.10/32', identity: 300, owner: 'ns/a' },
      { v: 1, prefix: '198.18.255.1/32', identity: 6, owner: 'Node/node-a', node: 'node-a' },
      { v: 1, prefix: '198.18.255.2/32', identity: 6, owner: 'Node/node-b', node: 'node-b' },
      { v: 1, prefix: '2001:db8::1/128', identity: 300, owner: 'ns/a' },
    ],
    [
      { v: 1, identity: 300, key: 'a', ingress: direction(true, [rule('allow', [301]), rule('deny', [0])]), egress: direction(true, [], ['x']) },
      { v: 1, identity: 302, key: 'elsewhere', ingress: direction(true, [rule('allow', [0])]), egress: direction(false, []) },
    ],
    new Map([[7n, 300], [8n, 303]]),
    'node-a',
  );
  assert.deepEqual([...plan.endpoints.keys()], [7n], 'a workload no policy selects gets no entry');
  assert.deepEqual(policyEndpointCodec.decode(plan.endpoints.get(7n)!), { identity: 300, flags: ENDPOINT_FLAGS.ingressEnforced | ENDPOINT_FLAGS.egressEnforced | ENDPOINT_FLAGS.egressClosed });
  const ipcache = new Map([...plan.ipcache.values()].map(([key, value]) => [`${key.readUInt8(4)}.${key.readUInt8(5)}.${key.readUInt8(6)}.${key.readUInt8(7)}/${key.readUInt32LE(0)}`, value.readUInt32LE(0)]));
  assert.deepEqual(Object.fromEntries(ipcache), { '198.18.0.10/32': 300, '198.18.255.1/32': 1, '198.18.255.2/32': 6 });
  // ports 80-81: one prefix of 15 bits; the rules of identity 302 (no workload here) are not programmed
  assert.equal(plan.allow.size, 1);
  assert.equal(plan.deny.size, 1);
  const [allowKey] = plan.allow.values();
  assert.equal(allowKey!.readUInt32LE(0), 80 + 15);
  assert.equal(allowKey!.readUInt32BE(4), 300);
  assert.equal(allowKey!.readUInt32BE(8), 301);
  assert.equal(allowKey!.readUInt16BE(14), 80);
});
