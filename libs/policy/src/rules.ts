/**
 * The rules of one policy object, whichever its kind, before identities are known: who it applies
 * to (a selector), which direction it puts under enforcement, what it allows or denies.
 */
import type { Prefix } from './cidr.js';
import type { ReservedName } from './labels.js';
import type { PortRange, Protocol } from './ports.js';
import type { Selector } from './selector.js';

export type Direction = 'ingress' | 'egress';
export type Verdict = 'allow' | 'deny';

export type Peer =
  | { kind: 'selector'; selector: Selector }
  | { kind: 'cidr'; prefix: Prefix; except: readonly Prefix[] }
  /** reserved identities; `cluster` and `all` are expanded when identities are known */
  | { kind: 'entity'; name: ReservedName | 'cluster' | 'all' };

/** A port by name (a container port of the Pods it reaches), resolved once the Pods are known. */
export interface NamedPort {
  protocol: Exclude<Protocol, 'ANY'>;
  name: string;
}

export interface PolicyRule {
  subject: Selector;
  direction: Direction;
  verdict: Verdict;
  /** 'any': no L3 constraint (every peer, inside the cluster or not) */
  peers: readonly Peer[] | 'any';
  /** 'any': every port of every protocol */
  ports: readonly (PortRange | NamedPort)[] | 'any';
  /** where in the object the rule is written, for `policy trace` */
  field: string;
}

/** A direction a policy puts under enforcement for the endpoints its subject selects. */
export interface Enforcement {
  subject: Selector;
  direction: Direction;
  /** set when the policy holds something Tendril cannot enforce: the direction then denies everything */
  failClosed?: string;
}

export interface PolicyProblem {
  field: string;
  message: string;
  /** refused: invalid, as an API server would refuse it; fail-closed: valid but not enforceable, so the direction denies all; not-enforced: applies to nothing Tendril programs (host policies) */
  effect: 'refused' | 'fail-closed' | 'not-enforced';
}

export interface ParsedPolicy {
  /** `namespace/Kind/name` or `Kind/name` */
  source: string;
  rules: PolicyRule[];
  enforcement: Enforcement[];
  problems: PolicyProblem[];
}

export function isNamedPort(port: PortRange | NamedPort): port is NamedPort {
  return 'name' in port;
}
