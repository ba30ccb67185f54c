/**
 * Status expectations of the corpus (README "Status checks") against what the translator wrote to
 * `tendril-status` for each object (keyed by its `tendril-objects` key), with generations from
 * `tendril-objects`. Each check returns undefined when it holds, else what differs.
 */
import { objectKey, type KubeObject, type ObjectKind, type ObjectStatus } from '@tendril/contract';
import type { Check, ConditionExpectation, Ref } from './corpus.js';
import { CONTROLLER_NAME, UNUSABLE_ADDRESSES, USABLE_ADDRESSES } from './manifests.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- status subresources of any kind, walked by field name
type Plain = Record<string, any>;

export interface StatusView {
  cluster: string;
  object(kind: string, namespace: string | null | undefined, name: string): KubeObject | undefined;
  status(kind: string, namespace: string | null | undefined, name: string): ObjectStatus | undefined;
  /** Every object of a kind in a namespace, in key order. */
  objectsOf(kind: string, namespace: string): KubeObject[];
}

export function keyOf(cluster: string, kind: string, namespace: string | null | undefined, name: string): string {
  return objectKey({ cluster, kind: kind.toLowerCase() as ObjectKind, namespace: namespace ?? undefined, name });
}

const GROUP = 'gateway.networking.k8s.io';
const show = (conditions: Plain[] | undefined) => (conditions ?? []).map((c) => `${c['type']}=${c['status']}(${c['reason']})`).join(', ') || 'none';

function hasCondition(conditions: Plain[] | undefined, expected: ConditionExpectation): boolean {
  return (conditions ?? []).some((c) => c['type'] === expected.type && (expected.status === null || c['status'] === expected.status) && (expected.reason === null || c['reason'] === expected.reason));
}

function generationOf(view: StatusView, kind: string, ref: Ref): number | undefined {
  return view.object(kind, ref.namespace, ref.name)?.metadata.generation;
}

function currentConditions(view: StatusView, kind: string, ref: Ref, conditions: Plain[] | undefined): string | undefined {
  const generation = generationOf(view, kind, ref);
  const stale = (conditions ?? []).filter((c) => c['observedGeneration'] !== generation);
  return stale.length ? `${kind} ${ref.namespace ?? ''}/${ref.name}: conditions ${stale.map((c) => `${c['type']}@${c['observedGeneration']}`).join(', ')} not at generation ${generation}` : undefined;
}

function statusOf(view: StatusView, kind: string, ref: Ref): { status?: Plain; problem?: string } {
  if (!view.object(kind, ref.namespace, ref.name)) return { problem: `${kind} ${ref.namespace ?? ''}/${ref.name} is not in tendril-objects` };
  const entry = view.status(kind, ref.namespace, ref.name);
  if (!entry) return { problem: `no tendril-status entry for ${kind} ${ref.namespace ?? ''}/${ref.name}` };
  return { status: entry.status as Plain };
}

/** A route's status.parents entry written by us for `gateway` (README: gatewayAndRoutesAccepted). */
function ourParent(parents: Plain[], gateway: Ref, routeNamespace: string | undefined, kind = 'Gateway'): Plain | undefined {
  return parents.find((p) => {
    const ref = p['parentRef'] ?? {};
    if (p['controllerName'] !== CONTROLLER_NAME || ref['group'] !== GROUP || ref['kind'] !== kind || ref['name'] !== gateway.name) return false;
    return ref['namespace'] === gateway.namespace || (ref['namespace'] === undefined && routeNamespace === gateway.namespace);
  });
}

function gatewayReady(view: StatusView, gateway: Ref, checkListeners: boolean): string | undefined {
  const { status, problem } = statusOf(view, 'Gateway', gateway);
  if (problem) return problem;
  const stale = currentConditions(view, 'Gateway', gateway, status!['conditions']);
  if (stale) return stale;
  if (!(status!['addresses'] ?? []).some((a: Plain) => a['type'])) return `Gateway ${gateway.name}: status.addresses has no typed entry (${JSON.stringify(status!['addresses'] ?? [])})`;
  if (checkListeners) {
    for (const listener of status!['listeners'] ?? []) {
      for (const type of ['ResolvedRefs', 'Accepted', 'Programmed']) {
        if (!hasCondition(listener['conditions'], { type, status: 'True', reason: null })) return `Gateway ${gateway.name} listener ${listener['name']}: ${type} is not True (${show(listener['conditions'])})`;
      }
    }
  }
  return undefined;
}

