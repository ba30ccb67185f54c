/**
 * L7 load balancing of a Service by annotation (`io.cilium/lb-protocol`, or Cilium's
 * `service.cilium.io/lb-l7: enabled`): its LB entry is redirected to a node-proxy listener of its own,
 * whose routes send each Service port to that port's cluster (whose policy and HTTP/2 the services
 * feature already set). Requests are told apart by the Host header's port; a Host without one goes to
 * the first port.
 */
import type { VirtualHostIR } from '@tendril/model';
import { ANNOTATIONS } from '../annotations.js';
import type { Feature, TranslationContext } from '../context.js';
import { serviceView, type ServiceView } from '../kube/service.js';
import { serviceClusterName, serviceL7Name } from '../names.js';
import { redirectToProxy } from '../lb/redirect.js';
import type { ObjectQuery } from '../objects.js';
import { Problems } from '../problems.js';

export function wantsL7(service: ServiceView): boolean {
  return service.annotations[ANNOTATIONS.lbProtocol] !== undefined || service.annotations[ANNOTATIONS.lbL7]?.trim().toLowerCase() === 'enabled';
}

/** The Services of this cluster wanting L7 load balancing (param ''), as wantsL7() reads their annotations. */
export const L7_SERVICES: ObjectQuery = {
  name: 'l7-services',
  kinds: ['service'],
  paramsOf: (entry) => {
    const metadata = entry.object['metadata'];
    const annotations = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? (metadata as Record<string, unknown>)['annotations'] : undefined;
    if (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)) return [];
    const value = (name: string) => (annotations as Record<string, unknown>)[name];
    const l7 = value(ANNOTATIONS.lbL7);
    return typeof value(ANNOTATIONS.lbProtocol) === 'string' || (typeof l7 === 'string' && l7.trim().toLowerCase() === 'enabled') ? [entry.ref.cluster] : [];
  },
};

export const serviceL7Feature = {
  name: 'service-l7',
  queries: [L7_SERVICES],
  build(context: TranslationContext): void {
    const quiet = new Problems();
    const wanting = context.query(L7_SERVICES, context.index.cluster);
    if (wanting.length === 0) return;
    const l4ById = new Map(context.ir.l4Services.map((service, index) => [`${service.namespace}/${service.name}`, index] as const));
    for (const entry of wanting) {
      const service = serviceView(context, entry, quiet);
      if (!wantsL7(service)) continue;
      const l4 = context.made('l4Services', `${service.namespace}/${service.name}`) ? l4ById.get(`${service.namespace}/${service.name}`) : undefined;
      const clusters = service.ports
        .map((port) => ({ port: port.port, cluster: serviceClusterName(service.namespace, service.name, port.port) }))
        .filter(({ cluster }) => context.made('clusters', cluster));
      if (l4 === undefined || clusters.length === 0) continue; // headless, or no TCP port: nothing to redirect
      const name = serviceL7Name(service.namespace, service.name);
      const port = context.proxyPorts.portFor(name);
      if (port === undefined) {
        context.problems.field(service.source, `metadata.annotations`, `L7 load balancing: no node proxy port left (options.proxyPortCount ${context.options.proxyPortCount})`);
        continue;
      }
      const virtualHosts: VirtualHostIR[] = clusters.map(({ port: servicePort, cluster }, i) => ({
        name: `port-${servicePort}`,
        domains: i === 0 ? ['*', `*:${servicePort}`] : [`*:${servicePort}`],
        routes: [{ name: `${name}/${servicePort}`, match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'forward', backends: [{ clusterName: cluster, weight: 1 }] } }],
      }));
      context.ir.routes.push({ name, virtualHosts, source: service.source });
      context.ir.listeners.push({
        name,
        kind: 'socket',
        address: '0.0.0.0',
        port,
        filterChains: [{ name: 'http', match: { serverNames: [] }, action: { kind: 'http', routeName: name, statPrefix: name } }],
        source: service.source,
      });
      redirectToProxy(context.ir, l4, port);
    }
  },
} satisfies Feature;
