/**
 * Proxyless gRPC: for every TCP port of every Service with a cluster, an API listener named like what
 * a client dials (`xds:///<service>.<namespace>.svc.cluster.local:<port>`) with RDS to a route
 * configuration of the same name, sending every request to that port's cluster (with the Service's
 * L7 policy). No socket, no node proxy: the client balances itself.
 */
import type { Feature, TranslationContext } from '../context.js';
import { serviceView, type ServiceView } from '../kube/service.js';
import { proxylessTargetName, serviceClusterName } from '../names.js';
import { Problems } from '../problems.js';
import type { IndexedObject } from '../objects.js';

export const proxylessFeature = {
  name: 'proxyless-grpc',
  build(context: TranslationContext): void {
    const quiet = new Problems();
    const clusters = new Set(context.ir.clusters.map((cluster) => cluster.name));
    for (const entry of context.index.local('service')) {
      const service = serviceView(context, entry, quiet);
      const targets = proxylessTargets(service, clusters);
      if (targets.length === 0) continue;
      context.unit(proxylessUnitId(entry), proxylessUnitInputs(entry, targets), (unit) => buildProxylessUnit(unit, service, targets));
    }
  },
} satisfies Feature;

export interface ProxylessTarget {
  port: number;
  cluster: string;
}

/** The Service's ports that have a cluster (in `clusters`), each a proxyless target. */
export function proxylessTargets(service: ServiceView, clusters: { has(name: string): boolean }): ProxylessTarget[] {
  return service.ports.map((port) => ({ port: port.port, cluster: serviceClusterName(service.namespace, service.name, port.port) })).filter(({ cluster }) => clusters.has(cluster));
}

export function proxylessUnitId(service: IndexedObject): string {
  return `proxyless ${service.key}`;
}

export function proxylessUnitInputs(service: IndexedObject, targets: ProxylessTarget[]): unknown[] {
  return [service.object, targets.map(({ cluster }) => cluster).join('|')];
}

/** An API listener and a route configuration per target. */
export function buildProxylessUnit(unit: TranslationContext, service: ServiceView, targets: ProxylessTarget[]): void {
  for (const { port, cluster } of targets) {
    const name = proxylessTargetName(service.namespace, service.name, port);
    unit.ir.routes.push({
      name,
      virtualHosts: [{ name, domains: ['*'], routes: [{ name, match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'forward', backends: [{ clusterName: cluster, weight: 1 }] } }] }],
      source: service.source,
    });
    unit.ir.listeners.push({
      name,
      kind: 'api',
      address: '',
      port: 0,
      filterChains: [{ name: 'http', match: { serverNames: [] }, action: { kind: 'http', routeName: name, statPrefix: name } }],
      source: service.source,
    });
  }
}
