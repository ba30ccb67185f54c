/**
 * CORS policy of a route, for Envoy's CORS filter (typed_per_filter_config envoy.filters.http.cors).
 * A preflight from an origin the policy does not allow is answered by Envoy (200 without
 * access-control-allow-origin) instead of reaching the backend: forward_not_matching_preflights is
 * false (its default, true, would let the backend answer a preflight the route's policy refuses).
 */
import type { Resource } from '../cluster.js';
import type { RouteFeature } from './feature.js';

const CORS_POLICY = 'envoy.extensions.filters.http.cors.v3.CorsPolicy';

export const withCors = {
  name: 'cors',
  apply(route, rule) {
    const cors = rule.cors;
    if (!cors) return route;
    const policy: Resource = {
      '@type': `type.googleapis.com/${CORS_POLICY}`,
      allowOriginStringMatch: cors.allowOrigins.map((origin) => (origin.kind === 'exact' ? { exact: origin.value } : { safeRegex: { regex: origin.value } })),
    };
    if (cors.allowMethods.length) policy['allowMethods'] = cors.allowMethods.join(', ');
    if (cors.allowHeaders.length) policy['allowHeaders'] = cors.allowHeaders.join(', ');
    if (cors.exposeHeaders.length) policy['exposeHeaders'] = cors.exposeHeaders.join(', ');
    if (cors.maxAgeSeconds !== undefined) policy['maxAge'] = String(cors.maxAgeSeconds);
    if (cors.allowCredentials !== undefined) policy['allowCredentials'] = cors.allowCredentials;
    policy['forwardNotMatchingPreflights'] = false;
    return { ...route, typedPerFilterConfig: { ...(route['typedPerFilterConfig'] as Resource | undefined), 'envoy.filters.http.cors': policy } };
  },
} satisfies RouteFeature;
