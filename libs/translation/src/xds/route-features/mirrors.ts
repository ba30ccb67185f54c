/** Request mirroring: a copy of (a share of) the requests to other clusters, answers ignored. */
import { forwardAction, type RouteFeature } from './feature.js';

export const withMirrors = {
  name: 'mirrors',
  apply(route, rule) {
    const action = forwardAction(route);
    if (!action || rule.action.kind !== 'forward' || !rule.action.mirrors?.length) return route;
    const policies = rule.action.mirrors.map((mirror) => ({
      cluster: mirror.clusterName,
      ...(mirror.percent !== undefined ? { runtimeFraction: { defaultValue: { numerator: Math.round(mirror.percent), denominator: 'HUNDRED' } } } : {}),
    }));
    return { ...route, route: { ...action, requestMirrorPolicies: policies } };
  },
} satisfies RouteFeature;
