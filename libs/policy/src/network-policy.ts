/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1): a Pod selected by a policy of a given type is
 * isolated in that direction (default deny); the union of all rules selecting it is what it may do.
 */
import { parsePrefix, prefixContains, type Prefix } from './cidr.js';
import { NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_LABEL } from './labels.js';
import type { PortRange } from './ports.js';
import type { Direction, NamedPort, ParsedPolicy, Peer, PolicyProblem, PolicyRule } from './rules.js';
import { parseSelector, withRequirement, type Selector, type SelectorProblem } from './selector.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function inNamespace(selector: Selector, namespace: string): Selector {
  return withRequirement(selector, { source: 'k8s', key: POD_NAMESPACE_LABEL, operator: 'In', values: [namespace] });
}

/** Only workloads (they carry their namespace label), never reserved or CIDR identities. */
function workloadsOnly(selector: Selector): Selector {
  return withRequirement(selector, { source: 'k8s', key: POD_NAMESPACE_LABEL, operator: 'Exists', values: [] });
}

/** Parses `cidr` and `except` of an ipBlock (or a Cilium CIDR set), each problem naming its field. */
export function parseCidrPeer(cidr: unknown, except: unknown, field: string, exceptField: string, problems: PolicyProblem[]): Peer | undefined {
  if (typeof cidr !== 'string') {
    problems.push({ field, message: 'required: an IP prefix such as 198.18.0.0/16', effect: 'refused' });
    return undefined;
  }
  const prefix = parsePrefix(cidr);
  if (typeof prefix === 'string') {
    problems.push({ field, message: prefix, effect: 'refused' });
    return undefined;
  }
  const excepted: Prefix[] = [];
  if (except !== undefined && except !== null) {
    if (!Array.isArray(except)) {
      problems.push({ field: exceptField, message: 'must be a list of IP prefixes', effect: 'refused' });
      return undefined;
    }
    let bad = false;
    except.forEach((item: unknown, index) => {
      const at = `${exceptField}[${index}]`;
      const parsed = typeof item === 'string' ? parsePrefix(item) : 'must be an IP prefix';
      if (typeof parsed === 'string') {
        problems.push({ field: at, message: parsed, effect: 'refused' });
        bad = true;
      } else if (!prefixContains(prefix, parsed)) {
        problems.push({ field: at, message: `${parsed.text} is not within ${prefix.text}`, effect: 'refused' });
        bad = true;
      } else excepted.push(parsed);
    });
    if (bad) return undefined;
  }
  return { kind: 'cidr', prefix, except: excepted };
}

function parsePorts(value: unknown, field: string, problems: PolicyProblem[]): (PortRange | NamedPort)[] | 'any' | undefined {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return 'any';
  if (!Array.isArray(value)) {
    problems.push({ field, message: 'must be a list', effect: 'refused' });
    return undefined;
  }
  const out: (PortRange | NamedPort)[] = [];
  let bad = false;
  value.forEach((entry: unknown, index) => {
    const at = `${field}[${index}]`;
    if (!isObject(entry)) {
      problems.push({ field: at, message: 'must be an object with protocol, port and endPort', effect: 'refused' });
      bad = true;
      return;
    }
    const protocol = entry['protocol'] ?? 'TCP';
    if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
      problems.push({ field: `${at}.protocol`, message: `${JSON.stringify(protocol)} is not one of TCP, UDP, SCTP`, effect: 'refused' });
      bad = true;
      return;
    }
    const port = entry['port'];
    const endPort = entry['endPort'];
    if (port === undefined || port === null) {
      if (endPort !== undefined) {
        problems.push({ field: `${at}.endPort`, message: 'may only be set with a numeric port', effect: 'refused' });
        bad = true;
        return;
      }
      out.push({ protocol, from: 0, to: 65535 });
      return;
    }
    if (typeof port === 'string' && !/^\d+$/.test(port)) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port) || port.length > 15) {
        problems.push({ field: `${at}.port`, message: `"${port}" is neither a port number nor a port name (IANA_SVC_NAME)`, effect: 'refused' });
        bad = true;
      } else if (endPort !== undefined) {
        problems.push({ field: `${at}.endPort`, message: 'may only be set with a numeric port', effect: 'refused' });
        bad = true;
      } else out.push({ protocol, name: port });
      return;
    }
    const number = Number(port);
    if (!Number.isInteger(number) || number < 1 || number > 65535) {
      problems.push({ field: `${at}.port`, message: `${JSON.stringify(port)} is not a port (1-65535)`, effect: 'refused' });
      bad = true;
      return;
    }
    if (endPort === undefined || endPort === null) {
      out.push({ protocol, from: number, to: number });
      return;
    }
    if (typeof endPort !== 'number' || !Number.isInteger(endPort) || endPort < number || endPort > 65535) {
      problems.push({ field: `${at}.endPort`, message: `${JSON.stringify(endPort)} must be a port from port (${number}) to 65535`, effect: 'refused' });
      bad = true;
      return;
    }
    out.push({ protocol, from: number, to: endPort });
  });
  return bad ? undefined : out;
}

