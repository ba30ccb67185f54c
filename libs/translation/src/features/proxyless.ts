/**
 * Proxyless gRPC: for every TCP port of every Service with a cluster, an API listener named like what
 * a client dials (`xds:///<service>.<namespace>.svc.cluster.local:<port>`) with RDS to a route
 * configuration of the same name, sending every request to that port's cluster (with the Service's
 * L7 policy). No socket, no node proxy: the client balances itself.
 */
import type { Feature, TranslationContext } from '../context.js';
import { serviceView } from '../kube/service.js';
import { proxylessTargetName, serviceClusterName } from '../names.js';
import { Problems } from '../problems.js';

export const proxylessFeature = {
  name: 'proxyless-grpc',
  rerunnable: true,
  build(context: TranslationContext): void {
    context.eachObject('service', 'proxyless', buildProxylessUnit);
  },
} satisfies Feature;

/** An API listener and a route configuration per port of the Service that has a cluster. */
function buildProxylessUnit(unit: TranslationContext, namespace: string | undefined, serviceName: string): void {
  const entry = unit.object('service', namespace, serviceName);
  if (!entry) return;
  const service = serviceView(unit, entry, new Problems());
  for (const port of service.ports) {
    if (port.protocol !== 'TCP') continue; // a UDP port of the same number has no cluster of its own
    const cluster = serviceClusterName(service.namespace, service.name, port.port);
    if (!unit.made('clusters', cluster)) continue;
    const name = proxylessTargetName(service.namespace, service.name, port.port);
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
