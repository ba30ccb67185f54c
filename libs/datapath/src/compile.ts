/**
 * What one LbService becomes in the kernel: per IPv4 frontend, a service entry and its backend
 * slots. Weighted random choice is done by repetition: a backend fills as many slots as its weight
 * (reduced by the common divisor, scaled down to at most MAX_SLOTS_PER_SERVICE).
 *
 * Like Cilium: terminating backends are used only when no active one is left; a service with no
 * backend keeps its entry with count 0, so connect() to the VIP fails with EHOSTUNREACH instead of
 * going out to an address nobody answers; with l7Proxy the frontend leads to 127.0.0.1:<port>.
 */
import type { LbBackend, LbService } from '@tendril/contract';
import { SERVICE_FLAG_L7_REDIRECT, isIpv4, type Lb4Backend, type Lb4Service, type Lb4ServiceKey } from './maps.js';

export const MAX_SLOTS_PER_SERVICE = 256;
/** The node's Envoy, where l7Proxy frontends lead. */
export const L7_PROXY_ADDRESS = '127.0.0.1';

export interface CompiledFrontend {
  key: Lb4ServiceKey;
  /** Everything but the service id, which the table allocates. */
  count: number;
  flags: number;
  proxyPort: number;
  slots: Lb4Backend[];
}

export function compileService(service: LbService): CompiledFrontend[] {
  const out: CompiledFrontend[] = [];
  const seen = new Set<string>();
  for (const frontend of service.frontends) {
    if (!isIpv4(frontend.address)) continue;
    const key: Lb4ServiceKey = { address: frontend.address, port: frontend.port, protocol: frontend.protocol };
    const id = `${key.address}:${key.port}/${key.protocol}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (service.l7Proxy) {
      out.push({ key, count: 0, flags: SERVICE_FLAG_L7_REDIRECT, proxyPort: service.l7Proxy.port, slots: [] });
      continue;
    }
    const serving = service.backends.filter(
      (backend) => backend.protocol === frontend.protocol && backend.portName === frontend.portName && isIpv4(backend.address) && backend.weight > 0,
    );
    const slots = weightedSlots(pickUsable(serving));
    out.push({ key, count: slots.length, flags: 0, proxyPort: 0, slots });
  }
  return out;
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
  return sorted.flatMap((held, index) => Array.from({ length: repeats[index]! }, () => held.backend));
}

export function serviceValue(frontend: CompiledFrontend, serviceId: number): Lb4Service {
  return { serviceId, count: frontend.count, flags: frontend.flags, proxyPort: frontend.proxyPort };
}
