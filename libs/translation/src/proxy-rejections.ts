/**
 * Envoy NACKs in objects' statuses (Cilium only logs them). The xds-server records, per proxy and
 * type, which resources a NACK rejected and Envoy's message; this maps those names back to the
 * objects that generated the resources, through the IR's sources, and overlays the desired statuses:
 *
 * - an object owns a resource it is the source of, and is affected by a rejected resource it owns or
 *   refers to (a listener -> its route configuration and TLS secrets; a route configuration or TCP
 *   listener -> its clusters; a cluster -> its endpoints): Envoy does not run the new version of any;
 * - Gateway: condition Programmed=False, reason Invalid;
 * - HTTPRoute, GRPCRoute, TLSRoute: in each parent entry of our controller, condition Programmed=False,
 *   reason RejectedByProxy, when the route is affected itself (its rules, known by their names, use a
 *   rejected cluster or sit in a rejected route configuration) or its parent Gateway owns a rejected
 *   listener, route configuration or secret (Envoy rejects a route configuration as a whole, so no
 *   route of it is programmed);
 * - CiliumEnvoyConfig, CiliumClusterwideEnvoyConfig: the rejected resources move to the refused list;
 * - anything else (Ingress has no conditions): returned as a note, for the log.
 *
 * The message reads `rejected by N proxies: <Envoy's message> (<type> <name>)`. Pure and deterministic.
 */
import { objectKey, parseObjectKey, type ObjectKind, type XdsType } from '@tendril/contract';
import type { MeshIR, SourceObject } from '@tendril/model';
import { withRefusedResources } from './envoy-config/status.js';
import { KIND_NAMES } from './objects.js';
import { compare } from './problems.js';
import type { StatusOutput } from './translate.js';

/** One proxy's rejection of one resource. */
export interface ProxyRejection {
  type: XdsType;
  name: string;
  nodeId: string;
  error: string;
}

export interface RejectionNote {
  /** The object's `tendril-objects` key. */
  key: string;
  message: string;
}

/** Reason of the Programmed=False condition set in a route's parent entries. */
export const REJECTED_BY_PROXY_REASON = 'RejectedByProxy';
export const DEFAULT_GATEWAY_CONTROLLER = 'io.cilium/gateway-controller';

const ROUTE_KINDS = new Set(['HTTPRoute', 'GRPCRoute', 'TLSRoute']);
const ENVOY_CONFIG_KINDS = new Set(['CiliumEnvoyConfig', 'CiliumClusterwideEnvoyConfig', 'CiliumClusterEnvoyConfig']);
const KIND_KEYS = new Map(Object.entries(KIND_NAMES).map(([kind, name]) => [name, kind as ObjectKind]));

const resourceId = (type: string, name: string) => `${type} ${name}`;

/** The object key of an IR source, or undefined for a kind with no key. */
export function sourceKey(cluster: string, source: SourceObject): string | undefined {
  const kind = KIND_KEYS.get(source.kind);
  if (kind === undefined) return undefined;
  return objectKey({ cluster, kind, name: source.name, ...(source.namespace === undefined ? {} : { namespace: source.namespace }) });
}

interface Owners {
  /** `<type> <name>` -> keys of the objects that are its source. */
  direct: Map<string, Set<string>>;
  /** `<type> <name>` -> keys of the objects whose resources refer to it, directly or through others. */
  referrers: Map<string, Set<string>>;
}

