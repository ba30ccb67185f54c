/** Envoy RouteConfiguration resources (RDS) from RouteIR; each route is built by ROUTE_FEATURES in order. */
import type { HttpRouteRuleIR, RouteIR, VirtualHostIR } from '@tendril/model';
import type { Resource } from './cluster.js';
import { ROUTE_FEATURES } from './route-features/index.js';

export function desiredRouteConfiguration(route: RouteIR): Resource {
  const out: Resource = { name: route.name, virtualHosts: route.virtualHosts.map(toVirtualHost) };
  if (route.ignorePortInHostMatching) out['ignorePortInHostMatching'] = true;
  return out;
}

function toVirtualHost(host: VirtualHostIR): Resource {
  const out: Resource = { name: host.name, domains: [...host.domains], routes: host.routes.map(toRoute) };
  if (host.requireTls) out['requireTls'] = 'ALL';
  return out;
}

export function toRoute(rule: HttpRouteRuleIR): Resource {
  return ROUTE_FEATURES.reduce<Resource>((route, feature) => feature.apply(route, rule), { name: rule.name });
}
