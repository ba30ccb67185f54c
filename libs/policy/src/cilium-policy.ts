/**
 * CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2), their L3/L4 parts, with
 * Cilium's semantics: a rule with ingress (or ingressDeny) sections puts its endpoints' ingress under
 * enforcement (likewise egress) unless enableDefaultDeny says otherwise; peers within one rule are
 * alternatives; deny rules win over allow rules. What Tendril cannot enforce yet (L7 rules, toFQDNs,
 * toServices, groups, unknown entities...) makes the direction fail closed for the selected endpoints.
 */
import { parsePrefix } from './cidr.js';
import { POD_NAMESPACE_LABEL, RESERVED_IDENTITIES, type ReservedName } from './labels.js';
import { parseCidrPeer } from './network-policy.js';
import type { PortRange, Protocol } from './ports.js';
import type { Direction, Enforcement, NamedPort, ParsedPolicy, Peer, PolicyProblem, PolicyRule, Verdict } from './rules.js';
import { parseSelector, selectorMentions, withRequirement, type Selector, type SelectorProblem } from './selector.js';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const ENTITIES = new Set<string>([...Object.keys(RESERVED_IDENTITIES), 'cluster', 'all', 'world-ipv4', 'world-ipv6', 'none']);

/** Fields of a rule section Tendril does not enforce yet: their presence fails the direction closed. */
const NOT_ENFORCED: Record<string, string> = {
  fromRequires: 'fromRequires is not enforced',
  toRequires: 'toRequires is not enforced',
  fromGroups: 'fromGroups (cloud provider groups) is not enforced',
  toGroups: 'toGroups (cloud provider groups) is not enforced',
  fromNodes: 'fromNodes is not enforced',
  toNodes: 'toNodes is not enforced',
  toFQDNs: 'toFQDNs (DNS-based policy) is not enforced',
  toServices: 'toServices is not enforced yet',
  icmps: 'ICMP rules are not enforced',
  authentication: 'mutual authentication is not enforced yet',
};
const PEER_FIELDS = { ingress: ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities'], egress: ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities'] } as const;

interface Context {
  source: string;
  /** undefined for the cluster-wide kind */
  namespace?: string;
  problems: PolicyProblem[];
  failClosed: Map<Direction, string[]>;
}

function failClose(context: Context, direction: Direction, field: string, message: string): void {
  context.problems.push({ field, message, effect: 'fail-closed' });
  const reasons = context.failClosed.get(direction) ?? [];
  reasons.push(`${field}: ${message}`);
  context.failClosed.set(direction, reasons);
}

function refuse(context: Context, direction: Direction, field: string, message: string): void {
  context.problems.push({ field, message, effect: 'refused' });
  const reasons = context.failClosed.get(direction) ?? [];
  reasons.push(`${field}: ${message}`);
  context.failClosed.set(direction, reasons);
}

function selector(context: Context, direction: Direction, value: unknown, field: string): Selector | undefined {
  const found: SelectorProblem[] = [];
  const parsed = parseSelector(value ?? {}, field, found);
  for (const problem of found) refuse(context, direction, problem.field, problem.message);
  return parsed;
}

/** A CNP peer selector sees only its own namespace unless it names one; the cluster-wide kind sees every namespace. */
function peerSelector(context: Context, parsed: Selector): Selector {
  const reserved = parsed.requirements.some((requirement) => requirement.source === 'reserved');
  let out = parsed;
  if (context.namespace !== undefined && !selectorMentions(parsed, POD_NAMESPACE_LABEL)) {
    out = withRequirement(out, { source: 'k8s', key: POD_NAMESPACE_LABEL, operator: 'In', values: [context.namespace] });
  }
  // an empty selector means every workload (not the reserved identities: those are entities)
  if (!reserved) out = withRequirement(out, { source: 'k8s', key: POD_NAMESPACE_LABEL, operator: 'Exists', values: [] });
  return out;
}

