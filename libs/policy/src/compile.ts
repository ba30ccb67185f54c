/**
 * Objects in, compiled policy out, pure and deterministic: the identities (one per security label
 * set, plus Cilium's reserved ones and one per address range a policy names), the address table, and
 * per identity and direction the rules that allow or deny (peer identity, protocol, port range).
 */
import { parsePrefix, prefixContains, type Prefix } from './cidr.js';
import { parseCiliumPolicy } from './cilium-policy.js';
import { RESERVED_IDENTITIES, cidrKey, identityKey, labelString, reservedKey, reservedLabels, workloadLabels, type ReservedName, type SecurityLabel } from './labels.js';
import { parseNetworkPolicy } from './network-policy.js';
import { comparePortRanges, type PortRange } from './ports.js';
import { isNamedPort, type Direction, type NamedPort, type ParsedPolicy, type Peer, type PolicyRule, type Verdict } from './rules.js';
import { selectorMatches } from './selector.js';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface PolicyInput {
  /** the cluster's name (`io.cilium.k8s.policy.cluster`) */
  cluster: string;
  /** objects as mirrored in tendril-objects: Namespaces, Pods, Nodes and the policy kinds; others are ignored */
  objects: Iterable<Json>;
}

export interface IdentityEntry {
  key: string;
  labels: string[];
  /** the fixed number of a reserved identity; others are allocated */
  reserved?: number;
}

export interface AddressEntry {
  /** `198.18.0.20/32` for an endpoint or node address; a range a policy names */
  prefix: string;
  identity: string;
  /** the Pod (`namespace/name`) or Node the address belongs to */
  owner?: string;
  /** the Pod's uid: how a node's datapath finds its cgroup */
  uid?: string;
  node?: string;
}

export interface CompiledRule {
  verdict: Verdict;
  /** identity keys of the peers; `*` is any peer */
  peers: string[];
  ports: PortRange[];
  /** `namespace/Kind/name` and the field of the rule */
  policy: string;
  field: string;
}

export interface DirectionPolicy {
  /** whether traffic no rule allows is dropped */
  enforced: boolean;
  /** why the direction denies everything (a policy Tendril cannot enforce), when it does */
  failClosed?: string[];
  rules: CompiledRule[];
  /** the policies that put the direction under enforcement */
  policies: string[];
}

export interface IdentityPolicy {
  identity: string;
  ingress: DirectionPolicy;
  egress: DirectionPolicy;
}

export interface PolicyError {
  object: string;
  field: string;
  message: string;
  effect: 'refused' | 'fail-closed' | 'not-enforced';
}

export interface CompiledPolicy {
  identities: IdentityEntry[];
  addresses: AddressEntry[];
  policies: IdentityPolicy[];
  errors: PolicyError[];
}

