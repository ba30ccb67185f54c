/**
 * LoadBalancer IP address management for where no cloud, MetalLB or Cilium LB-IPAM hands out
 * addresses (standalone mode, and tests that stand for a cluster): each LoadBalancer Service gets
 * status.loadBalancer.ingress from a pool, as Cilium's LB-IPAM does. An address already assigned
 * stays while it is in the pool and no other Service holds it; addresses asked for with
 * `lbipam.cilium.io/ips` are given when they are in the pool and free; the others get a stable pick
 * by a hash of `namespace/name` (probing past taken ones), so the same Services get the same
 * addresses on every run. Pure: the caller keeps what it assigned.
 */
import { LB_IPAM_IPS_ANNOTATION } from '@tendril/contract';
import { parseCidr4, type Cidr4 } from './cluster-ip.js';

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const formatIPv4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

function parsePool(pool: string): Cidr4 | undefined {
  try {
    return parseCidr4(pool);
  } catch {
    return undefined;
  }
}

/** A slot in [0, size) for each id by its hash, probing upward past taken slots, ids in sorted order. */
function pickSlots(ids: readonly string[], size: number, taken: Set<number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of [...ids].sort(compare)) {
    if (taken.size >= size) break;
    let slot = fnv1a(id) % size;
    while (taken.has(slot)) slot = (slot + 1) % size;
    taken.add(slot);
    out.set(id, slot);
  }
  return out;
}

export interface LbIpamRequest {
  /** `namespace/name` of the Service. */
  id: string;
  /** The pool (IPv4 CIDR) the Service takes its address from. */
  pool: string;
  /** Its current address (status.loadBalancer.ingress[0].ip), kept when still valid. */
  current?: string;
  /** Addresses asked for (`lbipam.cilium.io/ips`), the first free one in the pool is given. */
  requested?: string[];
}

/** The address of each Service by id; a Service left out found none (its pool is full or not a CIDR, or what it asked for is taken). */
export function assignLoadBalancerIPs(requests: readonly LbIpamRequest[]): Map<string, string> {
  const out = new Map<string, string>();
  const byPool = new Map<string, LbIpamRequest[]>();
  for (const request of [...requests].sort((a, b) => compare(a.id, b.id))) byPool.set(request.pool, [...(byPool.get(request.pool) ?? []), request]);
  for (const [pool, members] of byPool) {
    const range = parsePool(pool);
    if (!range) continue;
    const slotOf = (address: string | undefined): number | undefined => {
      const octets = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address ?? '')?.slice(1).map(Number);
      if (!octets || octets.some((octet) => octet > 255)) return undefined;
      const value = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
      const slot = value - range.base - 1; // the network address is never given
      return slot >= 0 && slot < range.size - 2 ? slot : undefined;
    };
    const taken = new Set<number>();
    const free: string[] = [];
    // Asked-for addresses first, then kept ones, then picks: a request always beats a pick.
    for (const request of members) {
      const asked = request.requested?.map(slotOf).find((slot) => slot !== undefined && !taken.has(slot));
      if (request.requested?.length) {
        if (asked !== undefined) {
          taken.add(asked);
          out.set(request.id, formatIPv4(range.base + 1 + asked));
        }
        continue;
      }
    }
    for (const request of members) {
      if (request.requested?.length) continue;
      const kept = slotOf(request.current);
      if (kept !== undefined && !taken.has(kept)) {
        taken.add(kept);
        out.set(request.id, formatIPv4(range.base + 1 + kept));
      } else free.push(request.id);
    }
    for (const [id, slot] of pickSlots(free, range.size - 2, taken)) out.set(id, formatIPv4(range.base + 1 + slot));
  }
  return out;
}

/** The LB-IPAM request of a Service object (undefined: not a LoadBalancer Service). */
export function lbIpamRequest(object: { metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: unknown; status?: unknown }, pool: string): LbIpamRequest | undefined {
  const spec = (object.spec ?? {}) as { type?: string };
  if (spec.type !== 'LoadBalancer') return undefined;
  const current = (object.status as { loadBalancer?: { ingress?: { ip?: string }[] } } | undefined)?.loadBalancer?.ingress?.[0]?.ip;
  const asked = object.metadata.annotations?.[LB_IPAM_IPS_ANNOTATION];
  return {
    id: `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`,
    pool,
    ...(current ? { current } : {}),
    ...(asked ? { requested: asked.split(',').map((address) => address.trim()).filter((address) => address !== '') } : {}),
  };
}
