/**
 * The compiled policy (libs/policy) as `tendril-policy` entries, with numeric identities: reserved
 * ones keep Cilium's numbers, the others come from the allocator; `*` (any peer) becomes 0, as in
 * Cilium's policy maps.
 */
import {
  addressEntryCodec,
  identityEntryCodec,
  identityPolicyCodec,
  policyErrorsCodec,
  policyKey,
  type PolicyRuleEntry,
} from '@tendril/contract';
import type { CompiledPolicy, CompiledRule, DirectionPolicy } from '@tendril/policy';

export interface PolicyEntries {
  /** key -> encoded value */
  entries: Map<string, Uint8Array>;
  errors: CompiledPolicy['errors'];
}

/** The identity keys that need an allocated number (all but the reserved ones). */
export function keysToAllocate(compiled: CompiledPolicy): string[] {
  return compiled.identities.filter((identity) => identity.reserved === undefined).map((identity) => identity.key);
}

export function policyEntries(compiled: CompiledPolicy, allocated: ReadonlyMap<string, number>): PolicyEntries {
  const numbers = new Map<string, number>(allocated);
  for (const identity of compiled.identities) if (identity.reserved !== undefined) numbers.set(identity.key, identity.reserved);
  const numberOf = (key: string): number => {
    const id = numbers.get(key);
    if (id === undefined) throw new Error(`identity ${key} has no number`);
    return id;
  };
  const entries = new Map<string, Uint8Array>();
  for (const identity of compiled.identities) {
    const id = numberOf(identity.key);
    entries.set(policyKey('identity', id), identityEntryCodec.encode({ v: 1, id, key: identity.key, labels: identity.labels }));
  }
  for (const address of compiled.addresses) {
    const key = policyKey('address', address.prefix);
    // an address two Pods claim (one leaving, one arriving) keeps the first in order
    if (entries.has(key)) continue;
    entries.set(key, addressEntryCodec.encode({ v: 1, prefix: address.prefix, identity: numberOf(address.identity), ...(address.owner ? { owner: address.owner } : {}), ...(address.uid ? { uid: address.uid } : {}), ...(address.node ? { node: address.node } : {}) }));
  }
  const rule = (compiled: CompiledRule): PolicyRuleEntry => ({
    verdict: compiled.verdict,
    peers: compiled.peers.map((peer) => (peer === '*' ? 0 : numberOf(peer))).sort((a, b) => a - b),
    ports: compiled.ports,
    policy: compiled.policy,
    field: compiled.field,
  });
  const direction = (policy: DirectionPolicy) => ({ enforced: policy.enforced, ...(policy.failClosed ? { failClosed: policy.failClosed } : {}), rules: policy.rules.map(rule), policies: policy.policies });
  for (const policy of compiled.policies) {
    const id = numberOf(policy.identity);
    entries.set(policyKey('policy', id), identityPolicyCodec.encode({ v: 1, identity: id, key: policy.identity, ingress: direction(policy.ingress), egress: direction(policy.egress) }));
  }
  const byObject = new Map<string, { field: string; message: string; effect: 'refused' | 'fail-closed' | 'not-enforced' }[]>();
  for (const error of compiled.errors) {
    const list = byObject.get(error.object) ?? [];
    list.push({ field: error.field, message: error.message, effect: error.effect });
    byObject.set(error.object, list);
  }
  for (const [object, errors] of byObject) entries.set(policyKey('error', object), policyErrorsCodec.encode({ v: 1, object, errors }));
  return { entries, errors: compiled.errors };
}
