/** ReferenceGrant and BackendTLSPolicy: the schemas and rules of the standard channel's v1. */
import { enumOf } from './enums.js';
import { PRECISE_HOSTNAME_PATTERN, annotationValues, group, hostname, kind, localObjectReference, namespaceName, objectName, preciseHostname, resource, sectionName, sectionNameRules } from './common.js';
import { list, object, required, rule, string, withRules } from '../structural/schema.js';

export const referenceGrantSchema = resource(
  object({
    from: required(list(object({ group: required(group()), kind: required(kind()), namespace: required(namespaceName) }), { minItems: 1, maxItems: 16 })),
    to: required(list(object({ group: required(group()), kind: required(kind()), name: objectName }), { minItems: 1, maxItems: 16 })),
  }),
);

const URI_PATTERN = '^(([^:/?#]+):)(//([^/?#]*))([^?#]*)(\\?([^#]*))?(#(.*))?';
const WELL_KNOWN_PATTERN = `^(System|(${PRECISE_HOSTNAME_PATTERN.slice(1, -1)}/([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]))$`;

function subjectAltNameRules(type: 'Hostname' | 'URI', field: 'hostname' | 'uri') {
  return [
    rule(`!(self.type == "${type}" && (!has(self.${field}) || self.${field} == ""))`, `SubjectAltName element must contain ${type}, if Type is set to ${type}`),
    rule(`!(self.type != "${type}" && has(self.${field}) && self.${field} != "")`, `SubjectAltName element must not contain ${type}, if Type is not set to ${type}`),
  ];
}

const subjectAltName = withRules(
  object({ type: required(enumOf(['Hostname', 'URI'])), hostname, uri: string({ minLength: 1, maxLength: 253, pattern: URI_PATTERN }) }),
  ...subjectAltNameRules('Hostname', 'hostname'),
  ...subjectAltNameRules('URI', 'uri'),
);

const validation = withRules(
  object({
    caCertificateRefs: list(localObjectReference, { maxItems: 8 }),
    wellKnownCACertificates: string({ minLength: 1, maxLength: 253, pattern: WELL_KNOWN_PATTERN }),
    hostname: required(preciseHostname),
    subjectAltNames: list(subjectAltName, { maxItems: 5 }),
  }),
  rule('!(has(self.caCertificateRefs) && size(self.caCertificateRefs) > 0 && has(self.wellKnownCACertificates) && self.wellKnownCACertificates != "")', 'must not contain both CACertificateRefs and WellKnownCACertificates'),
  rule('(has(self.caCertificateRefs) && size(self.caCertificateRefs) > 0 || has(self.wellKnownCACertificates) && self.wellKnownCACertificates != "")', 'must specify either CACertificateRefs or WellKnownCACertificates'),
);

export const backendTlsPolicySchema = resource(
  object({
    targetRefs: required(
      withRules(list(object({ group: required(group()), kind: required(kind()), name: required(objectName), sectionName }), { minItems: 1, maxItems: 16 }), ...sectionNameRules('targetRefs', false)),
    ),
    validation: required(validation),
    options: annotationValues,
  }),
);