function parsePeers(context: Context, direction: Direction, rule: Json, field: string): Peer[] | 'none' | undefined {
  const peers: Peer[] = [];
  let any = false;
  const [endpoints, cidrs, cidrSets, entities] = PEER_FIELDS[direction];
  const list = (name: string): unknown[] | undefined => {
    const value = rule[name];
    if (value === undefined || value === null) return undefined;
    any = true;
    if (Array.isArray(value)) return value;
    refuse(context, direction, `${field}.${name}`, 'must be a list');
    return [];
  };
  list(endpoints)?.forEach((value, index) => {
    const parsed = selector(context, direction, value, `${field}.${endpoints}[${index}]`);
    if (parsed) peers.push({ kind: 'selector', selector: peerSelector(context, parsed) });
  });
  list(cidrs)?.forEach((value, index) => {
    const at = `${field}.${cidrs}[${index}]`;
    const prefix = typeof value === 'string' ? parsePrefix(value) : 'must be an IP prefix';
    if (typeof prefix === 'string') refuse(context, direction, at, prefix);
    else peers.push({ kind: 'cidr', prefix, except: [] });
  });
  list(cidrSets)?.forEach((value, index) => {
    const at = `${field}.${cidrSets}[${index}]`;
    const set = isObject(value) ? value : {};
    if (set['cidrGroupRef'] !== undefined || set['cidrGroupSelector'] !== undefined) {
      failClose(context, direction, at, 'CiliumCIDRGroup references are not enforced');
      return;
    }
    const problems: PolicyProblem[] = [];
    const peer = parseCidrPeer(set['cidr'], set['except'], `${at}.cidr`, `${at}.except`, problems);
    for (const problem of problems) refuse(context, direction, problem.field, problem.message);
    if (peer) peers.push(peer);
  });
  list(entities)?.forEach((value, index) => {
    const at = `${field}.${entities}[${index}]`;
    if (typeof value !== 'string' || !ENTITIES.has(value)) {
      failClose(context, direction, at, `unknown entity ${JSON.stringify(value)}`);
      return;
    }
    if (value === 'none') return;
    const name = value === 'world-ipv4' || value === 'world-ipv6' ? 'world' : value;
    peers.push({ kind: 'entity', name: name as ReservedName | 'cluster' | 'all' });
  });
  return any ? peers : 'none';
}

