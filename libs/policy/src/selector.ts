/**
 * Label selectors over identities, with Cilium's label sources: a key may carry a source prefix
 * (`k8s:app`, `reserved:host`, `any:app`); without one it matches a label of any source, as in Cilium.
 */
import type { SecurityLabel } from './labels.js';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  /** undefined: any source */
  source?: string;
  key: string;
  operator: Operator;
  values: readonly string[];
}

/** A parsed selector: every requirement must hold. No requirement selects every workload. */
export interface Selector {
  requirements: readonly Requirement[];
}

const SOURCES = new Set(['k8s', 'reserved', 'cidr', 'any', 'container', 'unspec', 'cilium-generated', 'fqdn', 'cni']);
const OPERATORS = new Set<Operator>(['In', 'NotIn', 'Exists', 'DoesNotExist']);
// a Kubernetes label key: optional DNS-subdomain prefix and a name of up to 63 characters
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export interface SelectorProblem {
  field: string;
  message: string;
}

function splitSource(rawKey: string): { source?: string; key: string } {
  const colon = rawKey.indexOf(':');
  if (colon > 0 && SOURCES.has(rawKey.slice(0, colon))) {
    const source = rawKey.slice(0, colon);
    return source === 'any' ? { key: rawKey.slice(colon + 1) } : { source, key: rawKey.slice(colon + 1) };
  }
  return { key: rawKey };
}

/**
 * Parses a Kubernetes LabelSelector (`matchLabels`, `matchExpressions`), collecting every problem
 * under `field`. `keyPrefix` is prepended to each key (namespace selectors look at the namespace labels).
 */
export function parseSelector(value: unknown, field: string, problems: SelectorProblem[], keyPrefix = ''): Selector | undefined {
  if (value === undefined || value === null) return { requirements: [] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ field, message: 'must be a label selector (matchLabels, matchExpressions)' });
    return undefined;
  }
  const before = problems.length;
  const requirements: Requirement[] = [];
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (name !== 'matchLabels' && name !== 'matchExpressions') problems.push({ field: `${field}.${name}`, message: 'unknown field' });
  }
  const checkKey = (rawKey: string, at: string) => {
    const { source, key } = splitSource(rawKey);
    // reserved labels have names (`reserved:host`), not Kubernetes keys; the namespace prefix has its own dots
    if (source !== 'reserved' && !LABEL_KEY.test(key)) problems.push({ field: at, message: `"${rawKey}" is not a valid label key` });
    return { ...(source !== undefined ? { source } : {}), key: source === undefined || source === 'k8s' ? keyPrefix + key : key };
  };
  const matchLabels = record['matchLabels'];
  if (matchLabels !== undefined && matchLabels !== null) {
    if (typeof matchLabels !== 'object' || Array.isArray(matchLabels)) problems.push({ field: `${field}.matchLabels`, message: 'must be a map of label keys to values' });
    else {
      for (const [rawKey, labelValue] of Object.entries(matchLabels as Record<string, unknown>)) {
        const at = `${field}.matchLabels.${rawKey}`;
        const parsedKey = checkKey(rawKey, at);
        if (typeof labelValue !== 'string' || !LABEL_VALUE.test(labelValue)) {
          problems.push({ field: at, message: `${JSON.stringify(labelValue)} is not a valid label value` });
          continue;
        }
        requirements.push({ ...parsedKey, operator: 'In', values: [labelValue] });
      }
    }
  }
  const expressions = record['matchExpressions'];
  if (expressions !== undefined && expressions !== null) {
    if (!Array.isArray(expressions)) problems.push({ field: `${field}.matchExpressions`, message: 'must be a list' });
    else {
      expressions.forEach((expression: unknown, index) => {
        const at = `${field}.matchExpressions[${index}]`;
        if (typeof expression !== 'object' || expression === null) {
          problems.push({ field: at, message: 'must be an object with key, operator and values' });
          return;
        }
        const { key, operator, values } = expression as Record<string, unknown>;
        if (typeof key !== 'string' || key === '') {
          problems.push({ field: `${at}.key`, message: 'required' });
          return;
        }
        const parsedKey = checkKey(key, `${at}.key`);
        if (typeof operator !== 'string' || !OPERATORS.has(operator as Operator)) {
          problems.push({ field: `${at}.operator`, message: `${JSON.stringify(operator)} is not one of In, NotIn, Exists, DoesNotExist` });
          return;
        }
        const list = values === undefined || values === null ? [] : values;
        if (!Array.isArray(list) || list.some((item) => typeof item !== 'string')) {
          problems.push({ field: `${at}.values`, message: 'must be a list of strings' });
          return;
        }
        const needsValues = operator === 'In' || operator === 'NotIn';
        if (needsValues && list.length === 0) problems.push({ field: `${at}.values`, message: `must be non-empty for operator ${operator}` });
        if (!needsValues && list.length > 0) problems.push({ field: `${at}.values`, message: `must be empty for operator ${operator}` });
        requirements.push({ ...parsedKey, operator: operator as Operator, values: list as string[] });
      });
    }
  }
  return problems.length > before ? undefined : { requirements };
}

function labelMatches(requirement: Requirement, label: SecurityLabel): boolean {
  return label.key === requirement.key && (requirement.source === undefined || requirement.source === label.source);
}

/** Whether an identity's labels satisfy every requirement. */
export function selectorMatches(selector: Selector, labels: readonly SecurityLabel[]): boolean {
  return selector.requirements.every((requirement) => {
    const found = labels.filter((label) => labelMatches(requirement, label));
    switch (requirement.operator) {
      case 'In':
        return found.some((label) => requirement.values.includes(label.value));
      case 'NotIn':
        return found.every((label) => !requirement.values.includes(label.value));
      case 'Exists':
        return found.length > 0;
      case 'DoesNotExist':
        return found.length === 0;
    }
  });
}

/** Whether the selector constrains the key (with any source): used to tell whether a CNP peer names its namespace. */
export function selectorMentions(selector: Selector, key: string): boolean {
  return selector.requirements.some((requirement) => requirement.key === key);
}

/** A selector with one more requirement. */
export function withRequirement(selector: Selector, requirement: Requirement): Selector {
  return { requirements: [...selector.requirements, requirement] };
}
