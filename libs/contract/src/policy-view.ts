/**
 * What the published network policy (`tendril-policy` entries) decides for one connection, and which
 * rule decided it: the reading of the entries that the kernel programs implement with their maps,
 * for those who must explain a verdict (the datapath naming the rule of a dropped flow, `tendril
 * policy trace`). The source's egress is judged, then the destination's ingress; in each direction a
 * deny rule wins, then an allow rule, then the default: dropped when the direction is enforced,
 * allowed when not. A closed direction (a policy that cannot be enforced) drops everything.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { POLICY_GENERATION_KEY, addressEntryCodec, identityEntryCodec, identityPolicyCodec, parsePolicyKey, type AddressEntryValue, type IdentityEntryValue, type IdentityPolicyValue, type PolicyRuleEntry } from './messages/policy.js';

/** Cilium's reserved identities, as published. */
export const RESERVED_IDENTITY = { host: 1, world: 2 } as const;

export type PolicyDirection = 'ingress' | 'egress';
export type PolicyProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface PolicyStep {
  direction: PolicyDirection;
  /** the identity whose policy is judged: the source for egress, the destination for ingress */
  identity: number;
  peer: number;
  verdict: 'allowed' | 'denied';
  /** the rule that decided; absent when the direction's default decided */
  rule?: PolicyRuleEntry;
  /** how it was decided */
  match: 'rule' | 'default' | 'not-enforced' | 'closed';
  reason: string;
}

export interface PolicyJudgement {
  verdict: 'allowed' | 'denied';
  steps: PolicyStep[];
}