function selectorOrRefuse(value: unknown, field: string, problems: PolicyProblem[], keyPrefix = ''): Selector | undefined {
  const found: SelectorProblem[] = [];
  const selector = parseSelector(value, field, found, keyPrefix);
  for (const problem of found) problems.push({ ...problem, effect: 'refused' });
  return selector;
}

function parsePeers(value: unknown, field: string, namespace: string, problems: PolicyProblem[]): Peer[] | 'any' | undefined {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return 'any';
  if (!Array.isArray(value)) {
    problems.push({ field, message: 'must be a list', effect: 'refused' });
    return undefined;
  }
  const peers: Peer[] = [];
  let bad = false;
  value.forEach((entry: unknown, index) => {
    const at = `${field}[${index}]`;
    if (!isObject(entry)) {
      problems.push({ field: at, message: 'must be an object (podSelector, namespaceSelector or ipBlock)', effect: 'refused' });
      bad = true;
      return;
    }
    const { podSelector, namespaceSelector, ipBlock } = entry;
    if (ipBlock !== undefined) {
      if (podSelector !== undefined || namespaceSelector !== undefined) {
        problems.push({ field: `${at}.ipBlock`, message: 'may not be combined with podSelector or namespaceSelector', effect: 'refused' });
        bad = true;
        return;
      }
      const block = isObject(ipBlock) ? ipBlock : {};
      const peer = parseCidrPeer(block['cidr'], block['except'], `${at}.ipBlock.cidr`, `${at}.ipBlock.except`, problems);
      if (peer) peers.push(peer);
      else bad = true;
      return;
    }
    if (podSelector === undefined && namespaceSelector === undefined) {
      problems.push({ field: at, message: 'one of podSelector, namespaceSelector or ipBlock is required', effect: 'refused' });
      bad = true;
      return;
    }
    const pods = selectorOrRefuse(podSelector, `${at}.podSelector`, problems);
    // the namespace selector looks at the namespace's labels, which an identity carries under a prefix
    const namespaces = namespaceSelector === undefined ? undefined : selectorOrRefuse(namespaceSelector, `${at}.namespaceSelector`, problems, NAMESPACE_LABELS_PREFIX);
    if (!pods || (namespaceSelector !== undefined && !namespaces)) {
      bad = true;
      return;
    }
    const selector = namespaces ? { requirements: [...pods.requirements, ...namespaces.requirements] } : inNamespace(pods, namespace);
    peers.push({ kind: 'selector', selector: workloadsOnly(selector) });
  });
  return bad ? undefined : peers;
}

export function parseNetworkPolicy(object: Json): ParsedPolicy {
  const metadata = isObject(object['metadata']) ? object['metadata'] : {};
  const namespace = String(metadata['namespace'] ?? 'default');
  const source = `${namespace}/NetworkPolicy/${String(metadata['name'])}`;
  const problems: PolicyProblem[] = [];
  const parsed: ParsedPolicy = { source, rules: [], enforcement: [], problems };
  const spec = isObject(object['spec']) ? object['spec'] : undefined;
  if (!spec) {
    problems.push({ field: 'spec', message: 'required', effect: 'refused' });
    return parsed;
  }
  const podSelector = selectorOrRefuse(spec['podSelector'] ?? {}, 'spec.podSelector', problems);
  if (!podSelector) return parsed;
  const subject = workloadsOnly(inNamespace(podSelector, namespace));

  let types: Direction[];
  const policyTypes = spec['policyTypes'];
  if (Array.isArray(policyTypes) && policyTypes.length > 0) {
    types = [];
    policyTypes.forEach((type: unknown, index) => {
      if (type === 'Ingress') types.push('ingress');
      else if (type === 'Egress') types.push('egress');
      else problems.push({ field: `spec.policyTypes[${index}]`, message: `${JSON.stringify(type)} is not Ingress or Egress`, effect: 'refused' });
    });
  } else types = spec['egress'] !== undefined && spec['egress'] !== null ? ['ingress', 'egress'] : ['ingress'];

  // an invalid policy still isolates what it selects, and allows nothing: it never allows more than written
  const refusedBefore = problems.length;
  const rules: PolicyRule[] = [];
  for (const direction of types) {
    const field = `spec.${direction}`;
    const list = spec[direction];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      problems.push({ field, message: 'must be a list', effect: 'refused' });
      continue;
    }
    list.forEach((rule: unknown, index) => {
      const at = `${field}[${index}]`;
      const record = isObject(rule) ? rule : {};
      const peersField = direction === 'ingress' ? 'from' : 'to';
      const peers = parsePeers(record[peersField], `${at}.${peersField}`, namespace, problems);
      const ports = parsePorts(record['ports'], `${at}.ports`, problems);
      if (peers && ports) rules.push({ subject, direction, verdict: 'allow', peers, ports, field: at });
    });
  }
  const refused = problems.length > refusedBefore;
  for (const direction of types) {
    parsed.enforcement.push({ subject, direction, ...(refused ? { failClosed: `${source} is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}` } : {}) });
  }
  if (!refused) parsed.rules.push(...rules);
  return parsed;
}
