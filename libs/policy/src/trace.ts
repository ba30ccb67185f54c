/**
 * What the compiled policy decides for one connection, and why, as `cilium policy trace` answers:
 * the source's egress, then the destination's ingress; in each, a deny rule wins, then an allow rule,
 * then the direction's default (drop when enforced, else allow).
 */
import { hostPrefix, parsePrefix, prefixContains, type Prefix } from './cidr.js';
import { reservedKey } from './labels.js';
import { portMatches, type Protocol } from './ports.js';
import type { CompiledPolicy, CompiledRule, DirectionPolicy } from './compile.js';
import type { Direction } from './rules.js';

export interface DirectionVerdict {
  direction: Direction;
  identity: string;
  verdict: 'allowed' | 'denied';
  /** `namespace/Kind/name field` of the deciding rule; absent when the default decided */
  by?: string;
  reason: string;
}

export interface TraceResult {
  verdict: 'allowed' | 'denied';
  from: string;
  to: string;
  steps: DirectionVerdict[];
}

/** The identity of an address: a workload or node address, else the longest range a policy names, else the world. */
export function identityOfAddress(policy: CompiledPolicy, address: string, node?: string): string {
  const host = hostPrefix(address);
  if (!host) return reservedKey('world');
  let best: { prefix: Prefix; identity: string } | undefined;
  for (const entry of policy.addresses) {
    const prefix = parsePrefix(entry.prefix);
    if (typeof prefix === 'string' || !prefixContains(prefix, host)) continue;
    if (prefix.length === host.length && entry.owner?.startsWith('Node/') && entry.node === node) return reservedKey('host');
    if (!best || prefix.length > best.prefix.length) best = { prefix, identity: entry.identity };
  }
  return best?.identity ?? reservedKey('world');
}

function matchRule(rule: CompiledRule, peer: string, protocol: Exclude<Protocol, 'ANY'>, port: number): boolean {
  return (rule.peers.includes('*') || rule.peers.includes(peer)) && rule.ports.some((range) => portMatches(range, protocol, port));
}

function decide(direction: Direction, identity: string, policy: DirectionPolicy | undefined, peer: string, protocol: Exclude<Protocol, 'ANY'>, port: number): DirectionVerdict {
  if (!policy || !policy.enforced) {
    const deny = policy?.rules.find((rule) => rule.verdict === 'deny' && matchRule(rule, peer, protocol, port));
    if (deny) return { direction, identity, verdict: 'denied', by: `${deny.policy} ${deny.field}`, reason: 'a deny rule matches' };
    return { direction, identity, verdict: 'allowed', reason: 'no policy selects it in this direction' };
  }
  if (policy.failClosed) return { direction, identity, verdict: 'denied', reason: `fails closed: ${policy.failClosed.join('; ')}` };
  const deny = policy.rules.find((rule) => rule.verdict === 'deny' && matchRule(rule, peer, protocol, port));
  if (deny) return { direction, identity, verdict: 'denied', by: `${deny.policy} ${deny.field}`, reason: 'a deny rule matches' };
  const allow = policy.rules.find((rule) => rule.verdict === 'allow' && matchRule(rule, peer, protocol, port));
  if (allow) return { direction, identity, verdict: 'allowed', by: `${allow.policy} ${allow.field}`, reason: 'an allow rule matches' };
  return { direction, identity, verdict: 'denied', reason: `no rule allows it (default deny by ${policy.policies.join(', ')})` };
}

/** The verdict for a connection from one identity to another on a port. */
export function traceIdentities(policy: CompiledPolicy, from: string, to: string, protocol: Exclude<Protocol, 'ANY'>, port: number): TraceResult {
  const byIdentity = new Map(policy.policies.map((entry) => [entry.identity, entry]));
  const steps: DirectionVerdict[] = [];
  // only workloads have policies of their own; traffic from the world or a host is judged at the destination
  steps.push(decide('egress', from, byIdentity.get(from)?.egress, to, protocol, port));
  steps.push(decide('ingress', to, byIdentity.get(to)?.ingress, from, protocol, port));
  return { verdict: steps.every((step) => step.verdict === 'allowed') ? 'allowed' : 'denied', from, to, steps };
}

/** The verdict for a connection between two addresses (`node` is where the source runs, for host addresses). */
export function traceAddresses(policy: CompiledPolicy, from: string, to: string, protocol: Exclude<Protocol, 'ANY'>, port: number, node?: string): TraceResult {
  return traceIdentities(policy, identityOfAddress(policy, from, node), identityOfAddress(policy, to, node), protocol, port);
}
