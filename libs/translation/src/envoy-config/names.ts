/**
 * Names in hand-written Envoy resources, qualified the way Cilium qualifies them so that two configs
 * cannot take each other's names: `<namespace>/<config>/<name>` (the namespace is empty for a
 * cluster-wide config, giving `/<config>/<name>`). Listeners and route configurations are always
 * qualified unless the name already starts with `<namespace>/`; clusters, endpoints and secrets (and
 * every reference to them) only when the name holds no `/`, so `default/echo:80` still names the
 * Service cluster Tendril generates. Proto3 JSON allows both field spellings (`filterChains` and
 * `filter_chains`); both are read, and a rewritten field keeps the spelling the user chose. Config
 * sources left out (RDS, EDS, SDS) are filled in with ADS, as Cilium fills in its own.
 */
export type Json = Record<string, unknown>;

export interface ConfigScope {
  namespace: string;
  config: string;
}

export function qualifiedName(scope: ConfigScope, name: string, force: boolean): string {
  if (name === '') return name; // an unnamed resource stays unnamed, and is refused as such
  const slash = name.indexOf('/');
  if (slash >= 0 && (!force || (slash === scope.namespace.length && name.startsWith(scope.namespace)))) return name;
  return `${scope.namespace}/${scope.config}/${name}`;
}

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const DOWNSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The key under which a field is spelled in this object: camelCase, snake_case, or undefined. */
function keyOf(object: Json, camel: string): string | undefined {
  if (Object.hasOwn(object, camel)) return camel;
  const other = snake(camel);
  return Object.hasOwn(object, other) ? other : undefined;
}

export function getField(object: Json, camel: string): unknown {
  const key = keyOf(object, camel);
  return key === undefined ? undefined : object[key];
}

/** A new field is spelled like its neighbours: snake_case if any of them is. */
function usesSnakeCase(object: Json): boolean {
  return Object.keys(object).some((key) => key.includes('_'));
}

function setField(object: Json, camel: string, value: unknown): void {
  object[keyOf(object, camel) ?? (usesSnakeCase(object) ? snake(camel) : camel)] = value;
}

function adsSource(snakeCase: boolean): Json {
  return snakeCase ? { ads: {}, resource_api_version: 'V3' } : { ads: {}, resourceApiVersion: 'V3' };
}

function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function child(object: Json, ...path: string[]): Json | undefined {
  let at: unknown = object;
  for (const part of path) at = isObject(at) ? getField(at, part) : undefined;
  return isObject(at) ? at : undefined;
}

function typeOf(config: Json): string {
  const url = config['@type'];
  return typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : '';
}

function rename(object: Json | undefined, camel: string, scope: ConfigScope, force = false): void {
  if (!object) return;
  const value = getField(object, camel);
  if (typeof value === 'string') setField(object, camel, qualifiedName(scope, value, force));
}

/** Fills a config source the user left out with ADS: everything Tendril serves comes over one stream. */
function withAdsSource(object: Json | undefined, camel: string): void {
  if (object && getField(object, camel) === undefined) setField(object, camel, adsSource(usesSnakeCase(object)));
}

function qualifySdsConfigs(tls: Json | undefined, scope: ConfigScope): void {
  const common = tls && child(tls, 'commonTlsContext');
  if (!common) return;
  const configs = [
    ...objects(getField(common, 'tlsCertificateSdsSecretConfigs')),
    ...[child(common, 'validationContextSdsSecretConfig'), child(common, 'combinedValidationContext', 'validationContextSdsSecretConfig')].filter(isObject),
  ];
  for (const config of configs) {
    rename(config, 'name', scope);
    withAdsSource(config, 'sdsConfig');
  }
}

function qualifyTransportSocket(owner: Json, scope: ConfigScope, tlsType: string): void {
  const config = child(owner, 'transportSocket', 'typedConfig');
  if (config && typeOf(config) === tlsType) qualifySdsConfigs(config, scope);
}

/** Cluster names a route configuration points at. */
function qualifyRouteReferences(routeConfig: Json, scope: ConfigScope): void {
  for (const host of objects(getField(routeConfig, 'virtualHosts'))) {
    for (const route of objects(getField(host, 'routes'))) {
      const action = child(route, 'route');
      if (!action) continue;
      rename(action, 'cluster', scope);
      for (const weighted of objects(getField(child(action, 'weightedClusters') ?? {}, 'clusters'))) rename(weighted, 'name', scope);
      for (const mirror of objects(getField(action, 'requestMirrorPolicies'))) rename(mirror, 'cluster', scope);
    }
  }
}

