/**
 * Session persistence of a route, for Envoy's stateful session filter (typed_per_filter_config
 * envoy.filters.http.stateful_session): the first response of a session names the endpoint that
 * served it, in a cookie Envoy sets or in a header the client must send back, and later requests
 * carrying it go to that endpoint while it is healthy (not strict: an endpoint gone means a new one).
 */
import type { Resource } from '../cluster.js';
import type { RouteFeature } from './feature.js';

const PER_ROUTE = 'envoy.extensions.filters.http.stateful_session.v3.StatefulSessionPerRoute';
const COOKIE_STATE = 'envoy.extensions.http.stateful_session.cookie.v3.CookieBasedSessionState';
const HEADER_STATE = 'envoy.extensions.http.stateful_session.header.v3.HeaderBasedSessionState';

export const withSessionPersistence = {
  name: 'session-persistence',
  apply(route, rule) {
    const session = rule.sessionPersistence;
    if (!session) return route;
    const sessionState: Resource =
      session.kind === 'cookie'
        ? {
            name: 'envoy.http.stateful_session.cookie',
            typedConfig: { '@type': `type.googleapis.com/${COOKIE_STATE}`, cookie: { name: session.name, path: session.path, ...(session.ttlSeconds !== undefined ? { ttl: `${session.ttlSeconds}s` } : {}) } },
          }
        : { name: 'envoy.http.stateful_session.header', typedConfig: { '@type': `type.googleapis.com/${HEADER_STATE}`, name: session.name } };
    const perRoute: Resource = { '@type': `type.googleapis.com/${PER_ROUTE}`, statefulSession: { sessionState } };
    return { ...route, typedPerFilterConfig: { ...(route['typedPerFilterConfig'] as Resource | undefined), 'envoy.filters.http.stateful_session': perRoute } };
  },
} satisfies RouteFeature;