function parseToPorts(context: Context, direction: Direction, value: unknown, field: string, verdict: Verdict): (PortRange | NamedPort)[] | 'any' | undefined {
  if (value === undefined || value === null) return 'any';
  if (!Array.isArray(value)) {
    refuse(context, direction, field, 'must be a list');
    return undefined;
  }
  const out: (PortRange | NamedPort)[] = [];
  value.forEach((entry: unknown, index) => {
    const at = `${field}[${index}]`;
    const portRule = isObject(entry) ? entry : {};
    for (const name of Object.keys(portRule)) {
      if (name === 'ports') continue;
      if (name === 'rules') {
        if (isObject(portRule['rules']) && Object.keys(portRule['rules']).length === 0) continue;
        failClose(context, direction, `${at}.rules`, verdict === 'deny' ? 'L7 rules may not appear in a deny rule' : 'L7 rules are not enforced yet');
      } else failClose(context, direction, `${at}.${name}`, `${name} is not enforced`);
    }
    const ports = portRule['ports'];
    if (ports === undefined || ports === null) {
      out.push({ protocol: 'ANY', from: 0, to: 65535 });
      return;
    }
    if (!Array.isArray(ports)) {
      refuse(context, direction, `${at}.ports`, 'must be a list');
      return;
    }
    ports.forEach((port: unknown, portIndex) => {
      const portField = `${at}.ports[${portIndex}]`;
      const record = isObject(port) ? port : {};
      const rawProtocol = record['protocol'] ?? 'ANY';
      if (rawProtocol !== 'TCP' && rawProtocol !== 'UDP' && rawProtocol !== 'SCTP' && rawProtocol !== 'ANY') {
        if (rawProtocol === 'ICMP' || rawProtocol === 'ICMPv6') failClose(context, direction, `${portField}.protocol`, `${rawProtocol} is not enforced`);
        else refuse(context, direction, `${portField}.protocol`, `${JSON.stringify(rawProtocol)} is not one of TCP, UDP, SCTP, ANY`);
        return;
      }
      const protocol: Protocol = rawProtocol;
      const raw = record['port'];
      const text = raw === undefined || raw === null ? '0' : String(raw);
      if (!/^\d+$/.test(text)) {
        if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(text) && text.length <= 15) {
          // a named port: a container port of the Pods reached
          for (const each of protocol === 'ANY' ? (['TCP', 'UDP', 'SCTP'] as const) : [protocol]) out.push({ protocol: each, name: text });
        } else refuse(context, direction, `${portField}.port`, `"${text}" is neither a port number nor a port name`);
        return;
      }
      const number = Number(text);
      if (number > 65535) {
        refuse(context, direction, `${portField}.port`, `${text} is not a port (0-65535)`);
        return;
      }
      const endPort = record['endPort'];
      if (endPort !== undefined && endPort !== null && endPort !== 0) {
        if (typeof endPort !== 'number' || !Number.isInteger(endPort) || endPort < number || endPort > 65535 || number === 0) {
          refuse(context, direction, `${portField}.endPort`, `${JSON.stringify(endPort)} must be a port from port (${number}) to 65535`);
          return;
        }
        out.push({ protocol, from: number, to: endPort });
        return;
      }
      out.push(number === 0 ? { protocol, from: 0, to: 65535 } : { protocol, from: number, to: number });
    });
  });
  return out;
}

const KNOWN_RULE_FIELDS = new Set(['toPorts', ...PEER_FIELDS.ingress, ...PEER_FIELDS.egress, ...Object.keys(NOT_ENFORCED)]);

function parseSection(context: Context, subject: Selector, spec: Json, section: string, direction: Direction, verdict: Verdict, field: string, rules: PolicyRule[]): boolean {
  const value = spec[section];
  if (value === undefined || value === null) return false;
  if (!Array.isArray(value)) {
    refuse(context, direction, `${field}.${section}`, 'must be a list');
    return true;
  }
  value.forEach((entry: unknown, index) => {
    const at = `${field}.${section}[${index}]`;
    if (!isObject(entry)) {
      refuse(context, direction, at, 'must be an object');
      return;
    }
    for (const name of Object.keys(entry)) {
      if (NOT_ENFORCED[name] !== undefined) failClose(context, direction, `${at}.${name}`, NOT_ENFORCED[name]!);
      else if (!KNOWN_RULE_FIELDS.has(name) || (PEER_FIELDS[direction === 'ingress' ? 'egress' : 'ingress'] as readonly string[]).includes(name)) {
        failClose(context, direction, `${at}.${name}`, 'unknown field: not enforced');
      }
    }
    const peers = parsePeers(context, direction, entry, at);
    const ports = parseToPorts(context, direction, entry['toPorts'], `${at}.toPorts`, verdict);
    if (!peers || !ports) return;
    // no L3 field at all: a rule with ports applies to every peer; an empty rule ({}) allows nothing
    if (peers === 'none') {
      if (entry['toPorts'] !== undefined && entry['toPorts'] !== null) rules.push({ subject, direction, verdict, peers: 'any', ports, field: at });
      return;
    }
    if (peers.length > 0) rules.push({ subject, direction, verdict, peers, ports, field: at });
  });
  return value.length > 0;
}

