/**
 * TCPRoute and UDPRoute on Gateway listeners of protocol TCP and UDP, load-balanced by the eBPF
 * datapath as Cilium does without Envoy on the path: each such listener becomes a frontend (the
 * Gateway's address, the listener's port and protocol) of the Gateway's LB entry
 * `cilium-gateway-<name>-l4`, whose backends are the endpoints of the routes' backendRefs. Decisions:
 * - weights: a backendRef's weight is shared evenly by its Service's endpoints, so the datapath's
 *   weighted choice gives each backendRef its share whatever its number of endpoints; weight 0 or an
 *   invalid backendRef gets no share (its connections go to the others, not refused);
 * - several routes on one listener: their backendRefs share the listener's traffic by weight;
 * - a Gateway with HTTP/HTTPS/TLS listeners too keeps them on its node-proxy entry
 *   `cilium-gateway-<name>` (same address, other ports): one Gateway may mix both;
 * - a listener without a route (or without endpoints) keeps its frontend with no backend, so a
 *   connection is refused rather than sent elsewhere.
 * Each backendRef is checked as the spec asks (ResolvedRefs reasons): a Service (InvalidKind), in
 * another namespace only with a ReferenceGrant (RefNotPermitted), existing with that port
 * (BackendNotFound), of the route's protocol (UnsupportedProtocol).
 */
import type { L4BackendIR, L4FrontendIR, L4Protocol, L4ServiceIR } from '@tendril/model';
import type { TranslationContext } from '../../context.js';
import { GATEWAY_GROUP } from '../../kube/gateway-api.js';
import type { RouteView } from '../../kube/routes.js';
import { serviceView, type ServiceView } from '../../kube/service.js';
import { gatewayL4LoadBalancerName } from '../../names.js';
import { Problems, compare } from '../../problems.js';
import { endpointsOf, readSlice, SLICES_OF_SERVICE } from '../services.js';
import type { BackendResolver } from './backends.js';
import type { AttachedRoute } from './build.js';
import type { NamedLookup } from './collections.js';
import type { GatewayState, ListenerState } from './gateways.js';
import type { L4BackendRef, ResolvedRoute, RouteProblem } from './rules.js';

/** The protocol of a TCP or UDP listener (undefined for the node proxies' listeners). */
export function l4Protocol(listener: ListenerState): L4Protocol | undefined {
  return listener.family === 'tcp' ? 'TCP' : listener.family === 'udp' ? 'UDP' : undefined;
}

/** The valid TCP and UDP listeners of a Gateway, by port then protocol. */
export function l4Listeners(gateway: GatewayState): ListenerState[] {
  return gateway.listeners
    .filter((listener) => l4Protocol(listener) !== undefined && !listener.notAccepted && !listener.conflicted)
    .sort((a, b) => a.view.port - b.view.port || compare(a.family!, b.family!));
}

/** A TCPRoute's or UDPRoute's backendRefs, checked; the valid ones with a weight above 0 in `l4`. */
export function resolveL4Route(route: RouteView, resolver: BackendResolver, services: NamedLookup<ServiceView>): ResolvedRoute {
  const protocol: L4Protocol = route.kind === 'UDPRoute' ? 'UDP' : 'TCP';
  const problems: RouteProblem[] = [];
  const l4: L4BackendRef[] = [];
  for (const rule of route.rules) {
    for (const backend of rule.backendRefs) {
      const namespace = backend.namespace ?? route.namespace;
      const id = `${namespace}/${backend.name}`;
      if (!((backend.group === '' || backend.group === 'core') && backend.kind === 'Service')) {
        problems.push({ reason: 'InvalidKind', message: `${backend.at}: ${backend.group || 'core'}/${backend.kind} is not a supported backend kind (only Service)` });
        continue;
      }
      if (!resolver.permitted({ group: GATEWAY_GROUP, kind: route.kind, namespace: route.namespace }, { group: '', kind: 'Service', namespace, name: backend.name })) {
        problems.push({ reason: 'RefNotPermitted', message: `${backend.at}: Service ${id} is in another namespace and no ReferenceGrant there allows it` });
        continue;
      }
      const service = services.get(id);
      if (!service) {
        problems.push({ reason: 'BackendNotFound', message: `${backend.at}: Service ${id} not found` });
        continue;
      }
      if (service.type === 'ExternalName') {
        problems.push({ reason: 'BackendNotFound', message: `${backend.at}: Service ${id} is of type ExternalName, which has no endpoints to balance` });
        continue;
      }
      if (backend.port === undefined) {
        problems.push({ reason: 'BackendNotFound', message: `${backend.at}.port: required for a Service backend` });
        continue;
      }
      const ports = service.ports.filter((candidate) => candidate.port === backend.port);
      if (ports.length === 0) {
        problems.push({ reason: 'BackendNotFound', message: `${backend.at}.port: Service ${id} has no port ${backend.port}` });
        continue;
      }
      if (!ports.some((candidate) => candidate.protocol === protocol)) {
        problems.push({ reason: 'UnsupportedProtocol', message: `${backend.at}.port: port ${backend.port} of Service ${id} is ${ports[0]!.protocol}, not ${protocol} as a ${route.kind} needs` });
        continue;
      }
      if (backend.weight > 0) l4.push({ namespace, name: backend.name, port: backend.port, weight: backend.weight });
    }
  }
  return { rules: [], problems, tcpBackends: [], l4 };
}