/** Who generated each resource of a translation, and whose resources refer to it. */
export function resourceOwners(ir: MeshIR, cluster: string): Owners {
  const direct = new Map<string, Set<string>>();
  /** resource -> the resources naming it (endpoint -> cluster -> route -> listener). */
  const referredBy = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, id: string, value: string | undefined) => {
    if (value === undefined) return;
    let set = map.get(id);
    if (!set) map.set(id, (set = new Set()));
    set.add(value);
  };
  const own = (type: XdsType, name: string, source: SourceObject) => add(direct, resourceId(type, name), sourceKey(cluster, source));
  for (const listener of ir.listeners) {
    const id = resourceId('listener', listener.name);
    own('listener', listener.name, listener.source);
    for (const chain of listener.filterChains) {
      for (const secret of chain.tls?.secretNames ?? []) add(referredBy, resourceId('secret', secret), id);
      if (chain.tls?.clientValidation) add(referredBy, resourceId('secret', chain.tls.clientValidation.secretName), id);
      if (chain.action.kind === 'http') add(referredBy, resourceId('route', chain.action.routeName), id);
      else for (const backend of chain.action.backends) add(referredBy, resourceId('cluster', backend.clusterName), id);
    }
  }
  for (const route of ir.routes) {
    const id = resourceId('route', route.name);
    own('route', route.name, route.source);
    for (const host of route.virtualHosts) {
      for (const rule of host.routes) {
        // A Gateway API rule names its route object: that route is affected by what its rules use.
        const ruleOwner = routeRuleOwner(cluster, rule.name);
        const ruleId = `rule ${rule.name}`;
        if (ruleOwner !== undefined) {
          add(direct, ruleId, ruleOwner);
          add(referredBy, id, ruleId);
        }
        if (rule.action.kind !== 'forward') continue;
        const clusters = [...rule.action.backends.map((backend) => backend.clusterName), ...(rule.action.mirrors ?? []).map((mirror) => mirror.clusterName)];
        for (const name of clusters) {
          add(referredBy, resourceId('cluster', name), id);
          if (ruleOwner !== undefined) add(referredBy, resourceId('cluster', name), ruleId);
        }
      }
    }
  }
  for (const item of ir.clusters) {
    own('cluster', item.name, item.source);
    add(referredBy, resourceId('endpoint', item.name), resourceId('cluster', item.name));
  }
  for (const group of ir.endpoints) own('endpoint', group.clusterName, group.source);
  for (const secret of ir.secrets) own('secret', secret.name, secret.source);
  for (const resource of ir.envoyConfigs) add(direct, resourceId(resource.type, resource.name), resource.objectKey ?? sourceKey(cluster, resource.source));

  const referrers = new Map<string, Set<string>>();
  for (const id of referredBy.keys()) {
    const seen = new Set<string>();
    const queue = [...(referredBy.get(id) ?? [])];
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (seen.has(next)) continue;
      seen.add(next);
      for (const key of direct.get(next) ?? []) add(referrers, id, key);
      queue.push(...(referredBy.get(next) ?? []));
    }
  }
  return { direct, referrers };
}

/** The route object a Gateway API rule comes from, by its name (names.ts gatewayRuleName: `<namespace>/<Kind>/<route>/<field>`). */
function routeRuleOwner(cluster: string, ruleName: string): string | undefined {
  const [namespace, kind, name] = ruleName.split('/');
  if (namespace === undefined || name === undefined || kind === undefined || !ROUTE_KINDS.has(kind)) return undefined;
  return sourceKey(cluster, { kind, namespace, name });
}

interface Finding {
  id: string;
  nodes: Set<string>;
  /** Envoy's messages, first by node id. */
  errors: string[];
  owned: boolean;
}

export interface OverlayOptions {
  cluster: string;
  /** Parent entries of this controller get the route condition. */
  controllerName?: string;
}

/**
 * The statuses with the proxies' rejections overlaid, and notes for the objects whose status has no
 * place for them. Rejections of resources no object generated are left out.
 */
export function withProxyRejections(statuses: StatusOutput[], ir: MeshIR, rejections: ProxyRejection[], options: OverlayOptions): { statuses: StatusOutput[]; notes: RejectionNote[] } {
  if (rejections.length === 0) return { statuses, notes: [] };
  const controllerName = options.controllerName ?? DEFAULT_GATEWAY_CONTROLLER;
  const owners = resourceOwners(ir, options.cluster);
  const byResource = new Map<string, ProxyRejection[]>();
  for (const rejection of rejections) {
    const id = resourceId(rejection.type, rejection.name);
    byResource.set(id, [...(byResource.get(id) ?? []), rejection]);
  }
  // object key -> what of it was rejected
  const findings = new Map<string, Map<string, Finding>>();
  const note = (key: string, id: string, list: ProxyRejection[], owned: boolean) => {
    let perObject = findings.get(key);
    if (!perObject) findings.set(key, (perObject = new Map()));
    const finding = perObject.get(id) ?? { id, nodes: new Set(), errors: [], owned };
    finding.owned ||= owned;
    for (const rejection of [...list].sort((a, b) => compare(a.nodeId, b.nodeId))) {
      finding.nodes.add(rejection.nodeId);
      if (!finding.errors.includes(rejection.error)) finding.errors.push(rejection.error);
    }
    perObject.set(id, finding);
  };
  for (const [id, list] of byResource) {
    for (const key of owners.direct.get(id) ?? []) note(key, id, list, true);
    for (const key of owners.referrers.get(id) ?? []) note(key, id, list, false);
  }
  if (findings.size === 0) return { statuses, notes: [] };

  const notes: RejectionNote[] = [];
  const out = statuses.map((entry) => {
    const { status } = entry;
    if (ROUTE_KINDS.has(status.kind)) {
      const list = routeFindings(entry, findings);
      return list.length === 0 ? entry : { key: entry.key, status: { ...status, status: withRouteCondition(status.status, controllerName, message(list)) } };
    }
    const found = findings.get(entry.key);
    if (!found) return entry;
    const list = sortedFindings(found);
    if (status.kind === 'Gateway') return { key: entry.key, status: { ...status, status: withProgrammedFalse(status.status, 'Invalid', message(list), status.observedGeneration) } };
    if (ENVOY_CONFIG_KINDS.has(status.kind)) {
      const own = list.filter((finding) => finding.owned);
      if (own.length === 0) return entry;
      return { key: entry.key, status: withRefusedResources(status, own.map((finding) => ({ ...splitId(finding.id), reason: message([finding], false) }))) };
    }
    notes.push({ key: entry.key, message: message(list) });
    return entry;
  });
  // Objects without a status entry (a Service behind a cluster) are noted too.
  const withStatus = new Set(statuses.map((entry) => entry.key));
  for (const [key, found] of [...findings].sort(([a], [b]) => compare(a, b))) if (!withStatus.has(key)) notes.push({ key, message: message(sortedFindings(found)) });
  return { statuses: out, notes: notes.sort((a, b) => compare(a.key, b.key)) };
}