function parseRule(context: Context, spec: unknown, field: string, parsed: ParsedPolicy): void {
  if (!isObject(spec)) {
    context.problems.push({ field, message: 'must be an object', effect: 'refused' });
    return;
  }
  if (spec['nodeSelector'] !== undefined) {
    context.problems.push({ field: `${field}.nodeSelector`, message: 'host policies (nodeSelector) are not enforced: the rule applies to no workload', effect: 'not-enforced' });
    return;
  }
  if (spec['endpointSelector'] === undefined) {
    context.problems.push({ field: `${field}.endpointSelector`, message: 'required (or nodeSelector)', effect: 'refused' });
    return;
  }
  const found: SelectorProblem[] = [];
  const endpointSelector = parseSelector(spec['endpointSelector'], `${field}.endpointSelector`, found);
  for (const problem of found) context.problems.push({ ...problem, effect: 'refused' });
  if (!endpointSelector) return;
  let subject = withRequirement(endpointSelector, { source: 'k8s', key: POD_NAMESPACE_LABEL, operator: 'Exists', values: [] });
  if (context.namespace !== undefined) subject = withRequirement(subject, { source: 'k8s', key: POD_NAMESPACE_LABEL, operator: 'In', values: [context.namespace] });

  const known = new Set(['endpointSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'enableDefaultDeny', 'labels', 'description', 'log']);
  for (const name of Object.keys(spec)) if (!known.has(name)) context.problems.push({ field: `${field}.${name}`, message: 'unknown field', effect: 'refused' });

  const rules: PolicyRule[] = [];
  context.failClosed = new Map();
  const ingressAllows = parseSection(context, subject, spec, 'ingress', 'ingress', 'allow', field, rules);
  const ingressDenies = parseSection(context, subject, spec, 'ingressDeny', 'ingress', 'deny', field, rules);
  const egressAllows = parseSection(context, subject, spec, 'egress', 'egress', 'allow', field, rules);
  const egressDenies = parseSection(context, subject, spec, 'egressDeny', 'egress', 'deny', field, rules);
  const ingress = ingressAllows || ingressDenies;
  const egress = egressAllows || egressDenies;
  const defaultDeny = isObject(spec['enableDefaultDeny']) ? spec['enableDefaultDeny'] : {};
  const enforcement: Enforcement[] = [];
  for (const [direction, present] of [['ingress', ingress], ['egress', egress]] as const) {
    const reasons = context.failClosed.get(direction);
    // a direction that cannot be enforced is closed even when the rule would not enable default deny
    if (reasons) enforcement.push({ subject, direction, failClosed: `${context.source} ${reasons.join('; ')}` });
    else if (present && defaultDeny[direction] !== false) enforcement.push({ subject, direction });
  }
  parsed.enforcement.push(...enforcement);
  // rules of a direction that failed closed would allow nothing anyway; their deny rules still count
  parsed.rules.push(...rules.filter((rule) => rule.verdict === 'deny' || !context.failClosed.has(rule.direction)));
}

export function parseCiliumPolicy(object: Json): ParsedPolicy {
  const metadata = isObject(object['metadata']) ? object['metadata'] : {};
  const clusterwide = object['kind'] === 'CiliumClusterwideNetworkPolicy';
  const namespace = clusterwide ? undefined : String(metadata['namespace'] ?? 'default');
  const source = clusterwide ? `CiliumClusterwideNetworkPolicy/${String(metadata['name'])}` : `${namespace}/CiliumNetworkPolicy/${String(metadata['name'])}`;
  const parsed: ParsedPolicy = { source, rules: [], enforcement: [], problems: [] };
  const context: Context = { source, ...(namespace !== undefined ? { namespace } : {}), problems: parsed.problems, failClosed: new Map() };
  const spec = object['spec'];
  const specs = object['specs'];
  if (spec === undefined && specs === undefined) parsed.problems.push({ field: 'spec', message: 'one of spec or specs is required', effect: 'refused' });
  if (spec !== undefined && spec !== null) parseRule(context, spec, 'spec', parsed);
  if (specs !== undefined && specs !== null) {
    if (!Array.isArray(specs)) parsed.problems.push({ field: 'specs', message: 'must be a list', effect: 'refused' });
    else specs.forEach((each: unknown, index) => parseRule(context, each, `specs[${index}]`, parsed));
  }
  return parsed;
}