/** Largest weight a backend may carry in `tendril-lb`. */
const MAX_WEIGHT = 65535;
/** Bound of the common multiple the per-endpoint shares are scaled by (beyond it they are rounded). */
const MAX_SCALE = 5040;

/**
 * The Gateway's TCP/UDP LB entry, and the listeners it programs. Reads each backend Service and its
 * EndpointSlices through `context` (recorded: an endpoint change rebuilds the Gateway's unit).
 */
export function buildL4Entry(context: TranslationContext, gateway: GatewayState, attached: Map<ListenerState, AttachedRoute[]>): { entry?: L4ServiceIR; programmed: ListenerState[] } {
  const listeners = l4Listeners(gateway);
  if (gateway.notAccepted || gateway.address === undefined || listeners.length === 0) return { programmed: [] };
  const frontends: L4FrontendIR[] = [];
  const backends = new Map<string, L4BackendIR>();
  const quiet = new Problems(); // a Service's and a slice's own problems are reported by the services feature
  for (const listener of listeners) {
    const protocol = l4Protocol(listener)!;
    const portName = `${listener.family}-${listener.view.port}`;
    frontends.push({ address: gateway.address, port: listener.view.port, protocol, portName, scope: 'LoadBalancer' });
    const refs = [...(attached.get(listener) ?? [])].sort((a, b) => compare(a.view.key, b.view.key)).flatMap((route) => route.resolved.l4 ?? []);
    const shares = refs.map((ref) => ({ ref, endpoints: serviceEndpoints(context, ref, protocol, quiet) })).filter((share) => share.endpoints.length > 0);
    if (shares.length === 0) continue;
    const scale = commonMultiple(shares.map((share) => share.endpoints.length));
    const weights = shares.map((share) => share.ref.weight * (scale / share.endpoints.length));
    const divisor = Math.max(1, Math.max(...weights) / MAX_WEIGHT);
    shares.forEach((share, i) => {
      const weight = Math.max(1, Math.round(weights[i]! / divisor));
      for (const endpoint of share.endpoints) {
        const id = `${portName}|${endpoint.address}|${endpoint.port}`;
        const held = backends.get(id);
        if (held) {
          held.weight = Math.min(MAX_WEIGHT, held.weight + weight);
          if (endpoint.state === 'active') held.state = 'active';
        } else backends.set(id, { ...endpoint, protocol, portName, weight });
      }
    });
  }
  const { namespace, name, source } = gateway.view;
  const entry: L4ServiceIR = {
    namespace,
    name: gatewayL4LoadBalancerName(name),
    frontends: frontends.sort((a, b) => a.port - b.port || compare(a.protocol, b.protocol)),
    backends: [...backends].sort(([a], [b]) => compare(a, b)).map(([, backend]) => backend),
    algorithm: 'random',
    affinity: null,
    l7Redirect: null,
    source,
  };
  return { entry, programmed: listeners };
}

/** The endpoints of a Service port of `protocol` that take connections: ready ones, else terminating ones. */
function serviceEndpoints(context: TranslationContext, ref: L4BackendRef, protocol: L4Protocol, quiet: Problems): Pick<L4BackendIR, 'address' | 'port' | 'state' | 'nodeName' | 'zone'>[] {
  const entry = context.object('service', ref.namespace, ref.name);
  if (!entry) return [];
  const service = serviceView(context, entry, quiet);
  const port = service.ports.find((candidate) => candidate.port === ref.port && candidate.protocol === protocol);
  if (!port) return [];
  const slices = context.query(SLICES_OF_SERVICE, `${context.index.cluster}|${ref.namespace}/${ref.name}`).map((slice) => readSlice(context, slice, quiet).view);
  const endpoints = endpointsOf(port, slices).filter((endpoint) => endpoint.health !== 'serving');
  const ready = endpoints.filter((endpoint) => endpoint.health === 'ready');
  return (ready.length ? ready : endpoints).map((endpoint) => ({
    address: endpoint.address,
    port: endpoint.port,
    state: endpoint.health === 'ready' ? 'active' : 'terminating',
    ...(endpoint.nodeName ? { nodeName: endpoint.nodeName } : {}),
    ...(endpoint.zone ? { zone: endpoint.zone } : {}),
  }));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The least common multiple of `counts`, or MAX_SCALE when it would pass it (shares are rounded then). */
function commonMultiple(counts: number[]): number {
  let out = 1;
  for (const count of counts) {
    out = (out * count) / gcd(out, count);
    if (out > MAX_SCALE) return MAX_SCALE;
  }
  return out;
}
