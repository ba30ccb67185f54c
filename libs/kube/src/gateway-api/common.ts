/**
 * Pieces of the Gateway API shared by its kinds: names, references, hostnames, header filters,
 * written from the API's Go types (`apis/v1`) and their validation markers.
 */
import { integer, keyedList, list, map, object, required, rule, set, string, withRules, type StructuralSchema } from '../structural/schema.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = `${DNS_LABEL}(\\.${DNS_LABEL})*`;
export const HOSTNAME_PATTERN = `^(\\*\\.)?${DNS_SUBDOMAIN}$`;
export const PRECISE_HOSTNAME_PATTERN = `^${DNS_SUBDOMAIN}$`;
const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$";

export function group(defaultValue?: string): StructuralSchema {
  return string({ maxLength: 253, pattern: `^$|^${DNS_SUBDOMAIN}$`, ...(defaultValue !== undefined ? { default: defaultValue } : {}) });
}

export function kind(defaultValue?: string): StructuralSchema {
  return string({ minLength: 1, maxLength: 63, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$', ...(defaultValue !== undefined ? { default: defaultValue } : {}) });
}

export const objectName = string({ minLength: 1, maxLength: 253 });
export const namespaceName = string({ minLength: 1, maxLength: 63, pattern: `^${DNS_LABEL}$` });
export const sectionName = string({ minLength: 1, maxLength: 253, pattern: PRECISE_HOSTNAME_PATTERN });
export const portNumber = integer({ minimum: 1, maximum: 65535 });
export const hostname = string({ minLength: 1, maxLength: 253, pattern: HOSTNAME_PATTERN });
export const preciseHostname = string({ minLength: 1, maxLength: 253, pattern: PRECISE_HOSTNAME_PATTERN });
export const headerName = string({ minLength: 1, maxLength: 256, pattern: HEADER_NAME_PATTERN });
export const duration = string({ pattern: '^([0-9]{1,5}(h|m|s|ms)){1,4}$' });
/** A rule's optional name (SectionName). */
export const ruleName = sectionName;

/** A reference to a named object of the local namespace (LocalObjectReference): all three fields required. */
export const localObjectReference = object({ group: required(group()), kind: required(kind()), name: required(objectName) });

/** SecretObjectReference: a Secret by default, possibly in another namespace. */
export const secretObjectReference = object({ group: group(''), kind: kind('Secret'), name: required(objectName), namespace: namespaceName });

/** ObjectReference: group and kind required, namespace optional. */
export const objectReference = object({ group: required(group()), kind: required(kind()), name: required(objectName), namespace: namespaceName });

/** Free-form string settings (TLS options), at most 16. */
export const annotationValues = map(string({ minLength: 0, maxLength: 4096 }), { maxProperties: 16 });

const KEY_PATTERN = `^(${DNS_SUBDOMAIN}/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$`;

/** Label or annotation keys checked as Kubernetes checks them: `prefix/name`. */
function keyRules(what: 'Label' | 'Annotation') {
  const lower = what.toLowerCase();
  return [
    rule(`self.all(key, key.matches(r"""${KEY_PATTERN}"""))`, `${what} keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.`),
    rule('self.all(key, key.split("/")[0].size() < 253)', `If specified, the ${lower} key's prefix must be a DNS subdomain not longer than 253 characters in total.`),
  ];
}

export const infrastructureLabels = withRules(map(string({ minLength: 0, maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' }), { maxProperties: 8 }), ...keyRules('Label'));
export const infrastructureAnnotations = withRules(annotationValues, ...keyRules('Annotation'));

const NO_NAMESPACE = "(!has(p.__namespace__) || p.__namespace__ == '')";
const noSection = (p: string) => `(!has(${p}.sectionName) || ${p}.sectionName == '')`;
const sameNamespace = `((${NO_NAMESPACE.replaceAll('p.', 'p1.')} && ${NO_NAMESPACE.replaceAll('p.', 'p2.')}) || (has(p1.__namespace__) && has(p2.__namespace__) && p1.__namespace__ == p2.__namespace__ ))`;
const sameTarget = 'p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name';
const sameSection = `((${noSection('p1')} && ${noSection('p2')}) || (has(p1.sectionName) && has(p2.sectionName) && p1.sectionName == p2.sectionName))`;

const noPort = (p: string) => `(!has(${p}.port) || ${p}.port == 0)`;
const samePort = `((${noPort('p1')} && ${noPort('p2')}) || (has(p1.port) && has(p2.port) && p1.port == p2.port))`;

/**
 * Two references to one parent must both name a section, and different ones. The experimental channel
 * also tells references apart by port (`sectionName or port`).
 */
export function sectionNameRules(what: 'parentRefs' | 'targetRefs', withNamespace: boolean, byPort = false) {
  const same = withNamespace ? `${sameTarget} && ${sameNamespace}` : sameTarget;
  const target = what === 'parentRefs' ? 'parent' : 'target';
  if (byPort) {
    return [
      rule(
        `self.all(p1, self.all(p2, ${same} ? (${noSection('p1')} == ${noSection('p2')} && ${noPort('p1')} == ${noPort('p2')}): true))`,
        `sectionName or port must be specified when ${what} includes 2 or more references to the same ${target}`,
      ),
      rule(`self.all(p1, self.exists_one(p2, ${same} && ${sameSection} && ${samePort}))`, `sectionName or port must be unique when ${what} includes 2 or more references to the same ${target}`),
    ];
  }
  return [
    rule(`self.all(p1, self.all(p2, ${same} ? (${noSection('p1')} == ${noSection('p2')}) : true))`, `sectionName must be specified when ${what} includes 2 or more references to the same ${target}`),
    rule(`self.all(p1, self.exists_one(p2, ${same} && ${sameSection}))`, `sectionName must be unique when ${what} includes 2 or more references to the same ${target}`),
  ];
}

/** ParentReference: a Gateway by default. */
export const parentReference = object({
  group: group(GATEWAY_GROUP),
  kind: kind('Gateway'),
  namespace: namespaceName,
  name: required(objectName),
  sectionName,
  port: portNumber,
});

/** A route's parentRefs; the experimental channel's rules also compare ports. */
export function parentRefs(experimental: boolean): StructuralSchema {
  return withRules(list(parentReference, { maxItems: 32 }), ...sectionNameRules('parentRefs', true, experimental));
}

/** Rules may be named; the experimental channel requires the names to differ. */
export const UNIQUE_RULE_NAMES = rule('self.all(l1, !has(l1.name) || self.exists_one(l2, has(l2.name) && l1.name == l2.name))', 'Rule name must be unique within the route');

/** The experimental channel's header values: printable characters, single inner spaces or tabs. */
export function headerValue(experimental: boolean): StructuralSchema {
  return string({ minLength: 1, maxLength: 4096, ...(experimental ? { pattern: '^[!-~]+([\\t ]?[!-~]+)*$' } : {}) });
}

export const hostnames = list(hostname, { maxItems: 16 });

export const SERVICE_NEEDS_PORT = rule("(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true", 'Must have port for Service reference');

/** BackendObjectReference: a Service by default; a Service needs a port. */
export const backendObjectReference = withRules(object({ group: group(''), kind: kind('Service'), name: required(objectName), namespace: namespaceName, port: portNumber }), SERVICE_NEEDS_PORT);

/** A route backend with a weight (TLS/TCP/UDP routes' BackendRef). */
export const weightedBackendRef = withRules(
  object({ group: group(''), kind: kind('Service'), name: required(objectName), namespace: namespaceName, port: portNumber, weight: integer({ minimum: 0, maximum: 1000000, default: 1 }) }),
  SERVICE_NEEDS_PORT,
);

/** HTTPHeaderFilter: set, add and remove header lists. */
export function headerFilter(experimental: boolean): StructuralSchema {
  const header = object({ name: required(headerName), value: required(headerValue(experimental)) });
  return object({
    set: keyedList(header, ['name'], { maxItems: 16 }),
    add: keyedList(header, ['name'], { maxItems: 16 }),
    remove: set(string(), { maxItems: 16 }),
  });
}

/** HTTPRequestMirrorFilter: a backend and at most one of percent and fraction. */
export const requestMirror = withRules(
  object({
    backendRef: required(backendObjectReference),
    percent: integer({ minimum: 0, maximum: 100 }),
    fraction: withRules(object({ numerator: required(integer({ minimum: 0 })), denominator: integer({ minimum: 1, default: 100 }) }), rule('self.numerator <= self.denominator', 'numerator must be less than or equal to denominator')),
  }),
  rule('!(has(self.percent) && has(self.fraction))', 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter'),
);

/** Each filter type carries its own field, and only its own (the `filter.x must be nil ...` pair). */
export function filterFieldRules(fields: Record<string, string>) {
  return Object.entries(fields).flatMap(([field, type]) => [
    rule(`!(has(self.${field}) && self.type != '${type}')`, `filter.${field} must be nil if the filter.type is not ${type}`),
    rule(`!(!has(self.${field}) && self.type == '${type}')`, `filter.${field} must be specified for ${type} filter.type`),
  ]);
}

export function notRepeated(type: string) {
  return rule(`self.filter(f, f.type == '${type}').size() <= 1`, `${type} filter cannot be repeated`);
}

/** A label selector (metav1.LabelSelector) as CRDs embed it. */
export const labelSelector = object(
  {
    matchExpressions: list(object({ key: required(string()), operator: required(string()), values: list(string()) })),
    matchLabels: map(string()),
  },
  { 'x-kubernetes-map-type': 'atomic' },
);

/** The root of a Gateway API object: `spec` is required, `status` belongs to the controllers. */
export function resource(spec: StructuralSchema): StructuralSchema {
  return object({ apiVersion: string(), kind: string(), metadata: { type: 'object' }, spec: required(spec) });
}
