/** Request timeout of a forwarding route (0 disables Envoy's 15 s default). */
import { toDuration } from '../cluster.js';
import { forwardAction, type RouteFeature } from './feature.js';

export const withTimeouts = {
  name: 'timeouts',
  apply(route, rule) {
    const action = forwardAction(route);
    if (!action || rule.action.kind !== 'forward' || rule.action.timeoutMs === undefined) return route;
    return { ...route, route: { ...action, timeout: toDuration(rule.action.timeoutMs) } };
  },
} satisfies RouteFeature;
