/** What a route does: forward to one or weighted clusters, redirect, or answer directly. */
import type { RedirectActionIR } from '@tendril/model';
import type { Resource } from '../cluster.js';
import type { RouteFeature } from './feature.js';
import { toHeaderChanges } from './header-modifiers.js';
import { toPrefixReplacement } from './rewrites.js';

const RESPONSE_CODES: Record<RedirectActionIR['statusCode'], string> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

export const withAction = {
  name: 'action',
  apply(route, rule) {
    const action = rule.action;
    if (action.kind === 'direct-response') {
      return { ...route, directResponse: { status: action.status, ...(action.body !== undefined ? { body: { inlineString: action.body } } : {}) } };
    }
    if (action.kind === 'redirect') {
      const redirect: Resource = { responseCode: RESPONSE_CODES[action.statusCode] };
      if (action.scheme) redirect['schemeRedirect'] = action.scheme;
      if (action.hostname) redirect['hostRedirect'] = action.hostname;
      if (action.port) redirect['portRedirect'] = action.port;
      if (action.fullPath !== undefined) redirect['pathRedirect'] = action.fullPath;
      if (action.pathPrefix !== undefined) Object.assign(redirect, toPrefixReplacement(rule.match.path, action.pathPrefix));
      return { ...route, redirect };
    }
    const live = action.backends.filter((backend) => backend.weight > 0);
    const perBackend = live.some((backend) => backend.requestHeaders || backend.responseHeaders);
    if (live.length === 1 && !perBackend) return { ...route, route: { cluster: live[0]!.clusterName } };
    const clusters = live.map((backend) => ({
      name: backend.clusterName,
      weight: backend.weight,
      ...(backend.requestHeaders ? toHeaderChanges('request', backend.requestHeaders) : {}),
      ...(backend.responseHeaders ? toHeaderChanges('response', backend.responseHeaders) : {}),
    }));
    return { ...route, route: { weightedClusters: { clusters } } };
  },
} satisfies RouteFeature;
