/**
 * What one LbService becomes in the kernel: per frontend (IPv4 or IPv6), a service entry and its
 * backend slots, plus a Maglev table when the service asks for Maglev. Weighted random choice is
 * done by repetition: a backend fills as many slots as its weight (reduced by the common divisor,
 * scaled down to at most MAX_SLOTS_PER_SERVICE). With Maglev each backend has one slot and the
 * weights shape the table instead. Algorithms the kernel does not implement (round-robin,
 * least-request) fall back to weighted random.
 *
 * Like Cilium: terminating backends are used only when no active one is left; a service with no
 * backend keeps its entry with count 0, so connect() to the VIP fails with ECONNREFUSED instead of
 * going out to an address nobody answers; with l7Proxy the frontend leads to 127.0.0.1:<port>.
 */
import type { LbBackend, LbService } from '@tendril/contract';
import { DEFAULT_MAGLEV_TABLE_SIZE } from './maglev.js';
import { EXT_MAGLEV_SIZE, SERVICE_FLAG_L7_REDIRECT, SERVICE_FLAG_LOCAL, canonicalAddress, isIpv4, isIpv6, type Algorithm, type Lb4Backend, type Lb4ServiceKey, type LbServiceValue } from './maps.js';

export const MAX_SLOTS_PER_SERVICE = 256;
/** The node's Envoy, where l7Proxy frontends lead. */
export const L7_PROXY_ADDRESS = '127.0.0.1';

export type Family = 4 | 6;

export interface CompiledFrontend {
  key: Lb4ServiceKey;
  family: Family;
  /** Everything but the service id, which the table allocates. */
  count: number;
  flags: number;
  proxyPort: number;
  algorithm: Algorithm;
  affinityTimeout: number;
  maglevSize: number;
  slots: Lb4Backend[];
  /** Maglev only: each backend's weight, by backendName(). */
  maglevWeights?: Map<string, number>;
  /**
   * A frontend reached from outside the node (NodePort, LoadBalancer, ExternalIP) as the tc programs
   * see it (tendril_lb4_external_v1): its own service id, slots and Maglev table.
   */
  external?: boolean;
}

export interface CompileOptions {
  /** Entries of each Maglev table (a prime). */
  maglevTableSize?: number;
  /** North-south on: external frontends are compiled for the tc programs as well. */
  northSouth?: boolean;
  /** This node: externalTrafficPolicy Local keeps the backends whose nodeName is this. */
  nodeName?: string;
}

/** The id of a compiled frontend in the table (service ids, owners): external ones apart. */
export function compiledId(frontend: Pick<CompiledFrontend, 'key' | 'external'>): string {
  const id = `${frontend.key.address}:${frontend.key.port}/${frontend.key.protocol}`;
  return frontend.external ? `external ${id}` : id;
}

export const backendName = (backend: Lb4Backend) => `${backend.address}:${backend.port}/${backend.protocol}`;

export function familyOf(address: string): Family | undefined {
  return isIpv4(address) ? 4 : isIpv6(address) ? 6 : undefined;
}

