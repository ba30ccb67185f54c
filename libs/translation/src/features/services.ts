/**
 * Services and their EndpointSlices: for each TCP Service port an EDS cluster with its endpoints
 * (for Envoy and proxyless gRPC), and for each Service with a virtual IP one L4 service (for the
 * datapath). Headless Services get clusters but no L4 entry; ExternalName Services get nothing.
 */
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  type EndpointHealth,
  type EndpointIR,
  type L4BackendIR,
  type L4FrontendIR,
  type L4ServiceIR,
  type LbPolicy,
  type UpstreamProtocol,
} from '@tendril/model';
import { ANNOTATIONS, APP_PROTOCOLS, DEFAULT_AFFINITY_TIMEOUT_SECONDS, L4_ALGORITHM_VALUES, LB_POLICY_VALUES, PROTOCOL_VALUES } from '../annotations.js';
import type { Feature, TranslationContext } from '../context.js';
import { serviceView, type ServicePortView, type ServiceView } from '../kube/service.js';
import { FieldReader } from '../kube/fields.js';
import { readEndpointSlice, sliceServiceName, type SliceView } from '../kube/endpoint-slice.js';
import { serviceClusterName } from '../names.js';
import type { IndexedObject, ObjectQuery } from '../objects.js';
import { Problems, compare } from '../problems.js';

/**
 * The EndpointSlices naming a Service (label kubernetes.io/service-name), by
 * `<cluster>|<namespace>/<service>`: this cluster's, and other clusters' (for global Services).
 */
export const SLICES_OF_SERVICE: ObjectQuery = {
  name: 'slices-of-service',
  kinds: ['endpointslice'],
  paramsOf: (entry) => {
    const service = sliceServiceName(entry.object);
    return service === undefined || entry.ref.namespace === undefined ? [] : [`${entry.ref.cluster}|${entry.ref.namespace}/${service}`];
  },
};

/** The Services of every cluster by `namespace/name`: a global Service's namesakes in other clusters. */
export const SERVICES_BY_NAME: ObjectQuery = {
  name: 'services-by-name',
  kinds: ['service'],
  paramsOf: (entry) => [`${entry.ref.namespace ?? ''}/${entry.ref.name}`],
};

export const servicesFeature = {
  name: 'services',
  rerunnable: true,
  queries: [SLICES_OF_SERVICE, SERVICES_BY_NAME],
  build(context: TranslationContext): void {
    // Each slice's own problems, in a unit of its own: rebuilt only when the slice changes.
    context.eachObject('endpointslice', 'endpointslice', (unit, namespace, name) => {
      const slice = unit.object('endpointslice', namespace, name);
      if (slice) readSlice(unit, slice, unit.problems);
    });
    // One unit per Service: rebuilt only when the Service, one of its slices, or a namesake in another cluster changed.
    context.eachObject('service', 'service', buildServiceUnit);
  },
} satisfies Feature;

export interface ReadSlice {
  key: string;
  object: object;
  view: SliceView;
}

/**
 * A Service's clusters, endpoints and L4 entry from its slices, and, when it is global, those of the
 * other clusters where it is global and shared too.
 */
function buildServiceUnit(unit: TranslationContext, namespace: string | undefined, name: string): void {
  const entry = unit.object('service', namespace, name);
  if (!entry) return;
  const service = serviceView(unit, entry, unit.problems);
  if (service.type === 'ExternalName') return;
  const id = `${service.namespace}/${service.name}`;
  const quiet = new Problems(); // each slice's problems are its own unit's, another cluster's Service's that cluster's
  const own = unit.query(SLICES_OF_SERVICE, `${unit.index.cluster}|${id}`).map((slice) => readSlice(unit, slice, quiet));
  const clusters = isGlobal(service) ? globalClusters(unit, id, quiet) : [];
  const remote = clusters.flatMap((cluster) => unit.query(SLICES_OF_SERVICE, `${cluster}|${id}`));
  const others = [...remote].sort((a, b) => compare(a.key, b.key)).map((slice) => readSlice(unit, slice, quiet));
  checkSlicePorts(service, own.map((slice) => slice.view), unit.problems);
  const affinity = isGlobal(service) ? globalAffinity(unit, service) : 'none';
  buildService(unit, service, { own: own.map((slice) => slice.view), remote: others.map((slice) => slice.view), affinity });
}

/** An EndpointSlice's view, read once per object while it is unchanged; its problems go to `problems`. */
export function readSlice(context: TranslationContext, entry: IndexedObject, problems: Problems): ReadSlice {
  return { key: entry.key, object: entry.object, view: context.view(entry.object, 'endpointslice', problems, (sink) => readEndpointSlice(entry.object, entry.source, sink)) };
}

/** Where a global Service's endpoints are preferred: Cilium's service.cilium.io/affinity (default none). */
type GlobalAffinity = 'local' | 'remote' | 'none';

