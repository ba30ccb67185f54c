/**
 * CiliumEnvoyConfig (namespaced) and CiliumClusterwideEnvoyConfig (cluster-wide; the seed's spelling
 * CiliumClusterEnvoyConfig is the same thing): hand-written Envoy resources served as given, names
 * qualified per config (../envoy-config/names.ts), `spec.services` redirected to a listener of the
 * config, `spec.backendServices` published as EDS, `spec.nodeSelector` mapped to the proxies that get
 * the resources. A refused resource costs only itself; every refusal lands in the object's status.
 * Runs after the features that generate resources, so a hand-written name never takes a generated one.
 */
import { redirectToProxy } from '../lb/redirect.js';
import { describeSource as describe, type EndpointIR, type EnvoyConfigResourceIR, type EnvoyConfigResourceType, type ProxySelectorIR, type SourceObject } from '@tendril/model';
import type { Feature, IrList, TranslationContext } from '../context.js';
import { serviceView } from '../kube/service.js';
import { FieldReader, type Json } from '../kube/fields.js';
import { serviceClusterName } from '../names.js';
import type { IndexedObject } from '../objects.js';
import { Problems, compare } from '../problems.js';
import { getField, listenerPort, qualifiedName, qualifyResource, resourceName, setListenerAddress, type ConfigScope } from '../envoy-config/names.js';
import { envoyConfigStatus } from '../envoy-config/status.js';
import { desiredClusterLoadAssignment } from '../xds/endpoint.js';

/** The "@type" of each resource type a config may hold. */
export const ENVOY_CONFIG_TYPE_URLS: Record<string, EnvoyConfigResourceType> = {
  'type.googleapis.com/envoy.config.listener.v3.Listener': 'listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': 'route',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': 'cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': 'endpoint',
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret': 'secret',
};

/** The one node label that maps to an Envoy node id: Tendril's per-node proxies use the node name as id. */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
/** Where the socket load balancer sends redirected connections. */
export const PROXY_LISTEN_ADDRESS = '127.0.0.1';

interface ConfigState {
  entry: IndexedObject;
  scope: ConfigScope;
  reader: FieldReader;
  local: Problems;
  spec: Json;
  /** undefined: every proxy; null: the selector cannot be served, so nothing of this config is. */
  proxies: ProxySelectorIR | undefined | null;
  resources: EnvoyConfigResourceIR[];
  /** Qualified names of this config's listeners, in spec order. */
  listeners: string[];
}

export const envoyConfigFeature = {
  name: 'envoy-config',
  /** Node proxy ports that hand-written listeners bind are kept from every generated listener. */
  reserve(context: TranslationContext): void {
    for (const entry of configEntries(context)) {
      const spec = entry.object['spec'];
      const resources = typeof spec === 'object' && spec !== null ? (spec as Json)['resources'] : undefined;
      if (!Array.isArray(resources)) continue;
      for (const resource of resources) {
        if (typeof resource !== 'object' || resource === null || ENVOY_CONFIG_TYPE_URLS[String((resource as Json)['@type'])] !== 'listener') continue;
        const port = listenerPort(resource as Json);
        if (port !== undefined) context.proxyPorts.reserve(port);
      }
    }
  },
  build(context: TranslationContext): void {
    const entries = configEntries(context);
    if (entries.length === 0) return; // nothing hand-written: no need to collect every generated name
    const taken = takenNames(context);
    const configs = entries.map((entry) => readConfig(entry, taken));
    placeListeners(context, configs);
    refuseTakenPorts(context, configs);
    for (const config of configs) {
      redirectServices(context, config);
      publishBackendServices(context, config, taken);
      context.ir.envoyConfigs.push(...config.resources);
      for (const error of config.local.sorted()) context.problems.raw(error.object, error.message);
      context.setStatus(
        config.entry.key,
        envoyConfigStatus(
          identity(config.entry),
          config.resources.map((resource) => `${resource.type} ${resource.name}`),
          config.local.sorted().map((error) => error.message),
        ),
      );
    }
  },
} satisfies Feature;

function configEntries(context: TranslationContext): IndexedObject[] {
  return [...context.index.local('ciliumenvoyconfig'), ...context.index.local('ciliumclusterwideenvoyconfig')].sort((a, b) => compare(a.key, b.key));
}

function identity(entry: IndexedObject): Parameters<typeof envoyConfigStatus>[0] {
  const metadata = (entry.object['metadata'] ?? {}) as { generation?: unknown };
  const out: Parameters<typeof envoyConfigStatus>[0] = {
    apiVersion: String(entry.object['apiVersion'] ?? 'cilium.io/v2'),
    kind: String(entry.object['kind']),
    name: entry.ref.name,
  };
  if (entry.ref.namespace !== undefined) out.namespace = entry.ref.namespace;
  if (typeof metadata.generation === 'number') out.generation = metadata.generation;
  return out;
}