export function compileService(service: LbService, options: CompileOptions = {}): CompiledFrontend[] {
  const out: CompiledFrontend[] = [];
  const seen = new Set<string>();
  for (const frontend of service.frontends) {
    const family = familyOf(frontend.address);
    if (!family) continue;
    const key: Lb4ServiceKey = { address: canonicalAddress(frontend.address), port: frontend.port, protocol: frontend.protocol };
    const id = `${key.address}:${key.port}/${key.protocol}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const common = { key, family, affinityTimeout: service.affinity?.timeoutSeconds ?? 0 };
    if (options.northSouth && frontend.scope !== 'ClusterIP' && family === 4 && frontend.protocol !== 'SCTP' && !seen.has(`external ${id}`)) {
      seen.add(`external ${id}`);
      out.push(compileExternal(service, frontend, key, options));
    }
    if (service.l7Proxy) {
      out.push({ ...common, count: 0, flags: SERVICE_FLAG_L7_REDIRECT, proxyPort: service.l7Proxy.frontendPorts?.[String(frontend.port)] ?? service.l7Proxy.port, algorithm: 'random', maglevSize: 0, affinityTimeout: 0, slots: [] });
      continue;
    }
    const serving = pickUsable(
      service.backends.filter(
        (backend) => backend.protocol === frontend.protocol && backend.portName === frontend.portName && familyOf(backend.address) === family && backend.weight > 0,
      ),
    ).map((backend) => ({ ...backend, address: canonicalAddress(backend.address) }));
    if (service.algorithm === 'maglev' && serving.length > 0) {
      const weights = new Map<string, number>();
      for (const backend of serving) {
        const name = backendName(backend);
        weights.set(name, (weights.get(name) ?? 0) + backend.weight);
      }
      const distinct = new Map(serving.map((backend) => [backendName(backend), { ...backend, weight: 1 }]));
      const slots = weightedSlots([...distinct.values()]);
      const maglevSize = options.maglevTableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
      out.push({ ...common, count: slots.length, flags: 0, proxyPort: 0, algorithm: 'maglev', maglevSize, slots, maglevWeights: weights });
      continue;
    }
    const slots = weightedSlots(serving);
    out.push({ ...common, count: slots.length, flags: 0, proxyPort: 0, algorithm: 'random', maglevSize: 0, slots });
  }
  return out;
}

/**
 * An external frontend: always Maglev (a table of EXT_MAGLEV_SIZE entries), so every node with the
 * same backends sends a flow to the same one; with externalTrafficPolicy Local only this node's
 * backends, and the flag that keeps the client's address.
 */
function compileExternal(service: LbService, frontend: LbService['frontends'][number], key: Lb4ServiceKey, options: CompileOptions): CompiledFrontend {
  const local = service.externalTrafficPolicy === 'Local';
  const common = { key, family: 4 as const, external: true, affinityTimeout: 0, algorithm: 'maglev' as const };
  if (service.l7Proxy) {
    const proxyPort = service.l7Proxy.frontendPorts?.[String(frontend.port)] ?? service.l7Proxy.port;
    return { ...common, count: 0, flags: SERVICE_FLAG_L7_REDIRECT, proxyPort, algorithm: 'random', maglevSize: 0, slots: [] };
  }
  const serving = pickUsable(
    service.backends.filter(
      (backend) =>
        backend.protocol === frontend.protocol &&
        backend.portName === frontend.portName &&
        familyOf(backend.address) === 4 &&
        backend.weight > 0 &&
        (!local || (options.nodeName !== undefined && backend.nodeName === options.nodeName)),
    ),
  ).map((backend) => ({ ...backend, address: canonicalAddress(backend.address) }));
  const weights = new Map<string, number>();
  for (const backend of serving) weights.set(backendName(backend), (weights.get(backendName(backend)) ?? 0) + backend.weight);
  const slots = weightedSlots([...new Map(serving.map((backend) => [backendName(backend), { ...backend, weight: 1 }])).values()]);
  const flags = local ? SERVICE_FLAG_LOCAL : 0;
  if (slots.length === 0) return { ...common, count: 0, flags, proxyPort: 0, maglevSize: 0, slots };
  return { ...common, count: slots.length, flags, proxyPort: 0, maglevSize: EXT_MAGLEV_SIZE, slots, maglevWeights: weights };
}

/** Local endpoints of a Service with externalTrafficPolicy Local: what its health check node port reports. */
export function localEndpointCount(service: LbService, nodeName: string): number {
  const local = new Set(service.backends.filter((backend) => backend.state === 'active' && backend.nodeName === nodeName).map((backend) => backend.address));
  return local.size;
}

function pickUsable(backends: LbBackend[]): LbBackend[] {
  const active = backends.filter((backend) => backend.state === 'active');
  return active.length > 0 ? active : backends.filter((backend) => backend.state === 'terminating');
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Deterministic: sorted, duplicates merged, so the same input always gives the same slots. */
export function weightedSlots(backends: LbBackend[]): Lb4Backend[] {
  const merged = new Map<string, { backend: Lb4Backend; weight: number }>();
  for (const backend of backends) {
    const id = `${backend.address}:${backend.port}/${backend.protocol}`;
    const held = merged.get(id);
    if (held) held.weight += backend.weight;
    else merged.set(id, { backend: { address: backend.address, port: backend.port, protocol: backend.protocol }, weight: backend.weight });
  }
  const sorted = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, held]) => held);
  if (sorted.length === 0) return [];
  const divisor = sorted.reduce((acc, held) => gcd(acc, held.weight), 0);
  let repeats = sorted.map((held) => held.weight / divisor);
  const total = repeats.reduce((a, b) => a + b, 0);
  if (total > MAX_SLOTS_PER_SERVICE) {
    const budget = Math.max(MAX_SLOTS_PER_SERVICE, sorted.length);
    repeats = repeats.map((repeat) => Math.max(1, Math.floor((repeat * budget) / total)));
  }
  const out: Lb4Backend[] = [];
  sorted.forEach((held, index) => {
    for (let repeat = 0; repeat < repeats[index]!; repeat++) out.push(held.backend);
  });
  return out;
}

export function serviceValue(frontend: Omit<CompiledFrontend, 'key' | 'family' | 'slots'>, serviceId: number): LbServiceValue {
  return {
    serviceId,
    count: frontend.count,
    flags: frontend.flags,
    algorithm: frontend.algorithm,
    proxyPort: frontend.proxyPort,
    affinityTimeout: frontend.affinityTimeout,
    maglevSize: frontend.maglevSize,
  };
}