export function evaluateStatus(view: StatusView, check: Check, test: { gateway: Ref | null }): string | undefined {
  const c = check as Plain;
  switch (check.check) {
    case 'gatewayAndRoutesAccepted':
    case 'gatewayAddress': {
      const gateway = (c['gateway'] ?? test.gateway) as Ref;
      const ready = gatewayReady(view, gateway, c['checksListenerConditions'] === true);
      if (ready) return ready;
      const routeKind = String(c['routeKind'] ?? 'HTTPRoute');
      for (const route of (c['routes'] ?? []) as Ref[]) {
        const { status, problem } = statusOf(view, routeKind, route);
        if (problem) return problem;
        const parent = ourParent(status!['parents'] ?? [], gateway, route.namespace ?? undefined);
        if (!parent) return `${routeKind} ${route.namespace}/${route.name}: no status.parents entry of ${CONTROLLER_NAME} for Gateway ${gateway.namespace}/${gateway.name} with group and kind set (parents: ${JSON.stringify((status!['parents'] ?? []).map((p: Plain) => p['parentRef']))})`;
        if (!hasCondition(parent['conditions'], { type: 'Accepted', status: 'True', reason: 'Accepted' })) return `${routeKind} ${route.namespace}/${route.name} parent ${gateway.name}: Accepted=True(Accepted) missing (${show(parent['conditions'])})`;
      }
      return undefined;
    }
    case 'condition': {
      const kind = String(c['kind']);
      const ref = { namespace: c['namespace'] as string | null, name: String(c['name']) };
      const { status, problem } = statusOf(view, kind, ref);
      if (problem) return problem;
      const expected = { type: c['type'], status: c['status'], reason: c['reason'] } as ConditionExpectation;
      if (['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute'].includes(kind)) {
        const parentRef = c['parentRef'] as Ref;
        const parents = ((status!['parents'] ?? []) as Plain[]).filter((p) => p['parentRef']?.['name'] === parentRef.name && (p['parentRef']?.['namespace'] === undefined || p['parentRef']?.['namespace'] === parentRef.namespace));
        if (!parents.length) return `${kind} ${ref.namespace}/${ref.name}: no parent ${parentRef.name} in status.parents (${JSON.stringify((status!['parents'] ?? []).map((p: Plain) => p['parentRef']))})`;
        for (const parent of status!['parents'] as Plain[]) {
          const stale = currentConditions(view, kind, ref, parent['conditions']);
          if (stale) return stale;
        }
        return parents.some((p) => hasCondition(p['conditions'], expected)) ? undefined : `${kind} ${ref.namespace}/${ref.name} parent ${parentRef.name}: expected ${expected.type}=${expected.status}(${expected.reason}), got ${parents.map((p) => show(p['conditions'])).join(' | ')}`;
      }
      if (kind === 'BackendTLSPolicy') {
        // a policy's conditions are per ancestor: the entry whose ancestorRef is the parentRef's Gateway
        const parentRef = c['parentRef'] as Ref;
        const ancestors = ((status!['ancestors'] ?? []) as Plain[]).filter((a) => a['controllerName'] === CONTROLLER_NAME && a['ancestorRef']?.['name'] === parentRef.name && (a['ancestorRef']?.['namespace'] ?? ref.namespace) === parentRef.namespace);
        if (!ancestors.length) return `${kind} ${ref.namespace}/${ref.name}: no ancestor ${parentRef.namespace}/${parentRef.name} of ${CONTROLLER_NAME} in status.ancestors (${JSON.stringify((status!['ancestors'] ?? []).map((a: Plain) => a['ancestorRef']))})`;
        for (const ancestor of ancestors) {
          const stale = currentConditions(view, kind, ref, ancestor['conditions']);
          if (stale) return stale;
        }
        return ancestors.some((a) => hasCondition(a['conditions'], expected)) ? undefined : `${kind} ${ref.namespace}/${ref.name} ancestor ${parentRef.name}: expected ${expected.type}=${expected.status}(${expected.reason}), got ${ancestors.map((a) => show(a['conditions'])).join(' | ')}`;
      }
      const stale = currentConditions(view, kind, ref, status!['conditions']);
      if (stale) return stale;
      return hasCondition(status!['conditions'], expected) ? undefined : `${kind} ${ref.namespace ?? ''}/${ref.name}: expected ${expected.type}=${expected.status}(${expected.reason}), got ${show(status!['conditions'])}`;
    }
    case 'routeParents': {
      const route = { namespace: c['namespace'] as string, name: String(c['name']) };
      const kind = String(c['kind'] ?? 'HTTPRoute');
      const { status, problem } = statusOf(view, kind, route);
      if (problem) return problem;
      for (const expected of (c['parents'] ?? []) as Plain[]) {
        const want = expected['parentRef'] ?? {};
        const found = ((status!['parents'] ?? []) as Plain[]).find((p) => {
          const ref = p['parentRef'] ?? {};
          if (p['controllerName'] !== CONTROLLER_NAME || ref['group'] !== (want['group'] ?? GROUP) || ref['kind'] !== (want['kind'] ?? 'Gateway') || ref['name'] !== want['name']) return false;
          if (c['namespaceRequired']) return ref['namespace'] === want['namespace'];
          return ref['namespace'] === want['namespace'] || (ref['namespace'] === undefined && route.namespace === want['namespace']);
        });
        if (!found) return `${kind} ${route.name}: no parent matching ${JSON.stringify(want)} (${JSON.stringify((status!['parents'] ?? []).map((p: Plain) => p['parentRef']))})`;
        for (const condition of (expected['conditions'] ?? []) as ConditionExpectation[]) {
          if (!hasCondition(found['conditions'], condition)) return `${kind} ${route.name} parent ${want['name']}: expected ${condition.type}=${condition.status}(${condition.reason}), got ${show(found['conditions'])}`;
        }
      }
      return undefined;
    }
    case 'routeNoAcceptedParents': {
      const kind = String(c['kind'] ?? 'HTTPRoute');
      const route = (c['route'] ?? { namespace: c['namespace'], name: c['name'] }) as Ref;
      if (!view.object(kind, route.namespace, route.name)) return `${kind} ${route.namespace}/${route.name} is not in tendril-objects`;
      const parents = ((view.status(kind, route.namespace, route.name)?.status as Plain | undefined)?.['parents'] ?? []) as Plain[];
      if (parents.length === 0) return undefined;
      if (parents.length === 1 && hasCondition(parents[0]!['conditions'], { type: 'Accepted', status: 'False', reason: null })) return undefined;
      return `${kind} ${route.name}: expected no parents or one with Accepted=False, got ${parents.map((p) => `${p['parentRef']?.['name']}: ${show(p['conditions'])}`).join(' | ')}`;
    }
    case 'gatewayZeroRoutes': {
      const gateway = (c['gateway'] ?? test.gateway) as Ref;
      const { status, problem } = statusOf(view, 'Gateway', gateway);
      if (problem) return problem;
      const listeners = (status!['listeners'] ?? []) as Plain[];
      if (listeners.length === 0 || (listeners.length === 1 && listeners[0]!['attachedRoutes'] === 0)) return undefined;
      return `Gateway ${gateway.name}: expected no listeners or one with attachedRoutes 0, got ${listeners.map((l) => `${l['name']}:${l['attachedRoutes']}`).join(', ')}`;
    }
    case 'gatewayAttachedListenerSets': {
      const gateway = (c['gateway'] ?? test.gateway) as Ref;
      const { status, problem } = statusOf(view, 'Gateway', gateway);
      if (problem) return problem;
      return status!['attachedListenerSets'] === c['count'] ? undefined : `Gateway ${gateway.name}: attachedListenerSets ${status!['attachedListenerSets']}, expected ${c['count']}`;
    }
    case 'routesAndParentAccepted': {
      // the parent (a ListenerSet) Accepted and Programmed, with its listeners' conditions when asked; each route accepted by it
      const parent = c['parent'] as Ref & { kind: string };
      const { status, problem } = statusOf(view, parent.kind, parent);
      if (problem) return problem;
      const stale = currentConditions(view, parent.kind, parent, status!['conditions']);
      if (stale) return stale;
      for (const type of ['Accepted', 'Programmed']) if (!hasCondition(status!['conditions'], { type, status: 'True', reason: null })) return `${parent.kind} ${parent.name}: ${type} is not True (${show(status!['conditions'])})`;
      if (c['checksListenerConditions'] === true) {
        for (const listener of status!['listeners'] ?? []) {
          for (const type of ['ResolvedRefs', 'Accepted', 'Programmed']) if (!hasCondition(listener['conditions'], { type, status: 'True', reason: null })) return `${parent.kind} ${parent.name} listener ${listener['name']}: ${type} is not True (${show(listener['conditions'])})`;
        }
      }
      const routeKind = String(c['routeKind'] ?? 'HTTPRoute');
      for (const route of (c['routes'] ?? []) as Ref[]) {
        const routeStatus = statusOf(view, routeKind, route);
        if (routeStatus.problem) return routeStatus.problem;
        const entry = ourParent(routeStatus.status!['parents'] ?? [], parent, route.namespace ?? undefined, parent.kind);
        if (!entry) return `${routeKind} ${route.namespace}/${route.name}: no status.parents entry of ${CONTROLLER_NAME} for ${parent.kind} ${parent.namespace}/${parent.name}`;
        if (!hasCondition(entry['conditions'], { type: 'Accepted', status: 'True', reason: 'Accepted' })) return `${routeKind} ${route.namespace}/${route.name} parent ${parent.name}: Accepted=True(Accepted) missing (${show(entry['conditions'])})`;
      }
      return undefined;
    }
    case 'gatewayListeners':
    case 'listenerSetListeners': {
      const kind = check.check === 'gatewayListeners' ? 'Gateway' : 'ListenerSet';
      const gateway = (check.check === 'gatewayListeners' ? (c['gateway'] ?? test.gateway) : c['listenerSet']) as Ref;
      const { status, problem } = statusOf(view, kind, gateway);
      if (problem) return problem;
      const actual = (status!['listeners'] ?? []) as Plain[];
      const expected = (c['listeners'] ?? []) as Plain[];
      if (actual.length !== expected.length) return `${kind} ${gateway.name}: ${actual.length} listeners in status (${actual.map((l) => l['name']).join(', ')}), expected ${expected.length}`;
      for (const want of expected) {
        const got = actual.find((l) => l['name'] === want['name']);
        if (!got) return `${kind} ${gateway.name}: listener ${want['name']} missing from status`;
        if (want['attachedRoutes'] !== undefined && got['attachedRoutes'] !== want['attachedRoutes']) return `${kind} ${gateway.name} listener ${want['name']}: attachedRoutes ${got['attachedRoutes']}, expected ${want['attachedRoutes']}`;
        for (const condition of (want['conditions'] ?? []) as ConditionExpectation[]) {
          if (!hasCondition(got['conditions'], condition)) return `${kind} ${gateway.name} listener ${want['name']}: expected ${condition.type}=${condition.status}(${condition.reason}), got ${show(got['conditions'])}`;
        }
        const kinds = (want['supportedKinds'] ?? undefined) as Plain[] | undefined;
        if (kinds) {
          const gotKinds = (got['supportedKinds'] ?? []) as Plain[];
          if (kinds.length === 0 && gotKinds.length) return `${kind} ${gateway.name} listener ${want['name']}: supportedKinds must be empty, got ${gotKinds.map((k) => k['kind']).join(', ')}`;
          for (const kind of kinds) {
            if (!gotKinds.some((k) => k['kind'] === kind['kind'] && (k['group'] ?? GROUP) === (kind['group'] ?? GROUP))) return `${kind} ${gateway.name} listener ${want['name']}: supportedKinds lacks ${kind['kind']} (got ${gotKinds.map((k) => k['kind']).join(', ') || 'none'})`;
          }
        }
      }
      return undefined;
    }
    case 'listenerConditions': {
      const gateway = { namespace: c['namespace'] as string, name: String(c['name']) };
      const kind = String(c['kind'] ?? 'Gateway');
      const { status, problem } = statusOf(view, kind, gateway);
      if (problem) return problem;
      const listener = ((status!['listeners'] ?? []) as Plain[]).find((l) => l['name'] === c['listener']);
      if (!listener) return `${kind} ${gateway.name}: listener ${c['listener']} missing from status`;
      for (const condition of (c['conditions'] ?? []) as ConditionExpectation[]) {
        if (!hasCondition(listener['conditions'], condition)) return `${kind} ${gateway.name} listener ${c['listener']}: expected ${condition.type}=${condition.status}(${condition.reason}), got ${show(listener['conditions'])}`;
      }
      return undefined;
    }
    case 'statusAddresses': {
      const gateway = c['gateway'] as Ref;
      const { status, problem } = statusOf(view, 'Gateway', gateway);
      if (problem) return problem;
      const addresses = (status!['addresses'] ?? []) as Plain[];
      if (addresses.length !== c['eventuallyCount']) return `Gateway ${gateway.name}: ${addresses.length} status.addresses, expected ${c['eventuallyCount']} (${JSON.stringify(addresses)})`;
      const usable = USABLE_ADDRESSES[0]!;
      if (!addresses.some((a) => a['value'] === usable.value && a['type'] === usable.type)) return `Gateway ${gateway.name}: status.addresses lacks the usable ${usable.type} ${usable.value} (${JSON.stringify(addresses)})`;
      if (addresses.some((a) => UNUSABLE_ADDRESSES.some((u) => u.value === a['value']))) return `Gateway ${gateway.name}: status.addresses holds the unusable address`;
      return undefined;
    }
    case 'latestObservedGeneration': {
      const kind = String(c['kind']);
      const ref = { namespace: c['namespace'] as string | null, name: String(c['name']) };
      const { status, problem } = statusOf(view, kind, ref);
      if (problem) return problem;
      return currentConditions(view, kind, ref, status!['conditions']);
    }
    case 'namespacesReady':
      return undefined; // evaluated by the harness over every Gateway of the namespaces
    case 'specAddressesCount': {
      const gateway = c['gateway'] as Ref;
      const count = ((view.object('Gateway', gateway.namespace, gateway.name) as Plain | undefined)?.['spec']?.['addresses'] ?? []).length;
      return count === c['count'] ? undefined : `Gateway ${gateway.name}: spec.addresses has ${count} entries, expected ${c['count']}`;
    }
    case 'infrastructurePropagation': {
      // the objects a Gateway's infrastructure is made of: Tendril makes a Service (no Pod, no ServiceAccount)
      const [labelKey, labelValue] = String(c['labelSelector']).split('=');
      const found = ((c['resourceKinds'] ?? []) as string[]).flatMap((kind) => {
        const first = view.objectsOf(kind, String(c['namespace'])).find((object) => object.metadata.labels?.[labelKey!] === labelValue);
        return first ? [{ kind, object: first }] : [];
      });
      if (found.length === 0) return `no ${(c['resourceKinds'] as string[]).join(', ')} in ${c['namespace']} carries ${c['labelSelector']}`;
      for (const { kind, object } of found) {
        const subset = (actual: Record<string, string> | undefined, wanted: Record<string, string>) => Object.entries(wanted).filter(([key, value]) => actual?.[key] !== value).map(([key, value]) => `${key}=${value}`);
        const labels = subset(object.metadata.labels, c['expectedLabelsSubset'] ?? {});
        const annotations = subset(object.metadata.annotations, c['expectedAnnotationsSubset'] ?? {});
        if (labels.length || annotations.length) return `${kind} ${object.metadata.namespace}/${object.metadata.name} lacks ${[...labels.map((l) => `label ${l}`), ...annotations.map((a) => `annotation ${a}`)].join(', ')}`;
      }
      return undefined;
    }
    default:
      return `check ${check.check} is not evaluated by this harness`;
  }
}

/** namespacesReady: every Gateway of the namespaces (but the skip-annotated) Accepted and Programmed at its generation. */
export function namespacesReady(view: StatusView, gateways: { namespace: string; name: string; annotations?: Record<string, string> }[], namespaces: string[]): string | undefined {
  for (const gateway of gateways) {
    if (!namespaces.includes(gateway.namespace) || gateway.annotations?.['gateway-api/skip-this-for-readiness'] === 'true') continue;
    const { status, problem } = statusOf(view, 'Gateway', gateway);
    if (problem) return problem;
    for (const type of ['Accepted', 'Programmed']) {
      if (!hasCondition(status!['conditions'], { type, status: 'True', reason: null })) return `Gateway ${gateway.namespace}/${gateway.name}: ${type} is not True (${show(status!['conditions'])})`;
    }
    const stale = currentConditions(view, 'Gateway', gateway, status!['conditions']);
    if (stale) return stale;
  }
  return undefined;
}