const IR_LIST_OF: Record<string, IrList> = { cluster: 'clusters', endpoint: 'endpoints', listener: 'listeners', route: 'routes', secret: 'secrets' };

/** Names taken, by `<type>|<name>`, with who holds them: generated by earlier features (each look-up a read), or set here. */
interface TakenNames {
  get(key: string): string | undefined;
  set(key: string, holder: string): void;
}

function takenNames(context: TranslationContext): TakenNames {
  const { ir } = context;
  const generated = new Map<string, string>();
  const hold = (type: string, name: string, source: SourceObject) => generated.set(`${type}|${name}`, describe(source));
  for (const cluster of ir.clusters) hold('cluster', cluster.name, cluster.source);
  for (const group of ir.endpoints) hold('endpoint', group.clusterName, group.source);
  for (const listener of ir.listeners) hold('listener', listener.name, listener.source);
  for (const route of ir.routes) hold('route', route.name, route.source);
  for (const secret of ir.secrets) hold('secret', secret.name, secret.source);
  const here = new Map<string, string>();
  return {
    get: (key) => {
      if (here.has(key)) return here.get(key);
      const split = key.indexOf('|');
      context.made(IR_LIST_OF[key.slice(0, split)]!, key.slice(split + 1));
      return generated.get(key);
    },
    set: (key, holder) => void here.set(key, holder),
  };
}

function readConfig(entry: IndexedObject, taken: TakenNames): ConfigState {
  const local = new Problems();
  const reader = new FieldReader(local, entry.source);
  const scope: ConfigScope = { namespace: entry.ref.namespace ?? '', config: entry.ref.name };
  const spec = reader.object(entry.object['spec'], 'spec') ?? {};
  const config: ConfigState = { entry, scope, reader, local, spec, proxies: readNodeSelector(reader, spec['nodeSelector']), resources: [], listeners: [] };
  reader.array(spec['resources'], 'spec.resources').forEach((item, i) => {
    const at = `spec.resources[${i}]`;
    const resource = reader.object(item, at);
    if (!resource) return;
    const typeUrl = resource['@type'];
    if (typeof typeUrl !== 'string') return reader.report(`${at}["@type"]`, 'required: the type URL of the resource');
    const type = Object.hasOwn(ENVOY_CONFIG_TYPE_URLS, typeUrl) ? ENVOY_CONFIG_TYPE_URLS[typeUrl]! : undefined;
    if (!type) return reader.report(`${at}["@type"]`, `unsupported type ${typeUrl} (supported: the v3 Listener, RouteConfiguration, Cluster, ClusterLoadAssignment and Secret)`);
    const { '@type': _type, ...fields } = resource;
    const name = resourceName(type, fields);
    const nameField = type === 'endpoint' ? 'cluster_name' : 'name';
    if (typeof name !== 'string' || name === '') return reader.report(`${at}.${nameField}`, `required: a ${type} needs a name`);
    const qualified = qualifyResource(type, fields, scope);
    const finalName = resourceName(type, qualified) as string;
    const holder = taken.get(`${type}|${finalName}`);
    if (holder !== undefined) return reader.report(`${at}.${nameField}`, `${type} name "${finalName}" is already used by ${holder}`);
    if (config.proxies === null) return; // reported once, on spec.nodeSelector
    taken.set(`${type}|${finalName}`, describe(entry.source) + ` (${at})`);
    const ir: EnvoyConfigResourceIR = { type, name: finalName, resource: qualified, source: entry.source, objectKey: entry.key };
    if (config.proxies) ir.proxies = config.proxies;
    config.resources.push(ir);
    if (type === 'listener') config.listeners.push(finalName);
  });
  return config;
}

/**
 * Node labels are not something a proxy tells the xds-server; its node id and node.cluster are. So:
 * `{kubernetes.io/hostname: X}` alone selects the proxy whose node id is X; any other matchLabels
 * select proxies whose node.cluster is the labels written `k1=v1,k2=v2` (keys sorted); one `In`
 * expression on key k (and no matchLabels) selects node.cluster `k=v` for each value. Anything else
 * cannot be checked, so the config is not served at all rather than served everywhere.
 */
