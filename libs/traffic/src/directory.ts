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
  private byAddress = new Map<string, string>();

  /** Replaces the whole view. A backend IP shared by two services keeps the first in name order. */
  update(services: Iterable<LbService>): void {
    const next = new Map<string, string>();
    const sorted = [...services].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    for (const service of sorted) {
      const name = `${service.namespace}/${service.name}`;
      for (const frontend of service.frontends) if (!next.has(frontend.address)) next.set(frontend.address, name);
      for (const backend of service.backends) if (!next.has(backend.address)) next.set(backend.address, name);
    }
    this.byAddress = next;
  }

  serviceAt(address: string | undefined): string | undefined {
    return address ? this.byAddress.get(address) : undefined;
  }

  get size(): number {
    return this.byAddress.size;
  }
}
