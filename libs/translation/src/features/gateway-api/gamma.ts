/**
 * GAMMA (Gateway API for service mesh): an HTTPRoute or GRPCRoute whose parentRef is a Service in its
 * own namespace applies to east-west traffic to that Service. The Service's L4 entry is redirected to
 * a node-proxy listener of its own (`<namespace>/<service>/gamma`) whose routes are the attached
 * routes' rules, in the spec's precedence; requests none matches get Envoy's 404.
 */
import type { HttpRouteRuleIR } from '@tendril/model';
import type { TranslationContext } from '../../context.js';
import type { ServiceView } from '../../kube/service.js';
import { redirectToProxy } from '../../lb/redirect.js';
import { gammaName } from '../../names.js';
import { httpOptions, type AttachedRoute, type RuleCache } from './build.js';
import { compareMatches, type RankedMatch } from './precedence.js';

/** Builds the Service's listener and redirects its entry; false when it has no L4 entry to redirect. */
export function buildGamma(context: TranslationContext, service: ServiceView, routes: AttachedRoute[], cache: RuleCache): boolean {
  const l4Index = context.ir.l4Services.findIndex((entry) => entry.namespace === service.namespace && entry.name === service.name);
  if (l4Index < 0) return false;
  const name = gammaName(service.namespace, service.name);
  const port = context.proxyPorts.portFor(name);
  if (port === undefined) {
    context.problems.field(service.source, '', `GAMMA routes: no node proxy port left (options.proxyPortCount ${context.options.proxyPortCount})`);
    return false;
  }
  const servicePort = service.ports[0]?.port ?? 80;
  const ranked: { rank: RankedMatch; rule: HttpRouteRuleIR }[] = [];
  for (const route of routes) {
    const rules = cache.rules(route, { port: servicePort, scheme: 'http' });
    route.view.rules.forEach((rule, ruleIndex) =>
      rule.matches.forEach((match, matchIndex) => {
        const ir = rules[ruleIndex]?.[matchIndex];
        if (ir) ranked.push({ rank: { host: '', match, creationTimestamp: route.view.creationTimestamp, namespace: route.view.namespace, name: route.view.name, ruleIndex, matchIndex }, rule: ir });
      }),
    );
  }
  ranked.sort((a, b) => compareMatches(a.rank, b.rank));
  const hosts = [{ name: '*', domains: ['*'], routes: ranked.map((entry) => entry.rule) }];
  context.ir.routes.push({ name, virtualHosts: hosts, source: service.source });
  context.ir.listeners.push({
    name,
    kind: 'socket',
    address: '0.0.0.0',
    port,
    filterChains: [{ name: 'http', match: { serverNames: [] }, action: { kind: 'http', routeName: name, statPrefix: name, ...httpOptions(hosts) } }],
    source: service.source,
  });
  redirectToProxy(context.ir, l4Index, port);
  return true;
}
