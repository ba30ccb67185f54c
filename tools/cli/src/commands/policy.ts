/**
 * `tendril policy get <namespace>/<pod>`: a Pod's identity and what its ingress and egress allow and
 * deny; `tendril policy trace --from --to --port`: which rule allows or denies one connection. Both
 * read tendril-policy.
 */
import {
  BUCKETS,
  POLICY_GENERATION_KEY,
  addressEntryCodec,
  identityEntryCodec,
  identityPolicyCodec,
  parsePolicyKey,
  type AddressEntryValue,
  type IdentityEntryValue,
  type IdentityPolicyValue,
  PublishedPolicy,
  addressBits,
  type PolicyProtocol,
  type PolicyStep,
} from '@tendril/contract';
import { NotFoundError, UsageError, print, table, type OutputFormat } from '../output.js';
import type { Session } from '../session.js';

export interface PodPolicy {
  pod: string;
  addresses: string[];
  identity: number;
  labels: string[];
  /** absent: no policy selects the Pod (everything allowed) */
  policy?: IdentityPolicyValue;
}

/** The Pod's entry, found in the entries of tendril-policy; undefined when the Pod has no address there. */
export function podPolicy(entries: Iterable<[string, Uint8Array]>, pod: string): PodPolicy | undefined {
  const addresses: AddressEntryValue[] = [];
  const identities = new Map<number, IdentityEntryValue>();
  const policies = new Map<number, IdentityPolicyValue>();
  for (const [key, bytes] of entries) {
    if (key === POLICY_GENERATION_KEY) continue;
    const { kind } = parsePolicyKey(key);
    if (kind === 'address') addresses.push(addressEntryCodec.decode(bytes));
    else if (kind === 'identity') {
      const entry = identityEntryCodec.decode(bytes);
      identities.set(entry.id, entry);
    } else if (kind === 'policy') {
      const entry = identityPolicyCodec.decode(bytes);
      policies.set(entry.identity, entry);
    }
  }
  const own = addresses.filter((address) => address.owner === pod);
  if (own.length === 0) return undefined;
  const identity = own[0]!.identity;
  const policy = policies.get(identity);
  return { pod, addresses: own.map((address) => address.prefix), identity, labels: identities.get(identity)?.labels ?? [], ...(policy ? { policy } : {}) };
}

export async function policyGet(session: Session, format: OutputFormat, pod: string): Promise<void> {
  const found = podPolicy(await session.entries(BUCKETS.policy), pod);
  if (!found) throw new NotFoundError(`no address of Pod "${pod}" in ${BUCKETS.policy} (give it as namespace/name)`);
  const rows = (['ingress', 'egress'] as const).flatMap((direction) =>
    (found.policy?.[direction].rules ?? []).map((rule) => ({
      direction,
      verdict: rule.verdict,
      peers: rule.peers.map((peer) => (peer === 0 ? 'any' : String(peer))).join(', '),
      ports: rule.ports.map((port) => `${port.from === 0 && port.to === 65535 ? '*' : port.from === port.to ? port.from : `${port.from}-${port.to}`}/${port.protocol}`).join(', '),
      policy: `${rule.policy} ${rule.field}`,
    })),
  );
  print(format, found, () => {
    const mode = (direction: 'ingress' | 'egress') => {
      const state = found.policy?.[direction];
      if (!state || !state.enforced) return 'not enforced (allowed unless denied)';
      if (state.failClosed) return `closed: ${state.failClosed.join('; ')}`;
      return `enforced by ${state.policies.join(', ')}`;
    };
    return [
      `Pod:       ${found.pod} (${found.addresses.join(', ')})`,
      `Identity:  ${found.identity}`,
      `Labels:    ${found.labels.join(' ')}`,
      `Ingress:   ${mode('ingress')}`,
      `Egress:    ${mode('egress')}`,
      '',
      rows.length
        ? table(rows, [
            { header: 'DIRECTION', value: (r) => r.direction },
            { header: 'VERDICT', value: (r) => r.verdict },
            { header: 'PEERS', value: (r) => r.peers },
            { header: 'PORTS', value: (r) => r.ports },
            { header: 'POLICY', value: (r) => r.policy },
          ])
        : found.policy
          ? '(no rule: what is enforced is denied)'
          : '(no policy selects this Pod: everything is allowed)',
    ].join('\n');
  });
}

