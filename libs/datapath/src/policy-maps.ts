/**
 * Codecs for the network policy maps of bpf/lib/policy.h, named after its structs, and the plan that
 * turns `tendril-policy` entries into their contents: the endpoints of this node (by cgroup id), the
 * IPv4 address table, and the allow and deny rules, port ranges split into port prefixes.
 */
import type { AddressEntryValue, IdentityPolicyValue } from '@tendril/contract';

export const POLICY_MAP_NAMES = {
  endpoints: 'tendril_policy_endpoints_v1',
  ipcache4: 'tendril_policy_ipcache4_v1',
  allow: 'tendril_policy_allow_v1',
  deny: 'tendril_policy_deny_v1',
} as const;

/** policy_endpoint.flags */
export const ENDPOINT_FLAGS = { ingressEnforced: 0x01, egressEnforced: 0x02, ingressClosed: 0x04, egressClosed: 0x08 } as const;
const DIRECTIONS = { ingress: 0, egress: 1 } as const;
const PROTOCOLS: Record<string, number> = { ANY: 0, TCP: 6, UDP: 17, SCTP: 132 };
/** identity, peer, direction, protocol: the exact part of a rule key, in bits */
const RULE_FIXED_BITS = 80;

/** struct policy_endpoint, keyed by the cgroup id (__u64, host order). */
export const policyEndpointCodec = {
  keySize: 8,
  valueSize: 8,
  key(cgroupId: bigint): Buffer {
    const key = Buffer.alloc(8);
    key.writeBigUInt64LE(cgroupId);
    return key;
  },
  value(identity: number, flags: number): Buffer {
    const value = Buffer.alloc(8);
    value.writeUInt32LE(identity, 0);
    value.writeUInt32LE(flags, 4);
    return value;
  },
  decode(value: Buffer): { identity: number; flags: number } {
    return { identity: value.readUInt32LE(0), flags: value.readUInt32LE(4) };
  },
};

/** struct policy_ipcache_key / policy_ipcache_value. */
export const policyIpcacheCodec = {
  keySize: 8,
  valueSize: 4,
  key(prefix: string): Buffer {
    const [address, length] = prefix.split('/');
    const key = Buffer.alloc(8);
    key.writeUInt32LE(Number(length ?? 32), 0);
    address!.split('.').forEach((octet, index) => key.writeUInt8(Number(octet), 4 + index));
    return key;
  },
  value(identity: number): Buffer {
    const value = Buffer.alloc(4);
    value.writeUInt32LE(identity);
    return value;
  },
};

export interface RuleKey {
  identity: number;
  peer: number;
  direction: 'ingress' | 'egress';
  protocol: string;
  port: number;
  /** bits of the port that must match (0-16) */
  portBits: number;
}

/** struct policy_rule_key (the value, struct policy_rule_value, is a hit counter). */
export const policyRuleCodec = {
  keySize: 16,
  valueSize: 4,
  key(rule: RuleKey): Buffer {
    const key = Buffer.alloc(16);
    key.writeUInt32LE(RULE_FIXED_BITS + rule.portBits, 0);
    key.writeUInt32BE(rule.identity, 4);
    key.writeUInt32BE(rule.peer, 8);
    key.writeUInt8(DIRECTIONS[rule.direction], 12);
    key.writeUInt8(PROTOCOLS[rule.protocol] ?? 0, 13);
    key.writeUInt16BE(rule.port, 14);
    return key;
  },
  value(): Buffer {
    return Buffer.alloc(4);
  },
};

/** The fewest port prefixes (port, bits) covering from-to exactly. */
export function portPrefixes(from: number, to: number): { port: number; bits: number }[] {
  const out: { port: number; bits: number }[] = [];
  let start = from;
  while (start <= to) {
    let size = 1;
    let bits = 16;
    // grow the block while it stays aligned and within the range
    while (bits > 0 && start % (size * 2) === 0 && start + size * 2 - 1 <= to) {
      size *= 2;
      bits -= 1;
    }
    out.push({ port: start, bits });
    start += size;
  }
  return out;
}

export interface PolicyMapPlan {
  /** cgroup id -> endpoint value */
  endpoints: Map<bigint, Buffer>;
  /** hex of key -> [key, value] */
  ipcache: Map<string, [Buffer, Buffer]>;
  allow: Map<string, Buffer>;
  deny: Map<string, Buffer>;
}

/**
 * What this node's policy maps should hold: `workloads` are the cgroups of the workloads here with
 * their identity numbers; only their identities' rules are programmed. IPv6 addresses are left out
 * (the programs judge IPv4 so far).
 */
export function planPolicyMaps(addresses: readonly AddressEntryValue[], policies: readonly IdentityPolicyValue[], workloads: ReadonlyMap<bigint, number>, node?: string): PolicyMapPlan {
  const plan: PolicyMapPlan = { endpoints: new Map(), ipcache: new Map(), allow: new Map(), deny: new Map() };
  const byIdentity = new Map(policies.map((policy) => [policy.identity, policy]));
  const local = new Set(workloads.values());
  for (const [cgroupId, identity] of workloads) {
    const policy = byIdentity.get(identity);
    if (!policy) continue; // selected by no policy: no entry, everything allowed
    let flags = 0;
    if (policy.ingress.enforced) flags |= ENDPOINT_FLAGS.ingressEnforced;
    if (policy.egress.enforced) flags |= ENDPOINT_FLAGS.egressEnforced;
    if (policy.ingress.failClosed) flags |= ENDPOINT_FLAGS.ingressClosed;
    if (policy.egress.failClosed) flags |= ENDPOINT_FLAGS.egressClosed;
    plan.endpoints.set(cgroupId, policyEndpointCodec.value(identity, flags));
  }
  for (const address of addresses) {
    if (address.prefix.includes(':')) continue;
    // this node's own addresses are the host (identity 1), the other nodes' remote nodes
    const identity = address.owner?.startsWith('Node/') && address.node === node ? 1 : address.identity;
    const key = policyIpcacheCodec.key(address.prefix);
    plan.ipcache.set(key.toString('hex'), [key, policyIpcacheCodec.value(identity)]);
  }
  for (const identity of local) {
    const policy = byIdentity.get(identity);
    if (!policy) continue;
    for (const direction of ['ingress', 'egress'] as const) {
      for (const rule of policy[direction].rules) {
        const target = rule.verdict === 'allow' ? plan.allow : plan.deny;
        for (const peer of rule.peers) {
          for (const range of rule.ports) {
            for (const { port, bits } of portPrefixes(range.from, range.to)) {
              const key = policyRuleCodec.key({ identity, peer, direction, protocol: range.protocol, port, portBits: bits });
              target.set(key.toString('hex'), key);
            }
          }
        }
      }
    }
  }
  return plan;
}