function globalAffinity(context: TranslationContext, service: ServiceView): GlobalAffinity {
  const raw = service.annotations[ANNOTATIONS.globalAffinity];
  if (raw === undefined) return 'none';
  const value = raw.trim().toLowerCase();
  if (value === 'local' || value === 'remote' || value === 'none') return value;
  context.problems.field(service.source, `metadata.annotations.${ANNOTATIONS.globalAffinity}`, `unknown value "${raw}" (expected local, remote or none)`);
  return 'none';
}

interface ServiceSlices {
  own: SliceView[];
  /** Other clusters' slices of the same global Service (empty unless global). */
  remote: SliceView[];
  affinity: GlobalAffinity;
}

export function isGlobal(service: ServiceView): boolean {
  return service.annotations[ANNOTATIONS.globalService] === 'true' || service.annotations[ANNOTATIONS.globalServiceNew] === 'true';
}

/** The other clusters whose Service `id` is global and shared there. */
function globalClusters(unit: TranslationContext, id: string, quiet: Problems): string[] {
  return unit
    .query(SERVICES_BY_NAME, id)
    .filter((entry) => entry.ref.cluster !== unit.index.cluster)
    .filter((entry) => {
      const view = serviceView(unit, entry, quiet);
      // service.cilium.io/shared: false keeps a cluster's endpoints to itself.
      return isGlobal(view) && view.annotations[ANNOTATIONS.globalShared]?.trim().toLowerCase() !== 'false';
    })
    .map((entry) => entry.ref.cluster);
}

function checkSlicePorts(service: ServiceView, slices: SliceView[], problems: Problems): void {
  const names = new Set(service.ports.map((port) => port.name));
  for (const slice of slices) {
    for (const port of slice.ports) {
      if (!names.has(port.name)) {
        const shown = port.name ? `"${port.name}"` : 'without a name';
        problems.field(slice.source, `ports[${port.index}].name`, `Service ${service.namespace}/${service.name} has no port ${shown}`);
      }
    }
  }
}

export interface ResolvedEndpoint extends EndpointIR {
  protocol: ServicePortView['protocol'];
}

const HEALTH_RANK: Record<EndpointHealth, number> = { ready: 0, serving: 1, terminating: 2 };

/** Endpoints of one Service port from every slice, by port name; duplicates keep their healthiest copy. */
export function endpointsOf(port: ServicePortView, slices: SliceView[]): ResolvedEndpoint[] {
  const merged = new Map<string, ResolvedEndpoint>();
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    for (const slicePort of slice.ports) {
      if (slicePort.name !== port.name || slicePort.protocol !== port.protocol) continue;
      for (const endpoint of slice.endpoints) {
        const health = healthOf(endpoint);
        if (health === undefined) continue;
        for (const address of endpoint.addresses) {
          const id = `${address}|${slicePort.port}`;
          const previous = merged.get(id);
          if (previous && HEALTH_RANK[previous.health] <= HEALTH_RANK[health]) continue;
          const resolved: ResolvedEndpoint = { address, port: slicePort.port, health, weight: 1, protocol: port.protocol };
          if (endpoint.zone) resolved.zone = endpoint.zone;
          if (endpoint.nodeName) resolved.nodeName = endpoint.nodeName;
          merged.set(id, resolved);
        }
      }
    }
  }
  return [...merged.values()].sort((a, b) => compare(a.address, b.address) || a.port - b.port);
}

function healthOf(endpoint: SliceView['endpoints'][number]): EndpointHealth | undefined {
  if (endpoint.ready && !endpoint.terminating) return 'ready';
  if (endpoint.serving && endpoint.terminating) return 'terminating';
  if (endpoint.serving && !endpoint.terminating) return 'serving';
  return undefined;
}

/**
 * Endpoints of one port. With a global affinity, the preferred side (local or remote) is priority 0
 * and the other priority 1, so Envoy and gRPC fail over to it only when the preferred side has none.
 */
function endpointsFor(port: ServicePortView, slices: ServiceSlices): ResolvedEndpoint[] {
  if (slices.affinity === 'none') return endpointsOf(port, [...slices.own, ...slices.remote]);
  const [preferred, fallback] = slices.affinity === 'local' ? [slices.own, slices.remote] : [slices.remote, slices.own];
  const first = endpointsOf(port, preferred);
  if (first.length === 0) return endpointsOf(port, fallback); // priorities start at 0, without gaps
  const taken = new Set(first.map((endpoint) => `${endpoint.address}|${endpoint.port}`));
  const second = endpointsOf(port, fallback)
    .filter((endpoint) => !taken.has(`${endpoint.address}|${endpoint.port}`))
    .map((endpoint) => ({ ...endpoint, priority: 1 }));
  return [...first, ...second];
}