export interface TraceEnd {
  /** as given: namespace/name of a Pod, an address or a CIDR */
  name: string;
  identity: number;
  labels: string[];
  /** the address the trace uses */
  address?: string;
  node?: string;
}

export interface PolicyTrace {
  from: TraceEnd;
  to: TraceEnd;
  protocol: PolicyProtocol;
  port: number;
  verdict: 'allowed' | 'denied';
  steps: (PolicyStep & { identityName: string })[];
}

/** A Pod (namespace/name), an address, or a CIDR (its identity when a policy names it, else its first address's). */
function traceEnd(view: PublishedPolicy, name: string, node?: string): TraceEnd {
  const labelsOf = (identity: number) => view.identities.get(identity)?.labels ?? [];
  const [address, length] = name.split('/');
  if (addressBits(address!) && (length === undefined || /^\d+$/.test(length))) {
    const named = view.addresses.find((entry) => entry.prefix === name && !entry.owner);
    const identity = named ? named.identity : view.identityOf(address!, node);
    return { name, identity, labels: labelsOf(identity), address: address! };
  }
  if (!name.includes('/')) throw new UsageError(`"${name}": expected namespace/name of a Pod, an address or a CIDR`);
  const own = view.addressesOf(name);
  if (own.length === 0) throw new NotFoundError(`no address of Pod "${name}" in ${BUCKETS.policy}`);
  return { name, identity: own[0]!.identity, labels: labelsOf(own[0]!.identity), address: own[0]!.prefix.split('/')[0]!, ...(own[0]!.node ? { node: own[0]!.node } : {}) };
}

/** Which rules allow or deny a connection, from the published policy: the source's egress, then the destination's ingress. */
export function tracePolicy(view: PublishedPolicy, from: string, to: string, protocol: PolicyProtocol, port: number): PolicyTrace {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port ${port}: expected 1-65535`);
  const source = traceEnd(view, from);
  const destination = traceEnd(view, to, source.node);
  const judgement = view.judge(source.identity, destination.identity, protocol, port);
  return {
    from: source,
    to: destination,
    protocol,
    port,
    verdict: judgement.verdict,
    steps: judgement.steps.map((step) => ({ ...step, identityName: step.direction === 'egress' ? source.name : destination.name })),
  };
}

export async function policyTrace(session: Session, format: OutputFormat, options: { from: string; to: string; port: string; protocol: string }): Promise<void> {
  const protocol = options.protocol.toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') throw new UsageError(`--protocol ${options.protocol}: expected TCP, UDP or SCTP`);
  const trace = tracePolicy(PublishedPolicy.fromEntries(await session.entries(BUCKETS.policy)), options.from, options.to, protocol, Number(options.port));
  print(format, trace, () => {
    const end = (e: TraceEnd) => `${e.name}${e.address && e.address !== e.name ? ` (${e.address})` : ''}, identity ${e.identity}${e.labels.length ? `: ${e.labels.join(' ')}` : ''}`;
    return [
      `From:     ${end(trace.from)}`,
      `To:       ${end(trace.to)}`,
      `Port:     ${trace.port}/${trace.protocol}`,
      '',
      ...trace.steps.map((step) => `${step.direction === 'egress' ? 'Egress of ' : 'Ingress of'} ${step.identityName}: ${step.verdict.toUpperCase()}, ${step.reason}`),
      '',
      `Final verdict: ${trace.verdict === 'allowed' ? 'ALLOWED' : 'DENIED'}`,
    ].join('\n');
  });
}