function readNodeSelector(reader: FieldReader, value: unknown): ProxySelectorIR | undefined | null {
  const selector = reader.object(value, 'spec.nodeSelector');
  if (!selector) return undefined;
  const labels = reader.object(selector['matchLabels'], 'spec.nodeSelector.matchLabels') ?? {};
  const expressions = reader.array(selector['matchExpressions'], 'spec.nodeSelector.matchExpressions');
  const pairs: [string, string][] = [];
  for (const [key, label] of Object.entries(labels)) {
    const text = reader.string(label, `spec.nodeSelector.matchLabels.${key}`);
    if (text === undefined) return null;
    pairs.push([key, text]);
  }
  pairs.sort(([a], [b]) => compare(a, b));
  if (expressions.length === 0) {
    if (pairs.length === 0) return undefined; // the empty selector selects every node
    if (pairs.length === 1 && pairs[0]![0] === HOSTNAME_LABEL) return { nodeIds: [pairs[0]![1]] };
    return { clusters: [pairs.map(([key, label]) => `${key}=${label}`).join(',')] };
  }
  const only = reader.object(expressions[0], 'spec.nodeSelector.matchExpressions[0]');
  const values = only ? reader.array(only['values'], 'spec.nodeSelector.matchExpressions[0].values').filter((item): item is string => typeof item === 'string') : [];
  if (pairs.length === 0 && expressions.length === 1 && only && only['operator'] === 'In' && typeof only['key'] === 'string' && values.length > 0) {
    return only['key'] === HOSTNAME_LABEL ? { nodeIds: [...new Set(values)].sort(compare) } : { clusters: [...new Set(values)].sort(compare).map((item) => `${only['key']}=${item}`) };
  }
  reader.report('spec.nodeSelector', 'only matchLabels, or a single In expression, can be matched against proxies (node id or node.cluster); nothing of this config is served');
  return null;
}

/**
 * Listeners without an address (Cilium lets its agent pick their port) get a node proxy port of their
 * own on 127.0.0.1, where the socket load balancer sends redirected connections: the same pick, by a
 * hash of the qualified name, as every other listener of the node proxy.
 */
function placeListeners(context: TranslationContext, configs: ConfigState[]): void {
  for (const config of configs) {
    for (const resource of config.resources) {
      if (resource.type !== 'listener') continue;
      if (getField(resource.resource, 'address') !== undefined || getField(resource.resource, 'apiListener') !== undefined) continue;
      const port = context.proxyPorts.portFor(resource.name);
      if (port === undefined) config.reader.report('spec.resources', `listener ${resource.name}: no node proxy port left`);
      else setListenerAddress(resource.resource, PROXY_LISTEN_ADDRESS, port);
    }
  }
}

/** The IP a listener binds ('' when it names none). */
function listenerAddress(listener: Json): string {
  const address = getField(listener, 'address');
  const socket = typeof address === 'object' && address !== null ? getField(address as Json, 'socketAddress') : undefined;
  const ip = typeof socket === 'object' && socket !== null ? getField(socket as Json, 'address') : undefined;
  return typeof ip === 'string' ? ip : '';
}

/**
 * Two listeners cannot bind one port (Envoy refuses the second, and a whole LDS update with it). The
 * generated listeners never pick a port a hand-written one binds (reserve), but one may still ask
 * for the shared Ingress port, or for a port another config binds: the later one (in key order) is
 * refused, naming who holds the port.
 */
function refuseTakenPorts(context: TranslationContext, configs: ConfigState[]): void {
  const holders = new Map<number, { address: string; holder: string }[]>();
  const hold = (port: number, address: string, holder: string) => holders.set(port, [...(holders.get(port) ?? []), { address, holder }]);
  const any = (address: string) => address === '' || address === '0.0.0.0' || address === '::';
  context.readsIr('sockets');
  for (const listener of context.ir.listeners) if (listener.kind === 'socket') hold(listener.port, listener.address, `${describe(listener.source)} (listener ${listener.name})`);
  for (const config of configs) {
    config.resources = config.resources.filter((resource) => {
      if (resource.type !== 'listener') return true;
      const port = listenerPort(resource.resource);
      if (port === undefined) return true;
      const address = listenerAddress(resource.resource);
      const clash = (holders.get(port) ?? []).find((other) => any(other.address) || any(address) || other.address === address);
      if (clash) {
        config.reader.report('spec.resources', `listener ${resource.name}: port ${port} is already bound by ${clash.holder}`);
        config.listeners = config.listeners.filter((name) => name !== resource.name);
        return false;
      }
      hold(port, address, `${describe(config.entry.source)} (listener ${resource.name})`);
      return true;
    });
  }
}

/** One `{name, namespace}` item of `spec.services` or `spec.backendServices`; the namespace defaults to the config's. */
function readServiceRef(config: ConfigState, item: unknown, at: string): { entry: Json; name: string; namespace: string } | undefined {
  const { reader } = config;
  const entry = reader.object(item, at);
  if (!entry) return undefined;
  const name = reader.string(entry['name'], `${at}.name`);
  const namespace = reader.string(entry['namespace'], `${at}.namespace`) ?? config.entry.ref.namespace;
  if (!name) return void reader.report(`${at}.name`, 'required');
  if (!namespace) return void reader.report(`${at}.namespace`, 'required in a cluster-wide config');
  return { entry, name, namespace };
}

