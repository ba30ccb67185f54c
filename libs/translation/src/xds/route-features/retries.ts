/** Retry policy of a forwarding route. */
import { toDuration, type Resource } from '../cluster.js';
import { forwardAction, type RouteFeature } from './feature.js';

export const withRetries = {
  name: 'retries',
  apply(route, rule) {
    const action = forwardAction(route);
    if (!action || rule.action.kind !== 'forward' || !rule.action.retry) return route;
    const retry = rule.action.retry;
    const policy: Resource = { retryOn: retry.retryOn.join(','), numRetries: retry.numRetries };
    if (retry.perTryTimeoutMs !== undefined) policy['perTryTimeout'] = toDuration(retry.perTryTimeoutMs);
    if (retry.retriableStatusCodes?.length) policy['retriableStatusCodes'] = [...retry.retriableStatusCodes];
    if (retry.backoffMs !== undefined && retry.backoffMs > 0) policy['retryBackOff'] = { baseInterval: toDuration(retry.backoffMs) };
    return { ...route, route: { ...action, retryPolicy: policy } };
  },
} satisfies RouteFeature;
