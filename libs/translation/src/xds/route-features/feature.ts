/** One Envoy route feature: a composable tweak of an Envoy Route built from one rule of the IR. */
import type { HttpRouteRuleIR } from '@tendril/model';
import type { Resource } from '../cluster.js';

export interface RouteFeature {
  readonly name: string;
  apply(route: Resource, rule: HttpRouteRuleIR): Resource;
}

/** The `route` action of an Envoy Route, when the rule forwards. */
export function forwardAction(route: Resource): Resource | undefined {
  return route['route'] as Resource | undefined;
}