interface Workload {
  pod: string;
  uid?: string;
  identity: string;
  addresses: string[];
  node?: string;
  ports: { name: string; port: number; protocol: string }[];
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function podPorts(spec: Json): Workload['ports'] {
  const out: Workload['ports'] = [];
  const containers = Array.isArray(spec['containers']) ? spec['containers'] : [];
  for (const container of containers) {
    const ports = isObject(container) && Array.isArray(container['ports']) ? container['ports'] : [];
    for (const port of ports) {
      if (isObject(port) && typeof port['name'] === 'string' && typeof port['containerPort'] === 'number') {
        out.push({ name: port['name'], port: port['containerPort'], protocol: typeof port['protocol'] === 'string' ? port['protocol'] : 'TCP' });
      }
    }
  }
  return out;
}

function podAddresses(status: Json): string[] {
  const out = new Set<string>();
  if (typeof status['podIP'] === 'string') out.add(status['podIP']);
  if (Array.isArray(status['podIPs'])) for (const entry of status['podIPs']) if (isObject(entry) && typeof entry['ip'] === 'string') out.add(entry['ip']);
  return [...out].filter((address) => typeof parsePrefix(address) !== 'string');
}

export function compilePolicy(input: PolicyInput): CompiledPolicy {
  const namespaces = new Map<string, Record<string, string>>();
  const pods: Json[] = [];
  const nodes: Json[] = [];
  const parsed: ParsedPolicy[] = [];
  for (const object of input.objects) {
    const metadata = isObject(object['metadata']) ? object['metadata'] : {};
    switch (object['kind']) {
      case 'Namespace':
        namespaces.set(String(metadata['name']), isObject(metadata['labels']) ? (metadata['labels'] as Record<string, string>) : {});
        break;
      case 'Pod':
        pods.push(object);
        break;
      case 'Node':
        nodes.push(object);
        break;
      case 'NetworkPolicy':
        parsed.push(parseNetworkPolicy(object));
        break;
      case 'CiliumNetworkPolicy':
      case 'CiliumClusterwideNetworkPolicy':
        parsed.push(parseCiliumPolicy(object));
        break;
    }
  }

  // identities: one per label set, shared by every workload that has it
  const identityLabels = new Map<string, SecurityLabel[]>();
  const workloads: Workload[] = [];
  for (const pod of pods) {
    const metadata = isObject(pod['metadata']) ? pod['metadata'] : {};
    const spec = isObject(pod['spec']) ? pod['spec'] : {};
    const status = isObject(pod['status']) ? pod['status'] : {};
    // a host-network Pod shares its node's addresses and identity; a finished one holds its address no more
    if (spec['hostNetwork'] === true || status['phase'] === 'Succeeded' || status['phase'] === 'Failed') continue;
    const namespace = String(metadata['namespace'] ?? 'default');
    const labels = workloadLabels({
      cluster: input.cluster,
      namespace,
      podLabels: isObject(metadata['labels']) ? (metadata['labels'] as Record<string, string>) : {},
      // a Namespace not mirrored (yet) has, as far as policy knows, no labels but its name
      namespaceLabels: namespaces.get(namespace) ?? { 'kubernetes.io/metadata.name': namespace },
      ...(typeof spec['serviceAccountName'] === 'string' ? { serviceAccount: spec['serviceAccountName'] } : {}),
    });
    const key = identityKey(labels);
    identityLabels.set(key, labels);
    workloads.push({ pod: `${namespace}/${String(metadata['name'])}`, ...(typeof metadata['uid'] === 'string' ? { uid: metadata['uid'] } : {}), identity: key, addresses: podAddresses(status), ...(typeof spec['nodeName'] === 'string' ? { node: spec['nodeName'] } : {}), ports: podPorts(spec) });
  }
  const reserved = Object.keys(RESERVED_IDENTITIES) as ReservedName[];
  const reservedEntries = reserved.map((name) => ({ key: reservedKey(name), labels: reservedLabels(name) }));

  // every range a policy names (and its exceptions) is an identity of its own; an address takes the longest that holds it
  const prefixes = new Map<string, Prefix>();
  for (const policy of parsed) {
    for (const rule of policy.rules) {
      if (rule.peers === 'any') continue;
      for (const peer of rule.peers) {
        if (peer.kind !== 'cidr') continue;
        prefixes.set(peer.prefix.text, peer.prefix);
        for (const except of peer.except) prefixes.set(except.text, except);
      }
    }
  }

  const workloadKeys = [...identityLabels.keys()].sort(compare);
  const allLabelled: { key: string; labels: SecurityLabel[] }[] = [...workloadKeys.map((key) => ({ key, labels: identityLabels.get(key)! })), ...reservedEntries];
  const clusterKeys = [...workloadKeys, ...reserved.filter((name) => name !== 'world').map(reservedKey)];

  const resolvePeer = (peer: Peer): string[] => {
    switch (peer.kind) {
      case 'selector':
        return allLabelled.filter((entry) => selectorMatches(peer.selector, entry.labels)).map((entry) => entry.key);
      case 'entity':
        if (peer.name === 'cluster') return clusterKeys;
        if (peer.name === 'all') return ['*'];
        // the world is everything outside the cluster: the ranges policies name are part of it
        if (peer.name === 'world') return [reservedKey('world'), ...[...prefixes.keys()].map(cidrKey)];
        return [reservedKey(peer.name)];
      case 'cidr': {
        const out = [...prefixes.values()]
          .filter((prefix) => prefixContains(peer.prefix, prefix) && !peer.except.some((except) => prefixContains(except, prefix)))
          .map((prefix) => cidrKey(prefix.text));
        // the whole address space also holds what no narrower range names: the world
        if (peer.prefix.length === 0) out.push(reservedKey('world'));
        return out;
      }
    }
  };

  const portsOf = (identities: readonly string[] | '*', named: NamedPort): PortRange[] => {
    const out: PortRange[] = [];
    for (const workload of workloads) {
      if (identities !== '*' && !identities.includes(workload.identity)) continue;
      for (const port of workload.ports) if (port.name === named.name && port.protocol === named.protocol) out.push({ protocol: named.protocol, from: port.port, to: port.port });
    }
    return out;
  };

  const compileRule = (rule: PolicyRule, identity: string, policy: ParsedPolicy): CompiledRule | undefined => {
    const peers = rule.peers === 'any' ? ['*'] : [...new Set(rule.peers.flatMap(resolvePeer))];
    const normalized = peers.includes('*') ? ['*'] : peers.sort(compare);
    let ports: PortRange[];
    if (rule.ports === 'any') ports = [{ protocol: 'ANY', from: 0, to: 65535 }];
    else {
      // a named port is the port of that name on the Pod reached: the selected one for ingress, the peer for egress
      const reached = rule.direction === 'ingress' ? [identity] : normalized.includes('*') ? '*' : normalized;
      ports = rule.ports.flatMap((port) => (isNamedPort(port) ? portsOf(reached, port) : [port]));
    }
    const unique = [...new Map(ports.map((port) => [`${port.protocol}/${port.from}/${port.to}`, port])).values()].sort(comparePortRanges);
    if (normalized.length === 0 || unique.length === 0) return undefined;
    return { verdict: rule.verdict, peers: normalized, ports: unique, policy: policy.source, field: rule.field };
  };

  const policies: IdentityPolicy[] = [];
  for (const key of workloadKeys) {
    const labels = identityLabels.get(key)!;
    const directions: Record<Direction, DirectionPolicy> = {
      ingress: { enforced: false, rules: [], policies: [] },
      egress: { enforced: false, rules: [], policies: [] },
    };
    let selected = false;
    for (const policy of parsed) {
      for (const enforcement of policy.enforcement) {
        if (!selectorMatches(enforcement.subject, labels)) continue;
        selected = true;
        const direction = directions[enforcement.direction];
        direction.enforced = true;
        if (!direction.policies.includes(policy.source)) direction.policies.push(policy.source);
        if (enforcement.failClosed) direction.failClosed = [...(direction.failClosed ?? []), enforcement.failClosed];
      }
      for (const rule of policy.rules) {
        if (!selectorMatches(rule.subject, labels)) continue;
        const compiled = compileRule(rule, key, policy);
        if (compiled) directions[rule.direction].rules.push(compiled);
      }
    }
    if (!selected && directions.ingress.rules.length === 0 && directions.egress.rules.length === 0) continue;
    for (const direction of Object.values(directions)) {
      direction.policies.sort(compare);
      if (direction.failClosed) direction.failClosed.sort(compare);
      else delete direction.failClosed;
      direction.rules.sort((a, b) => compare(a.verdict, b.verdict) || compare(a.policy, b.policy) || compare(a.field, b.field));
    }
    policies.push({ identity: key, ingress: directions.ingress, egress: directions.egress });
  }

  const addresses: AddressEntry[] = [];
  for (const workload of workloads) {
    for (const address of workload.addresses) {
      const host = parsePrefix(address) as Prefix;
      addresses.push({ prefix: host.text, identity: workload.identity, owner: workload.pod, ...(workload.uid ? { uid: workload.uid } : {}), ...(workload.node ? { node: workload.node } : {}) });
    }
  }
  for (const node of nodes) {
    const metadata = isObject(node['metadata']) ? node['metadata'] : {};
    const status = isObject(node['status']) ? node['status'] : {};
    for (const entry of Array.isArray(status['addresses']) ? status['addresses'] : []) {
      if (!isObject(entry) || (entry['type'] !== 'InternalIP' && entry['type'] !== 'ExternalIP') || typeof entry['address'] !== 'string') continue;
      const host = parsePrefix(entry['address']);
      // each datapath reads its own node's addresses as the host, the others' as remote nodes
      if (typeof host !== 'string') addresses.push({ prefix: host.text, identity: reservedKey('remote-node'), owner: `Node/${String(metadata['name'])}`, node: String(metadata['name']) });
    }
  }
  for (const prefix of prefixes.values()) addresses.push({ prefix: prefix.text, identity: cidrKey(prefix.text) });
  addresses.sort((a, b) => compare(a.prefix, b.prefix) || compare(a.owner ?? '', b.owner ?? ''));

  const identities: IdentityEntry[] = [
    ...reservedEntries.map(({ key, labels }) => ({ key, labels: labels.map(labelString), reserved: RESERVED_IDENTITIES[key.slice('reserved:'.length) as ReservedName] })),
    ...workloadKeys.map((key) => ({ key, labels: identityLabels.get(key)!.map(labelString) })),
    ...[...prefixes.keys()].sort(compare).map((text) => ({ key: cidrKey(text), labels: [`cidr:${text}`] })),
  ];

  const errors: PolicyError[] = parsed
    .flatMap((policy) => policy.problems.map((problem) => ({ object: policy.source, ...problem })))
    .sort((a, b) => compare(a.object, b.object) || compare(a.field, b.field) || compare(a.message, b.message));
  return { identities, addresses, policies, errors };
}