function qualifyListener(listener: Json, scope: ConfigScope): void {
  rename(listener, 'name', scope, true);
  const chains = [...objects(getField(listener, 'filterChains')), ...[child(listener, 'defaultFilterChain')].filter(isObject)];
  for (const chain of chains) {
    qualifyTransportSocket(chain, scope, DOWNSTREAM_TLS);
    for (const filter of objects(getField(chain, 'filters'))) {
      const config = child(filter, 'typedConfig');
      if (!config) continue;
      if (typeOf(config) === HCM) {
        const rds = child(config, 'rds');
        // Route configurations are renamed with their config, so the listener's RDS name must follow.
        rename(rds, 'routeConfigName', scope, true);
        withAdsSource(rds, 'configSource');
        const inline = child(config, 'routeConfig');
        if (inline) qualifyRouteReferences(inline, scope);
      } else if (typeOf(config) === TCP_PROXY) {
        rename(config, 'cluster', scope);
        for (const weighted of objects(getField(child(config, 'weightedClusters') ?? {}, 'clusters'))) rename(weighted, 'name', scope);
      }
    }
  }
}

function qualifyCluster(cluster: Json, scope: ConfigScope): void {
  rename(cluster, 'name', scope);
  const eds = child(cluster, 'edsClusterConfig');
  rename(eds, 'serviceName', scope);
  if (getField(cluster, 'type') === 'EDS') {
    const snakeCase = usesSnakeCase(cluster);
    if (!eds) setField(cluster, 'edsClusterConfig', snakeCase ? { eds_config: adsSource(true) } : { edsConfig: adsSource(false) });
    else withAdsSource(eds, 'edsConfig');
  }
  qualifyTransportSocket(cluster, scope, UPSTREAM_TLS);
}

/** A copy of the resource with its own name and its references qualified; the input is not changed. */
export function qualifyResource(type: 'listener' | 'route' | 'cluster' | 'endpoint' | 'secret', resource: Json, scope: ConfigScope): Json {
  const copy = structuredClone(resource);
  switch (type) {
    case 'listener':
      qualifyListener(copy, scope);
      break;
    case 'route':
      rename(copy, 'name', scope, true);
      qualifyRouteReferences(copy, scope);
      break;
    case 'cluster':
      qualifyCluster(copy, scope);
      break;
    case 'endpoint':
      rename(copy, 'clusterName', scope);
      break;
    case 'secret':
      rename(copy, 'name', scope);
      break;
  }
  return copy;
}

/** The name field of a resource of this type (a ClusterLoadAssignment is named by its cluster_name). */
export function resourceName(type: string, resource: Json): unknown {
  return getField(resource, type === 'endpoint' ? 'clusterName' : 'name');
}

/** The port of a listener's socket address, if it has one. */
export function listenerPort(listener: Json): number | undefined {
  const value = getField(child(listener, 'address', 'socketAddress') ?? {}, 'portValue');
  const port = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value; // proto3 JSON allows both
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
}

export function setListenerAddress(listener: Json, address: string, port: number): void {
  setField(listener, 'address', { socketAddress: { address, portValue: port } });
}

/** Cluster names a route configuration's routes send to (cluster, weighted clusters, mirrors). */
function routeClusters(routeConfig: Json): string[] {
  const out: string[] = [];
  const push = (value: unknown) => typeof value === 'string' && value !== '' && out.push(value);
  for (const host of objects(getField(routeConfig, 'virtualHosts'))) {
    for (const route of objects(getField(host, 'routes'))) {
      const action = child(route, 'route');
      if (!action) continue;
      push(getField(action, 'cluster'));
      for (const weighted of objects(getField(child(action, 'weightedClusters') ?? {}, 'clusters'))) push(getField(weighted, 'name'));
      for (const mirror of objects(getField(action, 'requestMirrorPolicies'))) push(getField(mirror, 'cluster'));
    }
  }
  return out;
}

/**
 * What a hand-written listener or route configuration needs from others: the clusters it sends to
 * (route actions, inline route configurations, TCP proxy) and, for a listener, the route
 * configurations it asks for over RDS. Names as they stand in the resource (qualified already).
 */
export function resourceReferences(type: string, resource: Json): { clusters: string[]; routes: string[] } {
  const clusters: string[] = [];
  const routes: string[] = [];
  if (type === 'route') clusters.push(...routeClusters(resource));
  if (type === 'listener') {
    const chains = [...objects(getField(resource, 'filterChains')), ...[child(resource, 'defaultFilterChain')].filter(isObject)];
    for (const chain of chains) {
      for (const filter of objects(getField(chain, 'filters'))) {
        const config = child(filter, 'typedConfig');
        if (!config) continue;
        if (typeOf(config) === HCM) {
          const rds = getField(child(config, 'rds') ?? {}, 'routeConfigName');
          if (typeof rds === 'string' && rds !== '') routes.push(rds);
          const inline = child(config, 'routeConfig');
          if (inline) clusters.push(...routeClusters(inline));
        } else if (typeOf(config) === TCP_PROXY) {
          const cluster = getField(config, 'cluster');
          if (typeof cluster === 'string' && cluster !== '') clusters.push(cluster);
          for (const weighted of objects(getField(child(config, 'weightedClusters') ?? {}, 'clusters'))) {
            const name = getField(weighted, 'name');
            if (typeof name === 'string' && name !== '') clusters.push(name);
          }
        }
      }
    }
  }
  return { clusters: [...new Set(clusters)].sort(), routes: [...new Set(routes)].sort() };
}
