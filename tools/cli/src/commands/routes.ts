/**
 * `tendril routes`: every HTTP route the proxies are served (Ingress, Gateway API, CiliumEnvoyConfig,
 * proxyless), followed down to its clusters and their endpoints, read from the xDS resources themselves.
 */
import { BUCKETS, XDS_GENERATION_KEY, envelopeBytes, xdsResourceCodec } from '@tendril/contract';
import { decodeResource } from '@tendril/envoy';
import { print, table, type OutputFormat } from '../output.js';
import type { Session } from '../session.js';

// decoded Envoy resources are walked freely; every field read here is optional in the protos
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

export interface RouteRow {
  routeConfig: string;
  hosts: string[];
  match: string;
  action: string;
  clusters: { name: string; weight?: number; endpoints: string[] }[];
}

export function describeMatch(match: Json): string {
  const path =
    match['path'] !== undefined ? `= ${match['path']}`
    : match['safeRegex'] ? `~ ${match['safeRegex'].regex}`
    : match['pathSeparatedPrefix'] !== undefined ? `${match['pathSeparatedPrefix']}/*`
    : match['prefix'] !== undefined ? `${match['prefix']}*`
    : '*';
  const headers = (match['headers'] ?? []).map((h: Json) => `${h.name}${h.stringMatch?.exact !== undefined ? `=${h.stringMatch.exact}` : h.presentMatch ? ' present' : '~'}`);
  const query = (match['queryParameters'] ?? []).map((q: Json) => `?${q.name}`);
  return [path, ...headers, ...query].join(' ');
}

function endpointsOf(assignment: Json | undefined): string[] {
  if (!assignment) return [];
  return (assignment['endpoints'] ?? []).flatMap((group: Json) =>
    (group['lbEndpoints'] ?? []).map((lb: Json) => {
      const socket = lb.endpoint?.address?.socketAddress ?? {};
      return `${socket.address}:${socket.portValue}${lb.healthStatus && lb.healthStatus !== 'HEALTHY' ? ` (${lb.healthStatus.toLowerCase()})` : ''}`;
    }),
  );
}

/** Pure: decoded route configurations, clusters and assignments -> one row per route. */
export function routeRows(routeConfigs: Json[], clusters: Map<string, Json>, assignments: Map<string, Json>): RouteRow[] {
  const edsName = (cluster: string) => clusters.get(cluster)?.['edsClusterConfig']?.serviceName || cluster;
  const target = (name: string, weight?: number) => ({ name, ...(weight === undefined ? {} : { weight }), endpoints: endpointsOf(assignments.get(edsName(name)) ?? clusters.get(name)?.['loadAssignment']) });
  const rows: RouteRow[] = [];
  for (const config of routeConfigs) {
    for (const host of config['virtualHosts'] ?? []) {
      for (const route of host['routes'] ?? []) {
        const action = route['route'] as Json | undefined;
        let described = 'route';
        let targets: RouteRow['clusters'] = [];
        if (action?.['cluster']) targets = [target(action['cluster'])];
        else if (action?.['weightedClusters']) targets = action['weightedClusters'].clusters.map((c: Json) => target(c.name, c.weight ?? 0));
        else if (route['redirect']) described = `redirect ${JSON.stringify(route['redirect'])}`;
        else if (route['directResponse']) described = `respond ${route['directResponse'].status}`;
        rows.push({ routeConfig: config['name'], hosts: host['domains'] ?? [], match: describeMatch(route['match'] ?? {}), action: described, clusters: targets });
      }
    }
  }
  return rows;
}

export async function routes(session: Session, format: OutputFormat): Promise<void> {
  const routeConfigs: Json[] = [];
  const clusters = new Map<string, Json>();
  const assignments = new Map<string, Json>();
  for (const [key, bytes] of await session.entries(BUCKETS.xds)) {
    if (key === XDS_GENERATION_KEY) continue;
    const envelope = xdsResourceCodec.decode(bytes);
    if (!['route', 'cluster', 'endpoint'].includes(envelope.type)) continue;
    const resource = decodeResource(envelope.type, envelopeBytes(envelope)) as Json;
    if (envelope.type === 'route') routeConfigs.push(resource);
    else if (envelope.type === 'cluster') clusters.set(envelope.name, resource);
    else assignments.set(envelope.name, resource);
  }
  const rows = routeRows(routeConfigs, clusters, assignments);
  print(format, rows, () =>
    table(rows, [
      { header: 'ROUTE CONFIG', value: (r) => r.routeConfig },
      { header: 'HOSTS', value: (r) => r.hosts.join(',') },
      { header: 'MATCH', value: (r) => r.match },
      {
        header: 'TO',
        value: (r) =>
          r.clusters.length === 0
            ? r.action
            : r.clusters.map((c) => `${c.name}${c.weight === undefined ? '' : ` (${c.weight})`} -> ${c.endpoints.length ? c.endpoints.join(' ') : '(no endpoints)'}`).join('; '),
      },
    ]),
  );
}
