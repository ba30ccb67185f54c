/** Test support: a policy compiled by @tendril/policy, numbered as the translator numbers it, as tendril-policy values. */
import type { AddressEntryValue, IdentityPolicyValue } from '@tendril/contract';
import { compilePolicy, type DirectionPolicy } from '@tendril/policy';

export interface PolicyValues {
  addresses: AddressEntryValue[];
  policies: IdentityPolicyValue[];
}

/** Reserved identities keep their numbers; the others get 256, 257... in the order of their keys. */
export function compiledValues(objects: Record<string, unknown>[]): PolicyValues {
  const compiled = compilePolicy({ cluster: 'default', objects });
  const numbers = new Map<string, number>();
  let next = 256;
  for (const identity of compiled.identities) numbers.set(identity.key, identity.reserved ?? next++);
  const number = (key: string) => (key === '*' ? 0 : numbers.get(key)!);
  const direction = (policy: DirectionPolicy) => ({
    enforced: policy.enforced,
    ...(policy.failClosed ? { failClosed: policy.failClosed } : {}),
    rules: policy.rules.map((rule) => ({ ...rule, peers: rule.peers.map(number) })),
    policies: policy.policies,
  });
  return {
    addresses: compiled.addresses.map((entry) => ({ v: 1, prefix: entry.prefix, identity: number(entry.identity), ...(entry.owner ? { owner: entry.owner } : {}), ...(entry.uid ? { uid: entry.uid } : {}), ...(entry.node ? { node: entry.node } : {}) })),
    policies: compiled.policies.map((policy) => ({ v: 1, identity: number(policy.identity), key: policy.identity, ingress: direction(policy.ingress), egress: direction(policy.egress) })),
  };
}
