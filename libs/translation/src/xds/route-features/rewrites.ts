/** Path and Host rewrites before forwarding. */
import { forwardAction, type RouteFeature } from './feature.js';
import type { Resource } from '../cluster.js';

export const withRewrites = {
  name: 'rewrites',
  apply(route, rule) {
    const action = forwardAction(route);
    if (!action || rule.action.kind !== 'forward' || !rule.action.rewrite) return route;
    const rewrite = rule.action.rewrite;
    const out: Resource = { ...action };
    if (rewrite.pathPrefix !== undefined) out['prefixRewrite'] = rewrite.pathPrefix;
    if (rewrite.fullPath !== undefined) out['regexRewrite'] = { pattern: { regex: '^/.*$' }, substitution: rewrite.fullPath };
    if (rewrite.hostname !== undefined) out['hostRewriteLiteral'] = rewrite.hostname;
    return { ...route, route: out };
  },
} satisfies RouteFeature;
