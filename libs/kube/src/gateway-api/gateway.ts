/** GatewayClass, Gateway and ListenerSet: the schemas and rules of the standard channel's v1. */
import { enumOf } from './enums.js';
import {
  GATEWAY_GROUP,
  HOSTNAME_PATTERN,
  annotationValues,
  group,
  hostname,
  infrastructureAnnotations,
  infrastructureLabels,
  kind,
  labelSelector,
  namespaceName,
  objectName,
  objectReference,
  portNumber,
  resource,
  secretObjectReference,
  sectionName,
} from './common.js';
import { keyedList, list, object, required, rule, string, withRules, type StructuralSchema } from '../structural/schema.js';

const CONTROLLER_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$";

export const gatewayClassSchema = resource(
  object({
    controllerName: required(withRules(string({ minLength: 1, maxLength: 253, pattern: CONTROLLER_NAME_PATTERN }), rule('self == oldSelf', 'field is immutable'))),
    parametersRef: objectReference,
    description: string({ maxLength: 64 }),
  }),
);

const routeGroupKind = object({ group: group(GATEWAY_GROUP), kind: required(kind()) });

function allowedRoutes(): StructuralSchema {
  return object(
    {
      namespaces: object({ from: enumOf(['All', 'Selector', 'Same'], 'Same'), selector: labelSelector }, { default: { from: 'Same' } }),
      kinds: list(routeGroupKind, { maxItems: 8 }),
    },
    { default: { namespaces: { from: 'Same' } } },
  );
}

const PROTOCOL_PATTERN = '^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9]+$';

const listenerTls = withRules(
  object({
    mode: enumOf(['Terminate', 'Passthrough'], 'Terminate'),
    certificateRefs: list(secretObjectReference, { maxItems: 64 }),
    options: annotationValues,
  }),
  rule("self.mode == 'Terminate' ? size(self.certificateRefs) > 0 || size(self.options) > 0 : true", 'certificateRefs or options must be specified when mode is Terminate'),
);

const listener = object({
  name: required(sectionName),
  hostname,
  port: required(portNumber),
  protocol: required(string({ minLength: 1, maxLength: 255, pattern: PROTOCOL_PATTERN })),
  tls: listenerTls,
  allowedRoutes: allowedRoutes(),
});

/** The listener rules a Gateway and a ListenerSet share; the port/protocol/hostname rule differs. */
function listenerRules(portOptional: boolean) {
  const sameHostname = '(has(l1.hostname) && has(l2.hostname) ? l1.hostname == l2.hostname : !has(l1.hostname) && !has(l2.hostname))';
  const unique = portOptional
    ? `self.all(l1, !has(l1.port) || self.exists_one(l2, has(l2.port) && l1.port == l2.port && l1.protocol == l2.protocol && ${sameHostname}))`
    : `self.all(l1, self.exists_one(l2, l1.port == l2.port && l1.protocol == l2.protocol && ${sameHostname}))`;
  return [
    rule("self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)", "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"),
    rule("self.all(l, (l.protocol == 'HTTPS' && has(l.tls)) ? (l.tls.mode == '' || l.tls.mode == 'Terminate') : true)", 'tls mode must be Terminate for protocol HTTPS'),
    rule("self.all(l, (l.protocol == 'TLS' ? has(l.tls) && has(l.tls.mode) && l.tls.mode != '' : true))", 'tls mode must be set for protocol TLS'),
    rule("self.all(l, l.protocol in ['TCP', 'UDP']  ? (!has(l.hostname) || l.hostname == '') : true)", "hostname must not be specified for protocols ['TCP', 'UDP']"),
    rule('self.all(l1, self.exists_one(l2, l1.name == l2.name))', 'Listener name must be unique within the Gateway'),
    rule(unique, 'Combination of port, protocol and hostname must be unique for each listener'),
  ];
}

function listeners(portOptional: boolean): StructuralSchema {
  return withRules(keyedList(listener, ['name'], { minItems: 1, maxItems: 64 }), ...listenerRules(portOptional));
}

const HOSTNAME_CEL = HOSTNAME_PATTERN;
const ADDRESS_TYPE_PATTERN = "^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$";

const gatewayAddress: StructuralSchema = {
  ...withRules(
    object({ type: string({ minLength: 1, maxLength: 253, pattern: ADDRESS_TYPE_PATTERN, default: 'IPAddress' }), value: string({ maxLength: 253 }) }),
    rule(`self.type == 'Hostname' ? (!has(self.value) || self.value.matches(r"""${HOSTNAME_CEL}""")): true`, `Hostname value must be empty or contain only valid characters (matching ${HOSTNAME_CEL})`),
  ),
  // an IPAddress value must be an IPv4 or IPv6 address
  oneOf: [{ properties: { type: { enum: ['IPAddress'] }, value: { anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] } } }, { properties: { type: { not: { enum: ['IPAddress'] } } } }],
};

function uniqueAddresses(type: 'IPAddress' | 'Hostname', spacing: string) {
  return rule(`self.all(a1, a1.type == '${type}'${spacing}&& has(a1.value) ? self.exists_one(a2, a2.type == a1.type && has(a2.value) && a2.value == a1.value) : true )`, `${type} values must be unique`);
}

const caCertificateValidation = object({
  caCertificateRefs: required(list(objectReference, { minItems: 1, maxItems: 16 })),
  mode: enumOf(['AllowValidOnly', 'AllowInsecureFallback'], 'AllowValidOnly'),
});

/** The experimental channel adds `defaultScope` (the Gateway serves routes that ask for a default Gateway). */
export function gatewaySchema(experimental: boolean): StructuralSchema {
  return resource(
  object({
    ...(experimental ? { defaultScope: enumOf(['All', 'None']) } : {}),
    gatewayClassName: required(objectName),
    addresses: withRules(list(gatewayAddress, { maxItems: 16 }), uniqueAddresses('IPAddress', ' '), uniqueAddresses('Hostname', '  ')),
    infrastructure: object({
      labels: infrastructureLabels,
      annotations: infrastructureAnnotations,
      parametersRef: object({ group: required(group()), kind: required(kind()), name: required(objectName) }),
    }),
    allowedListeners: object({ namespaces: object({ from: enumOf(['All', 'Selector', 'Same', 'None'], 'None'), selector: labelSelector }, { default: { from: 'None' } }) }),
    listeners: required(listeners(false)),
    tls: object({
      backend: object({ clientCertificateRef: secretObjectReference }),
      frontend: object({
        default: required(object({ validation: caCertificateValidation })),
        perPort: withRules(
          keyedList(object({ port: required(portNumber), tls: required(object({ validation: caCertificateValidation })) }), ['port'], { maxItems: 64 }),
          rule('self.all(t1, self.exists_one(t2, t1.port == t2.port))', 'Port for TLS configuration must be unique within the Gateway'),
        ),
      }),
    }),
  }),
  );
}

export const listenerSetSchema = resource(
  object({
    parentRef: required(object({ group: group(GATEWAY_GROUP), kind: kind('Gateway'), name: required(objectName), namespace: namespaceName })),
    listeners: required(listeners(true)),
  }),
);