function buildService(context: TranslationContext, service: ServiceView, slices: ServiceSlices): void {
  const read = new FieldReader(context.problems, service.source);
  const lbPolicy = annotationValue(read, service, [ANNOTATIONS.lbMode, ANNOTATIONS.lbL7Algorithm], LB_POLICY_VALUES) ?? ('ROUND_ROBIN' satisfies LbPolicy);
  const serviceProtocol = annotationValue(read, service, [ANNOTATIONS.lbProtocol], PROTOCOL_VALUES);
  const algorithm = annotationValue(read, service, [ANNOTATIONS.lbAlgorithm], L4_ALGORITHM_VALUES) ?? 'random';

  const backends: L4BackendIR[] = [];
  for (const port of service.ports) {
    const endpoints = endpointsFor(port, slices);
    // The datapath has no priorities: it takes the preferred side while that has a ready endpoint.
    const preferredReady = endpoints.some((endpoint) => endpoint.priority === undefined && endpoint.health === 'ready');
    for (const endpoint of endpoints) {
      if (endpoint.health === 'serving') continue;
      if (preferredReady && endpoint.priority !== undefined) continue; // not ready: the datapath only takes ready or draining backends
      const backend: L4BackendIR = {
        address: endpoint.address,
        port: endpoint.port,
        protocol: port.protocol,
        portName: port.name,
        weight: endpoint.weight,
        state: endpoint.health === 'ready' ? 'active' : 'terminating',
      };
      if (endpoint.nodeName) backend.nodeName = endpoint.nodeName;
      if (endpoint.zone) backend.zone = endpoint.zone;
      backends.push(backend);
    }
    if (port.protocol !== 'TCP') continue; // Envoy clusters here carry HTTP/gRPC, which needs TCP
    const name = serviceClusterName(service.namespace, service.name, port.port);
    const protocol: UpstreamProtocol = serviceProtocol ?? (port.appProtocol ? lookup(APP_PROTOCOLS, port.appProtocol) : undefined) ?? 'HTTP1';
    context.ir.clusters.push({ name, discovery: 'EDS', connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS, lbPolicy, protocol, source: service.source });
    context.ir.endpoints.push({
      clusterName: name,
      endpoints: endpoints.map(({ protocol: _protocol, ...endpoint }) => endpoint),
      source: service.source,
    });
  }

  if (service.headless) return;
  const frontends: L4FrontendIR[] = [];
  const add = (address: string, port: number, servicePort: ServicePortView, scope: L4FrontendIR['scope']) =>
    frontends.push({ address, port, protocol: servicePort.protocol, portName: servicePort.name, scope });
  for (const port of service.ports) {
    for (const ip of service.clusterIPs) add(ip, port.port, port, 'ClusterIP');
    if (port.nodePort !== undefined && (service.type === 'NodePort' || service.type === 'LoadBalancer')) {
      for (const family of service.ipFamilies) add(family === 'IPv4' ? '0.0.0.0' : '::', port.nodePort, port, 'NodePort');
    }
    for (const ip of service.externalIPs) add(ip, port.port, port, 'ExternalIP');
    for (const ip of service.loadBalancerIPs) add(ip, port.port, port, 'LoadBalancer');
  }
  const l4: L4ServiceIR = {
    namespace: service.namespace,
    name: service.name,
    frontends: uniqueSorted(frontends, (f) => `${f.scope}|${f.address}|${String(f.port).padStart(5, '0')}|${f.protocol}`),
    backends: uniqueSorted(backends, (b) => `${b.portName}|${b.address}|${String(b.port).padStart(5, '0')}|${b.protocol}`),
    algorithm,
    affinity: service.sessionAffinity === 'ClientIP' ? { timeoutSeconds: service.affinityTimeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS } : null,
    l7Redirect: null,
    source: service.source,
  };
  const external = frontends.some((frontend) => frontend.scope !== 'ClusterIP');
  if (external && service.externalTrafficPolicy === 'Local') {
    l4.externalLocal = service.healthCheckNodePort !== undefined && service.type === 'LoadBalancer' ? { healthCheckNodePort: service.healthCheckNodePort } : {};
  }
  context.ir.l4Services.push(l4);
}

function annotationValue<T>(read: FieldReader, service: ServiceView, names: string[], values: Record<string, T>): T | undefined {
  for (const name of names) {
    const raw = service.annotations[name];
    if (raw === undefined) continue;
    const value = lookup(values, raw.trim().toLowerCase());
    if (value === undefined) read.report(`metadata.annotations.${name}`, `unknown value "${raw}" (expected one of ${Object.keys(values).join(', ')})`);
    else return value;
  }
  return undefined;
}

function uniqueSorted<T>(items: T[], keyOf: (item: T) => string): T[] {
  const unique = new Map(items.map((item) => [keyOf(item), item]));
  return [...unique.entries()].sort(([a], [b]) => compare(a, b)).map(([, item]) => item);
}

/** Own properties only: a value like "constructor" must not find Object.prototype's. */
function lookup<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