/** An address as a bit string of its family (32 or 128 bits), or undefined when it does not parse. */
export function addressBits(address: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(address)) return { family: 4, value: address.split('.').reduce((sum, octet) => (sum << 8n) | BigInt(Number(octet)), 0n) };
  if (!isIPv6(address)) return undefined;
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // an embedded IPv4 tail (::ffff:198.18.0.1) is two groups
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = addressBits(tail[1]!)!.value;
    text = `${text.slice(0, tail.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(rest);
  const all = rest === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { family: 6, value: all.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n) };
}

interface ParsedPrefix {
  family: 4 | 6;
  value: bigint;
  length: number;
}

function parsePrefixText(prefix: string): ParsedPrefix | undefined {
  const [address, length] = prefix.split('/');
  const bits = addressBits(address!);
  if (!bits) return undefined;
  const size = bits.family === 4 ? 32 : 128;
  const len = length === undefined ? size : Number(length);
  if (!Number.isInteger(len) || len < 0 || len > size) return undefined;
  return { ...bits, length: len };
}

function contains(prefix: ParsedPrefix, address: { family: 4 | 6; value: bigint }): boolean {
  if (prefix.family !== address.family) return false;
  const size = BigInt(prefix.family === 4 ? 32 : 128);
  const shift = size - BigInt(prefix.length);
  return prefix.value >> shift === address.value >> shift;
}

function portMatches(range: PolicyRuleEntry['ports'][number], protocol: PolicyProtocol, port: number): boolean {
  return (range.protocol === 'ANY' || range.protocol === protocol) && port >= range.from && port <= range.to;
}

function ruleMatches(rule: PolicyRuleEntry, peer: number, protocol: PolicyProtocol, port: number): boolean {
  return (rule.peers.includes(0) || rule.peers.includes(peer)) && rule.ports.some((range) => portMatches(range, protocol, port));
}

/** The entries of `tendril-policy`, read for explaining verdicts. */
export class PublishedPolicy {
  readonly identities = new Map<number, IdentityEntryValue>();
  readonly policies = new Map<number, IdentityPolicyValue>();
  readonly addresses: AddressEntryValue[] = [];
  private prefixes: { entry: AddressEntryValue; prefix: ParsedPrefix }[] = [];

  /** From raw bucket entries (key, bytes); the marker and unknown kinds are skipped. */
  static fromEntries(entries: Iterable<[string, Uint8Array]>): PublishedPolicy {
    const view = new PublishedPolicy();
    for (const [key, bytes] of entries) {
      if (key === POLICY_GENERATION_KEY) continue;
      const { kind } = parsePolicyKey(key);
      if (kind === 'address') view.addresses.push(addressEntryCodec.decode(bytes));
      else if (kind === 'identity') {
        const entry = identityEntryCodec.decode(bytes);
        view.identities.set(entry.id, entry);
      } else if (kind === 'policy') {
        const entry = identityPolicyCodec.decode(bytes);
        view.policies.set(entry.identity, entry);
      }
    }
    view.index();
    return view;
  }

  /** From decoded entries (as a mirror holds them). */
  static of(addresses: Iterable<AddressEntryValue>, policies: Iterable<IdentityPolicyValue>, identities: Iterable<IdentityEntryValue> = []): PublishedPolicy {
    const view = new PublishedPolicy();
    view.addresses.push(...addresses);
    for (const policy of policies) view.policies.set(policy.identity, policy);
    for (const identity of identities) view.identities.set(identity.id, identity);
    view.index();
    return view;
  }

  private index(): void {
    this.prefixes = [];
    for (const entry of this.addresses) {
      const prefix = parsePrefixText(entry.prefix);
      if (prefix) this.prefixes.push({ entry, prefix });
    }
    // longest prefix first: the first that holds an address is its entry
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The address entry holding an address (longest prefix), if any. */
  entryOf(address: string): AddressEntryValue | undefined {
    const bits = addressBits(address);
    if (!bits) return undefined;
    return this.prefixes.find(({ prefix }) => contains(prefix, bits))?.entry;
  }

  /**
   * The identity of an address as the datapath of `node` reads it: the longest entry holding it, that
   * node's own addresses the host, anything else the world.
   */
  identityOf(address: string, node?: string): number {
    const entry = this.entryOf(address);
    if (!entry) return RESERVED_IDENTITY.world;
    if (node !== undefined && entry.owner?.startsWith('Node/') && entry.node === node) return RESERVED_IDENTITY.host;
    return entry.identity;
  }

  /** The addresses of a Pod (`namespace/name`), by the owner of the address entries. */
  addressesOf(pod: string): AddressEntryValue[] {
    return this.addresses.filter((entry) => entry.owner === pod);
  }

  /** One direction of one identity's policy for a peer, protocol and port. */
  decide(direction: PolicyDirection, identity: number, peer: number, protocol: PolicyProtocol, port: number): PolicyStep {
    const state = this.policies.get(identity)?.[direction];
    const base = { direction, identity, peer };
    if (state?.failClosed) return { ...base, verdict: 'denied', match: 'closed', reason: `fails closed: ${state.failClosed.join('; ')}` };
    const deny = state?.rules.find((rule) => rule.verdict === 'deny' && ruleMatches(rule, peer, protocol, port));
    if (deny) return { ...base, verdict: 'denied', rule: deny, match: 'rule', reason: `denied by ${deny.policy} ${deny.field}` };
    if (!state?.enforced) return { ...base, verdict: 'allowed', match: 'not-enforced', reason: 'no policy isolates this direction' };
    const allow = state.rules.find((rule) => rule.verdict === 'allow' && ruleMatches(rule, peer, protocol, port));
    if (allow) return { ...base, verdict: 'allowed', rule: allow, match: 'rule', reason: `allowed by ${allow.policy} ${allow.field}` };
    return { ...base, verdict: 'denied', match: 'default', reason: `no rule allows it (default deny of ${state.policies.join(', ')})` };
  }

  /** The verdict for a connection from one identity to another: the source's egress, then the destination's ingress. */
  judge(from: number, to: number, protocol: PolicyProtocol, port: number): PolicyJudgement {
    const steps = [this.decide('egress', from, to, protocol, port), this.decide('ingress', to, from, protocol, port)];
    return { verdict: steps.every((step) => step.verdict === 'allowed') ? 'allowed' : 'denied', steps };
  }
}