/** `spec.services`: those Services' L4 entries send their traffic to a listener of this config. */
function redirectServices(context: TranslationContext, config: ConfigState): void {
  const { reader, scope } = config;
  reader.array(config.spec['services'], 'spec.services').forEach((item, i) => {
    const at = `spec.services[${i}]`;
    const ref = readServiceRef(config, item, at);
    if (!ref) return;
    const { entry, name, namespace } = ref;
    const wanted = reader.string(entry['listener'], `${at}.listener`);
    const listenerName = wanted ? qualifiedName(scope, wanted, true) : config.listeners[0];
    if (!listenerName) return reader.report(`${at}.listener`, 'this config has no listener to redirect to');
    const listener = config.resources.find((resource) => resource.type === 'listener' && resource.name === listenerName);
    if (!listener) return reader.report(`${at}.listener`, `no listener "${wanted}" in this config`);
    const port = listenerPort(listener.resource);
    if (port === undefined) return reader.report(`${at}.listener`, `listener ${listenerName} has no socket address to redirect to`);
    context.made('l4Services', `${namespace}/${name}`);
    const index = context.ir.l4Services.findIndex((l4) => l4.namespace === namespace && l4.name === name);
    const service = context.ir.l4Services[index];
    if (!service) return reader.report(at, `no Service ${namespace}/${name} with a virtual IP to redirect`);
    if (service.l7Redirect && service.l7Redirect.port !== port) return reader.report(at, `Service ${namespace}/${name} is already redirected to port ${service.l7Redirect.port}`);
    redirectToProxy(context.ir, index, port);
  });
}

/** `spec.backendServices`: the endpoints of every port of a Service as one EDS resource `ns/svc`. */
function publishBackendServices(context: TranslationContext, config: ConfigState, taken: TakenNames): void {
  const { reader } = config;
  reader.array(config.spec['backendServices'], 'spec.backendServices').forEach((item, i) => {
    const at = `spec.backendServices[${i}]`;
    const ref = readServiceRef(config, item, at);
    if (!ref) return;
    const { entry, name, namespace } = ref;
    const serviceEntry = context.object('service', namespace, name);
    if (!serviceEntry) return reader.report(at, `no Service ${namespace}/${name}`);
    const service = serviceView(context, serviceEntry, new Problems());
    const numbers = reader.array(entry['number'], `${at}.number`).map(String);
    const ports = service.ports.filter((port) => numbers.length === 0 || numbers.includes(String(port.port)) || (port.name !== '' && numbers.includes(port.name)));
    for (const wanted of numbers) {
      if (!service.ports.some((port) => String(port.port) === wanted || port.name === wanted)) reader.report(`${at}.number`, `Service ${namespace}/${name} has no port "${wanted}"`);
    }
    // Each port's EDS `ns/svc:port` comes with the Service itself; `ns/svc` merges the chosen ports.
    const merged = new Map<string, EndpointIR>();
    for (const port of ports) {
      const group = context.endpointsOf(serviceClusterName(namespace, name, port.port));
      for (const endpoint of group?.endpoints ?? []) if (!merged.has(`${endpoint.address}|${endpoint.port}`)) merged.set(`${endpoint.address}|${endpoint.port}`, endpoint);
    }
    const edsName = `${namespace}/${name}`;
    const endpoints = [...merged.values()].sort((a, b) => compare(a.address, b.address) || a.port - b.port);
    const resource = desiredClusterLoadAssignment({ clusterName: edsName, endpoints, source: config.entry.source });
    const existing = context.ir.envoyConfigs.find((candidate) => candidate.type === 'endpoint' && candidate.name === edsName);
    const own = config.resources.find((candidate) => candidate.type === 'endpoint' && candidate.name === edsName);
    const same = existing ?? own;
    if (same) {
      if (JSON.stringify(same.resource) !== JSON.stringify(resource)) reader.report(at, `endpoints "${edsName}" are already published with other ports by ${describe(same.source)}`);
      return;
    }
    const holder = taken.get(`endpoint|${edsName}`);
    if (holder !== undefined) return reader.report(at, `endpoint name "${edsName}" is already used by ${holder}`);
    // Backend endpoints are no secret and any proxy may route to them: served to every proxy.
    config.resources.push({ type: 'endpoint', name: edsName, resource, source: config.entry.source, objectKey: config.entry.key });
  });
}