function sortedFindings(found: Map<string, Finding>): Finding[] {
  return [...found.values()].sort((a, b) => Number(b.owned) - Number(a.owned) || compare(a.id, b.id));
}

function splitId(id: string): { type: string; name: string } {
  const space = id.indexOf(' ');
  return { type: id.slice(0, space), name: id.slice(space + 1) };
}

/** `rejected by 2 proxies: <first message> (listener a, cluster b)`. */
function message(list: Finding[], naming = true): string {
  const nodes = new Set(list.flatMap((finding) => [...finding.nodes]));
  const errors = [...new Set(list.flatMap((finding) => finding.errors))];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} other message${errors.length > 2 ? 's' : ''})` : '';
  const which = naming ? ` (${list.map((finding) => finding.id).join(', ')})` : '';
  return `rejected by ${nodes.size} ${nodes.size === 1 ? 'proxy' : 'proxies'}: ${errors[0]}${more}${which}`;
}

/** What affects a route: its own findings, and those its parent Gateways own directly (not by reference). */
function routeFindings(entry: StatusOutput, findings: Map<string, Map<string, Finding>>): Finding[] {
  const list = new Map<string, Finding>();
  for (const finding of findings.get(entry.key)?.values() ?? []) list.set(finding.id, finding);
  const cluster = parseObjectKey(entry.key).cluster;
  for (const parent of parentsOf(entry.status.status)) {
    const ref = (parent['parentRef'] ?? {}) as { group?: unknown; kind?: unknown; namespace?: unknown; name?: unknown };
    if ((ref.kind ?? 'Gateway') !== 'Gateway' || typeof ref.name !== 'string') continue;
    const namespace = typeof ref.namespace === 'string' ? ref.namespace : entry.status.namespace;
    if (namespace === undefined) continue;
    const gateway = objectKey({ cluster, kind: 'gateway', namespace, name: ref.name });
    for (const finding of findings.get(gateway)?.values() ?? []) if (finding.owned && !list.has(finding.id)) list.set(finding.id, finding);
  }
  return sortedFindings(list);
}

function parentsOf(status: Record<string, unknown>): Record<string, unknown>[] {
  const parents = status['parents'];
  return Array.isArray(parents) ? parents.filter((parent): parent is Record<string, unknown> => typeof parent === 'object' && parent !== null) : [];
}

type Condition = Record<string, unknown> & { type?: unknown };

/** The conditions with Programmed replaced (or added) as False. */
function programmedFalse(conditions: unknown, reason: string, text: string, generation: number | undefined): Condition[] {
  const list = Array.isArray(conditions) ? (conditions as Condition[]) : [];
  const previous = list.find((condition) => condition.type === 'Programmed');
  const observed = previous?.['observedGeneration'] ?? list.find((condition) => condition['observedGeneration'] !== undefined)?.['observedGeneration'] ?? generation;
  const replaced: Condition = { type: 'Programmed', status: 'False', reason, message: text };
  if (observed !== undefined) replaced['observedGeneration'] = observed;
  return previous ? list.map((condition) => (condition === previous ? replaced : condition)) : [...list, replaced];
}

function withProgrammedFalse(status: Record<string, unknown>, reason: string, text: string, generation: number | undefined): Record<string, unknown> {
  return { ...status, conditions: programmedFalse(status['conditions'], reason, text, generation) };
}

function withRouteCondition(status: Record<string, unknown>, controllerName: string, text: string): Record<string, unknown> {
  const parents = status['parents'];
  if (!Array.isArray(parents)) return status;
  return {
    ...status,
    parents: parents.map((parent: Record<string, unknown>) =>
      parent['controllerName'] === controllerName ? { ...parent, conditions: programmedFalse(parent['conditions'], REJECTED_BY_PROXY_REASON, text, undefined) } : parent,
    ),
  };
}
