/**
 * Route attachment as the Gateway API defines it: a parentRef names a Gateway (optionally one listener
 * by sectionName and/or port); of those listeners, the ones whose allowedRoutes admit the route's kind
 * and namespace (Same, All, or a Selector over the Namespace's labels) and whose hostname intersects
 * the route's take it. The Accepted reason says which step failed: NoMatchingParent,
 * NotAllowedByListeners, NoMatchingListenerHostname.
 */
import type { Condition } from '@tendril/contract';
import { GATEWAY_GROUP, selectorMatches } from '../../kube/gateway-api.js';
import type { ParentRefView, RouteView } from '../../kube/routes.js';
import type { GatewayState, ListenerState } from './gateways.js';
import { intersectHostnames } from './hostnames.js';
import { condition } from './status.js';

export interface Attachment {
  listener: ListenerState;
  /** The hostnames the route is served under on this listener ('' = any). */
  hosts: string[];
}

export interface ParentOutcome {
  attachments: Attachment[];
  accepted: Condition;
}

/** Whether a parentRef names a Gateway (group and kind as defaulted by the CRD). */
export function isGatewayRef(parent: ParentRefView): boolean {
  return parent.group === GATEWAY_GROUP && parent.kind === 'Gateway';
}

/** Whether a parentRef names a Service (GAMMA). */
export function isServiceRef(parent: ParentRefView): boolean {
  return (parent.group === '' || parent.group === 'core') && parent.kind === 'Service';
}

export function attachToGateway(route: RouteView, parent: ParentRefView, gateway: GatewayState, namespaceLabels: Map<string, Record<string, string>>): ParentOutcome {
  const generation = route.generation;
  const fail = (reason: string, message: string): ParentOutcome => ({ attachments: [], accepted: condition('Accepted', false, reason, message, generation) });
  if (gateway.notAccepted) return fail('NoMatchingParent', `Gateway ${gateway.view.namespace}/${gateway.view.name} is not accepted (${gateway.notAccepted[0]})`);
  const named = gateway.listeners.filter((listener) => (parent.sectionName === undefined || listener.view.name === parent.sectionName) && (parent.port === undefined || listener.view.port === parent.port));
  if (named.length === 0) {
    const which = [parent.sectionName !== undefined ? `sectionName ${parent.sectionName}` : '', parent.port !== undefined ? `port ${parent.port}` : ''].filter(Boolean).join(' and ');
    return fail('NoMatchingParent', `Gateway ${gateway.view.namespace}/${gateway.view.name} has no listener with ${which || 'any name'}`);
  }
  const allowed = named.filter((listener) => admits(listener, route, gateway, namespaceLabels));
  if (allowed.length === 0) return fail('NotAllowedByListeners', `no listener of Gateway ${gateway.view.namespace}/${gateway.view.name} allows this ${route.kind} from namespace ${route.namespace}`);
  const attachments: Attachment[] = [];
  for (const listener of allowed) {
    const hosts = intersectHostnames(listener.view.hostname, route.hostnames);
    if (hosts.length) attachments.push({ listener, hosts });
  }
  if (attachments.length === 0) return fail('NoMatchingListenerHostname', `no hostname of the route intersects a listener's hostname`);
  return { attachments, accepted: condition('Accepted', true, 'Accepted', 'Route accepted', generation) };
}

function admits(listener: ListenerState, route: RouteView, gateway: GatewayState, namespaceLabels: Map<string, Record<string, string>>): boolean {
  if (!listener.supportedKinds.some((kind) => kind.group === GATEWAY_GROUP && kind.kind === route.kind)) return false;
  const from = listener.view.allowedRoutes.from;
  if (from === 'All') return true;
  if (from === 'Same') return route.namespace === gateway.view.namespace;
  if (from === 'Selector') {
    const selector = listener.view.allowedRoutes.selector;
    // Kubernetes labels every Namespace with its name; a Namespace not mirrored still has that one.
    const labels = { 'kubernetes.io/metadata.name': route.namespace, ...(namespaceLabels.get(route.namespace) ?? {}) };
    return selector !== undefined && selectorMatches(selector, labels);
  }
  return false;
}
