/** `tendril policy get <namespace>/<pod>`: a Pod's identity and what its ingress and egress allow and deny, from tendril-policy. */
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
} from '@tendril/contract';
import { NotFoundError, print, table, type OutputFormat } from '../output.js';
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
