/**
 * `tcpEcho` and `udpEcho` (TCPRoute, UDPRoute) resolved against `tendril-lb`, as the eBPF datapath
 * would serve them: the frontend (the Gateway's status address, the listener's port, TCP or UDP)
 * must be in exactly one LB entry, that entry must not redirect to the node proxy (these routes have
 * no Envoy on their path), and the backends that take new connections there (active ones, else
 * terminating ones, weight above 0, of the frontend's port name) must all be conformance pods of
 * the expected Deployment and namespace. The echo exchange itself needs a live datapath: the kernel
 * test of apps/datapath carries real TCP and UDP traffic through the same entries.
 */
import type { LbService } from '@tendril/contract';
import type { Check, Ref } from './corpus.js';
import type { Pod } from './manifests.js';

/** What of the traffic checks' context (traffic-checks.ts TrafficContext) an L4 echo reads. */
export interface L4Context {
  config: { lb: ReadonlyMap<string, LbService> };
  pods: ReadonlyMap<string, Pod>;
  defaultPort(gateway: Ref): number | undefined;
  gatewayAddress(gateway: Ref): string | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- corpus checks walked by field name
type Plain = Record<string, any>;

export function evaluateL4Echo(ctx: L4Context, check: Check, gateway: Ref): { failure?: string; resolved: string } {
  const protocol = check.check === 'udpEcho' ? 'UDP' : 'TCP';
  const request = (check['request'] ?? {}) as Plain;
  const expected = (check['expected'] ?? {}) as Plain;
  const port = Number(request['port'] ?? ctx.defaultPort(gateway));
  const address = ctx.gatewayAddress(gateway);
  if (!address) return { failure: `Gateway ${gateway.namespace}/${gateway.name} has no address in its status`, resolved: '' };
  if (request['tls']) return { failure: 'a TLS echo over a TCPRoute is not modelled', resolved: '' };
  const serving: { entry: LbService; portName: string }[] = [];
  for (const entry of ctx.config.lb.values()) {
    for (const frontend of entry.frontends) if (frontend.address === address && frontend.port === port && frontend.protocol === protocol) serving.push({ entry, portName: frontend.portName });
  }
  const target = `${address}:${port}/${protocol}`;
  if (serving.length === 0) return { failure: `no tendril-lb entry has frontend ${target}`, resolved: '' };
  if (serving.length > 1) return { failure: `frontend ${target} is in ${serving.length} entries (${serving.map((s) => s.entry.name).join(', ')})`, resolved: '' };
  const { entry, portName } = serving[0]!;
  const resolved = `${target} -> tendril-lb ${entry.namespace}/${entry.name}`;
  if (entry.l7Proxy) return { failure: `${resolved} redirects to the node proxy (port ${entry.l7Proxy.port})`, resolved };
  const candidates = entry.backends.filter((backend) => backend.portName === portName && backend.protocol === protocol && backend.weight > 0);
  const active = candidates.filter((backend) => backend.state === 'active');
  const backends = active.length ? active : candidates;
  if (backends.length === 0) return { failure: `${resolved}: no backend (the connection is refused)`, resolved };
  const shown = `${resolved} -> ${backends.map((backend) => `${backend.address}:${backend.port}`).join(', ')}`;
  for (const backend of backends) {
    const pod = ctx.pods.get(backend.address);
    if (!pod) return { failure: `backend ${backend.address}:${backend.port} is no conformance pod`, resolved: shown };
    if (expected['backend'] != null && !pod.name.startsWith(`${expected['backend']}-`)) return { failure: `expected backend ${expected['backend']}, got ${pod.name}`, resolved: shown };
    if (expected['namespace'] != null && pod.namespace !== expected['namespace']) return { failure: `expected namespace ${expected['namespace']}, got ${pod.namespace}`, resolved: shown };
  }
  return { resolved: shown };
}
