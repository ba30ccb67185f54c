/**
 * ClusterIP allocation for standalone mode, where no API server hands out VIPs: a Service without
 * spec.clusterIP gets an address from the service range, chosen by a hash of namespace/name so that
 * it stays the same across restarts, probing past addresses already taken.
 */
import type { ManifestObject } from './manifests.js';

export interface Cidr4 {
  base: number;
  size: number;
}

export function parseCidr4(cidr: string): Cidr4 {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const bits = Number(match?.[5]);
  if (!match || octets.some((o) => o > 255) || bits < 8 || bits > 30) throw new Error(`service range "${cidr}" is not an IPv4 CIDR between /8 and /30`);
  const address = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const size = 2 ** (32 - bits);
  return { base: address - (address % size), size };
}

const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/** Fills in spec.clusterIP(s) of Services that have none; returns the keys it assigned, for the log. */
export function allocateClusterIPs(objects: ManifestObject[], range: string): Map<string, string> {
  const cidr = parseCidr4(range);
  const services = objects.filter((o) => o.object.kind === 'Service').sort((a, b) => a.key.localeCompare(b.key));
  const taken = new Set<string>();
  const specOf = (o: ManifestObject) => ((o.object as Record<string, unknown>)['spec'] ??= {}) as Record<string, unknown>;
  for (const service of services) {
    const ip = specOf(service)['clusterIP'];
    if (typeof ip === 'string' && ip !== '' && ip !== 'None') taken.add(ip);
  }
  const assigned = new Map<string, string>();
  // network and broadcast addresses are never handed out
  const usable = cidr.size - 2;
  for (const service of services) {
    const spec = specOf(service);
    if (spec['type'] === 'ExternalName' || (typeof spec['clusterIP'] === 'string' && spec['clusterIP'] !== '')) continue;
    const start = fnv1a(`${service.ref.namespace}/${service.ref.name}`) % usable;
    for (let probe = 0; probe < usable; probe++) {
      const ip = toIp(cidr.base + 1 + ((start + probe) % usable));
      if (taken.has(ip)) continue;
      taken.add(ip);
      spec['clusterIP'] = ip;
      spec['clusterIPs'] = [ip];
      assigned.set(service.key, ip);
      break;
    }
  }
  return assigned;
}

/**
 * The same allocation kept up to date one Service at a time, for a folder read incrementally: a
 * Service keeps the address it holds (or held before a restart, `preferred`) while it is free; an
 * address a Service asks for explicitly is taken from an allocated one, which then moves.
 */
export class ClusterIpAllocator {
  private readonly cidr: Cidr4;
  private readonly owners = new Map<string, { key: string; explicit: boolean }>();
  private readonly addresses = new Map<string, string>();

  constructor(range: string) {
    this.cidr = parseCidr4(range);
  }

  /**
   * Records the address a Service asks for; returns the keys of allocated Services that held it and
   * must be given another one.
   */
  claim(key: string, ip: string): string[] {
    this.release(key);
    const owner = this.owners.get(ip);
    const displaced = owner && !owner.explicit ? [owner.key] : [];
    for (const other of displaced) this.addresses.delete(other);
    // two Services asking for one address both keep it, as the manifests say (the first owner is kept)
    if (!owner || !owner.explicit) this.owners.set(ip, { key, explicit: true });
    this.addresses.set(key, ip);
    return displaced;
  }

  /** An address for a Service without one: the one it has, else `preferred` if free and in range, else by hash with probing. */
  allocate(key: string, namespacedName: string, preferred?: string): string | undefined {
    const held = this.addresses.get(key);
    if (held && this.owners.get(held)?.key === key && !this.owners.get(held)!.explicit) return held;
    this.release(key);
    const usable = this.cidr.size - 2;
    const inRange = (ip: string) => {
      const n = ipNumber(ip);
      return n !== undefined && n > this.cidr.base && n < this.cidr.base + this.cidr.size - 1;
    };
    let ip: string | undefined;
    if (preferred && inRange(preferred) && !this.owners.has(preferred)) ip = preferred;
    const start = fnv1a(namespacedName) % usable;
    for (let probe = 0; ip === undefined && probe < usable; probe++) {
      const candidate = toIp(this.cidr.base + 1 + ((start + probe) % usable));
      if (!this.owners.has(candidate)) ip = candidate;
    }
    if (ip === undefined) return undefined;
    this.owners.set(ip, { key, explicit: false });
    this.addresses.set(key, ip);
    return ip;
  }

  release(key: string): void {
    const ip = this.addresses.get(key);
    if (ip === undefined) return;
    this.addresses.delete(key);
    if (this.owners.get(ip)?.key === key) this.owners.delete(ip);
  }
}

function ipNumber(ip: string): number | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}
