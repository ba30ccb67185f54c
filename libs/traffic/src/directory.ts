/**
 * Who is at an address: built from the tendril-lb services (frontend VIPs and backend IPs map to the
 * service's namespace/name), and the service an Envoy cluster name stands for.
 */
import type { LbService } from '@tendril/contract';

export const UNKNOWN = 'unknown';

/** `<namespace>/<service>:<port>` (the translator's service cluster names) -> `<namespace>/<service>`. */
export function serviceOfCluster(cluster: string | undefined): string | undefined {
  const match = /^([a-z0-9][-a-z0-9.]*)\/([a-z0-9][-a-z0-9.]*):\d+$/.exec(cluster ?? '');
  return match ? `${match[1]}/${match[2]}` : undefined;
}

export class ServiceDirectory {
  /** The services holding each address (a frontend or a backend of theirs), by `<namespace>/<service>`. */
  private readonly holders = new Map<string, Set<string>>();
  /** Each service's addresses, by the key it was set under. */
  private readonly held = new Map<string, { name: string; addresses: string[] }>();

  /** Replaces the whole view. */
  update(services: Iterable<LbService>): void {
    const seen = new Set<string>();
    for (const service of services) {
      const key = `${service.namespace}/${service.name}`;
      seen.add(key);
      this.set(key, service);
    }
    for (const key of [...this.held.keys()]) if (!seen.has(key)) this.set(key, undefined);
  }

  /**
   * One service changed (undefined: gone), under a key of the caller's (the tendril-lb key): the cost is
   * that service's addresses, not the directory's.
   */
  set(key: string, service: LbService | undefined): void {
    const before = this.held.get(key);
    if (before) {
      for (const address of before.addresses) {
        const names = this.holders.get(address);
        names?.delete(before.name);
        if (names?.size === 0) this.holders.delete(address);
      }
      this.held.delete(key);
    }
    if (!service) return;
    const name = `${service.namespace}/${service.name}`;
    const addresses = [...new Set([...service.frontends.map((frontend) => frontend.address), ...service.backends.map((backend) => backend.address)])];
    for (const address of addresses) {
      let names = this.holders.get(address);
      if (!names) this.holders.set(address, (names = new Set()));
      names.add(name);
    }
    this.held.set(key, { name, addresses });
  }

  /** The service at an address; one shared by two services is the first's in name order. */
  serviceAt(address: string | undefined): string | undefined {
    const names = address ? this.holders.get(address) : undefined;
    if (!names) return undefined;
    let first: string | undefined;
    for (const name of names) if (first === undefined || name.localeCompare(first) < 0) first = name;
    return first;
  }

  get size(): number {
    return this.holders.size;
  }
}
