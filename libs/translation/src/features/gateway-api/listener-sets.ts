/**
 * ListenerSet (gateway.networking.k8s.io v1, GEP-1713): listeners kept in their own object and merged
 * into a parent Gateway of ours that allows them (`spec.allowedListeners.namespaces.from`: None, the
 * default, Same, All or Selector over the ListenerSet's Namespace labels). Decisions:
 * - a ListenerSet's listeners are served like the Gateway's own, on the Gateway's address; their
 *   certificate references in another namespace need a ReferenceGrant from kind ListenerSet; `Same`
 *   in their allowedRoutes means the ListenerSet's namespace;
 * - routes attach to them by a parentRef of kind ListenerSet only; a parentRef to the Gateway attaches
 *   to the Gateway's own listeners;
 * - the Gateway's status lists its own listeners and counts the accepted ListenerSets
 *   (`attachedListenerSets`); each ListenerSet's status lists its listeners, and is Accepted and
 *   Programmed while one of them is valid (else ListenersNotValid; NotAllowed when the Gateway does not
 *   allow it);
 * - conflicts between a ListenerSet's listeners and others are judged as among the Gateway's own.
 */
import type { Condition } from '@tendril/contract';
import type { TranslationContext } from '../../context.js';
import { FieldReader } from '../../kube/fields.js';
import { GATEWAY_GROUP, readGateway, selectorMatches, type GatewayView, type LabelSelectorView, type ListenerView } from '../../kube/gateway-api.js';
import { compare } from '../../problems.js';
import { condition } from './status.js';

/** What of a listener's state this file reads (gateways.ts ListenerState). */
interface SetListener {
  view: ListenerView;
  listenerSet?: string;
  notAccepted?: [string, string];
  conflicted?: [string, string];
  unresolved?: [string, string];
}

export interface ListenerSetState<L extends SetListener = SetListener> {
  key: string;
  object: object;
  view: GatewayView;
  apiVersion: string;
  /** Set when the Gateway does not take it: [reason, message]. */
  notAllowed?: [string, string];
  listeners: L[];
}

/** The ListenerSets naming `gateway` as parent, oldest first; the allowed ones' listeners join the Gateway's. */
export function attachListenerSets<L extends SetListener>(context: TranslationContext, gateway: { view: GatewayView; object: object; listeners: L[]; listenerSets: ListenerSetState<L>[] }, check: (set: GatewayView, listener: ListenerView) => L): void {
  const entries = context.index.local('listenerset').filter((entry) => {
    const parent = (entry.object['spec'] as { parentRef?: { name?: unknown; namespace?: unknown; kind?: unknown; group?: unknown } } | undefined)?.parentRef;
    return parent?.name === gateway.view.name && (parent.namespace ?? entry.ref.namespace) === gateway.view.namespace && (parent.kind ?? 'Gateway') === 'Gateway' && (parent.group ?? GATEWAY_GROUP) === GATEWAY_GROUP;
  });
  if (entries.length === 0) return;
  const allowed = allowedListeners(context, gateway.object);
  const namespaceLabels = (namespace: string): Record<string, string> => {
    const entry = context.index.local('namespace').find((candidate) => candidate.ref.name === namespace);
    return { 'kubernetes.io/metadata.name': namespace, ...((entry?.object['metadata'] as { labels?: Record<string, string> } | undefined)?.labels ?? {}) };
  };
  const sets = entries.map((entry) => {
    const view: GatewayView = { ...context.view(entry.object, 'listenerset', context.problems, (sink) => readGateway(entry, sink)), referrerKind: 'ListenerSet' };
    const apiVersion = typeof entry.object['apiVersion'] === 'string' ? entry.object['apiVersion'] : `${GATEWAY_GROUP}/v1`;
    return { key: entry.key, object: entry.object, view, apiVersion, listeners: [] as L[] } satisfies ListenerSetState<L> as ListenerSetState<L>;
  });
  sets.sort((a, b) => compare(a.view.creationTimestamp || '\uffff', b.view.creationTimestamp || '\uffff') || compare(`${a.view.namespace}/${a.view.name}`, `${b.view.namespace}/${b.view.name}`));
  for (const set of sets) {
    const { namespace } = set.view;
    const admitted = allowed.from === 'All' || (allowed.from === 'Same' && namespace === gateway.view.namespace) || (allowed.from === 'Selector' && allowed.selector !== undefined && selectorMatches(allowed.selector, namespaceLabels(namespace)));
    if (!admitted) {
      set.notAllowed = ['NotAllowed', `Gateway ${gateway.view.namespace}/${gateway.view.name} does not allow ListenerSets from namespace ${namespace} (spec.allowedListeners.namespaces.from ${allowed.from})`];
      continue;
    }
    set.listeners = set.view.listeners.map((listener) => ({ ...check(set.view, listener), listenerSet: `${namespace}/${set.view.name}` }));
    gateway.listeners.push(...set.listeners);
  }
  gateway.listenerSets = sets;
}

/** spec.allowedListeners of a Gateway, with the CRD's default (None). */
function allowedListeners(context: TranslationContext, object: object): { from: string; selector?: LabelSelectorView } {
  const read = new FieldReader(context.problems, { kind: 'Gateway', name: '' });
  const spec = (object as { spec?: Record<string, unknown> }).spec ?? {};
  const namespaces = read.object(read.object(spec['allowedListeners'], 'spec.allowedListeners')?.['namespaces'], 'spec.allowedListeners.namespaces') ?? {};
  const from = typeof namespaces['from'] === 'string' ? namespaces['from'] : 'None';
  const raw = namespaces['selector'] as { matchLabels?: Record<string, string>; matchExpressions?: LabelSelectorView['matchExpressions'] } | undefined;
  return raw ? { from, selector: { matchLabels: raw.matchLabels ?? {}, matchExpressions: raw.matchExpressions ?? [] } } : { from };
}

/** Whether a listener takes traffic: accepted, not conflicted, its references resolved. */
const valid = (listener: SetListener) => !listener.notAccepted && !listener.conflicted && !listener.unresolved;

/** A ListenerSet's status: Accepted, Programmed, and its listeners' entries (as the Gateway gives its own). */
export function listenerSetStatus<L extends SetListener>(set: ListenerSetState<L>, gatewayAccepted: boolean, listenerEntries: (listener: L) => Record<string, unknown>): Record<string, unknown> {
  const generation = set.view.generation;
  let accepted: Condition;
  let programmed: Condition;
  if (set.notAllowed) {
    accepted = condition('Accepted', false, set.notAllowed[0], set.notAllowed[1], generation);
    programmed = condition('Programmed', false, set.notAllowed[0], set.notAllowed[1], generation);
  } else if (!gatewayAccepted) {
    accepted = condition('Accepted', false, 'ParentNotAccepted', 'the parent Gateway is not accepted', generation);
    programmed = condition('Programmed', false, 'ParentNotAccepted', 'the parent Gateway is not accepted', generation);
  } else if (!set.listeners.some(valid)) {
    accepted = condition('Accepted', false, 'ListenersNotValid', 'no listener is valid', generation);
    programmed = condition('Programmed', false, 'ListenersNotValid', 'no listener is valid', generation);
  } else {
    accepted = condition('Accepted', true, 'Accepted', 'ListenerSet accepted', generation);
    programmed = condition('Programmed', true, 'Programmed', 'ListenerSet programmed', generation);
  }
  return { conditions: [accepted, programmed], listeners: set.listeners.map(listenerEntries) };
}
