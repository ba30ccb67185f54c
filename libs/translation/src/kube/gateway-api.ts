/**
 * Gateway API objects (gateway.networking.k8s.io: GatewayClass, Gateway, ReferenceGrant) read into
 * the fields translation uses, with the defaults the CRDs' OpenAPI schemas fill in (the standalone
 * watcher applies none for these kinds): parentRef group/kind, allowedRoutes From Same, TLS mode
 * Terminate. Bad fields are reported with their path and read as absent.
 */
import type { SourceObject } from '@tendril/model';
import type { IndexedObject } from '../objects.js';
import type { Problems } from '../problems.js';
import { FieldReader, type Json } from './fields.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** Common metadata of every Gateway API object translation reports on. */
export interface GatewayApiMeta {
  key: string;
  source: SourceObject & { namespace: string };
  namespace: string;
  name: string;
  generation: number;
  creationTimestamp: string;
  labels: Record<string, string>;
}

export interface GroupKind {
  group: string;
  kind: string;
}

export interface ObjectReferenceView extends GroupKind {
  name: string;
  namespace?: string;
}

export interface GatewayClassView extends GatewayApiMeta {
  controllerName: string;
  parametersRef?: ObjectReferenceView;
}

export interface LabelSelectorView {
  matchLabels: Record<string, string>;
  matchExpressions: { key: string; operator: string; values: string[] }[];
}

export interface ListenerView {
  name: string;
  /** '' when the listener has none (any host). */
  hostname: string;
  port: number;
  protocol: string;
  tls?: { mode: string; certificateRefs: ObjectReferenceView[] };
  allowedRoutes: { from: string; selector?: LabelSelectorView; kinds?: GroupKind[] };
  at: string;
}

/** spec.tls.frontend's validation of one TLS configuration (default or one port's). */
export interface FrontendValidationView {
  caCertificateRefs: ObjectReferenceView[];
  /** AllowValidOnly (the default) or AllowInsecureFallback. */
  mode: string;
  at: string;
}

export interface GatewayView extends GatewayApiMeta {
  className: string;
  addresses: { type: string; value: string }[];
  listeners: ListenerView[];
  /** spec.tls.frontend: client-certificate validation of the TLS listeners, by default and per port. */
  frontendValidation?: { default?: FrontendValidationView; perPort: { port: number; validation?: FrontendValidationView }[] };
  infrastructureParametersRef?: ObjectReferenceView;
  /** The kind a ReferenceGrant must name for this object's references (default Gateway; a ListenerSet read as a Gateway names itself). */
  referrerKind?: 'ListenerSet';
  /** spec.tls.backend.clientCertificateRef: the certificate the Gateway presents to backends that ask for one. */
  backendClientCertificateRef?: ObjectReferenceView;
}

export interface ReferenceGrantView extends GatewayApiMeta {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

export function readMeta(entry: IndexedObject, read: FieldReader): GatewayApiMeta {
  const metadata = read.object(entry.object['metadata'], 'metadata') ?? {};
  const namespace = entry.ref.namespace ?? '';
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(read.object(metadata['labels'], 'metadata.labels') ?? {})) if (typeof value === 'string') labels[key] = value;
  return {
    key: entry.key,
    source: { ...entry.source, namespace },
    namespace,
    name: entry.ref.name,
    generation: typeof metadata['generation'] === 'number' ? metadata['generation'] : 1,
    creationTimestamp: typeof metadata['creationTimestamp'] === 'string' ? metadata['creationTimestamp'] : '',
    labels,
  };
}

export function readGatewayClass(entry: IndexedObject, problems: Problems): GatewayClassView {
  const read = new FieldReader(problems, entry.source);
  const spec = read.object(entry.object['spec'], 'spec') ?? {};
  const view: GatewayClassView = { ...readMeta(entry, read), controllerName: read.string(spec['controllerName'], 'spec.controllerName') ?? '' };
  const parametersRef = readReference(read, spec['parametersRef'], 'spec.parametersRef', '');
  if (parametersRef) view.parametersRef = parametersRef;
  return view;
}

export function readGateway(entry: IndexedObject, problems: Problems): GatewayView {
  const read = new FieldReader(problems, entry.source);
  const spec = read.object(entry.object['spec'], 'spec') ?? {};
  const view: GatewayView = { ...readMeta(entry, read), className: read.string(spec['gatewayClassName'], 'spec.gatewayClassName') ?? '', addresses: [], listeners: [] };
  read.array(spec['addresses'], 'spec.addresses').forEach((item, i) => {
    const address = read.object(item, `spec.addresses[${i}]`);
    if (!address) return;
    view.addresses.push({ type: read.string(address['type'], `spec.addresses[${i}].type`) ?? 'IPAddress', value: read.string(address['value'], `spec.addresses[${i}].value`) ?? '' });
  });
  read.array(spec['listeners'], 'spec.listeners').forEach((item, i) => {
    const at = `spec.listeners[${i}]`;
    const listener = read.object(item, at);
    if (!listener) return;
    const name = read.string(listener['name'], `${at}.name`);
    const port = read.integer(listener['port'], `${at}.port`, 1, 65535);
    if (!name || port === undefined) {
      if (!name) read.report(`${at}.name`, 'required');
      if (listener['port'] === undefined) read.report(`${at}.port`, 'required');
      return;
    }
    const allowed = read.object(listener['allowedRoutes'], `${at}.allowedRoutes`) ?? {};
    const namespaces = read.object(allowed['namespaces'], `${at}.allowedRoutes.namespaces`) ?? {};
    const view_: ListenerView = {
      name,
      hostname: read.string(listener['hostname'], `${at}.hostname`) ?? '',
      port,
      protocol: read.string(listener['protocol'], `${at}.protocol`) ?? '',
      allowedRoutes: { from: read.string(namespaces['from'], `${at}.allowedRoutes.namespaces.from`) ?? 'Same' },
      at,
    };
    const selector = readSelector(read, namespaces['selector'], `${at}.allowedRoutes.namespaces.selector`);
    if (selector) view_.allowedRoutes.selector = selector;
    if (allowed['kinds'] !== undefined) {
      view_.allowedRoutes.kinds = read.array(allowed['kinds'], `${at}.allowedRoutes.kinds`).flatMap((kind, j) => {
        const object = read.object(kind, `${at}.allowedRoutes.kinds[${j}]`);
        const kindName = read.string(object?.['kind'], `${at}.allowedRoutes.kinds[${j}].kind`);
        return object && kindName ? [{ group: read.string(object['group'], `${at}.allowedRoutes.kinds[${j}].group`) ?? GATEWAY_GROUP, kind: kindName }] : [];
      });
    }
    const tls = read.object(listener['tls'], `${at}.tls`);
    if (tls) {
      const certificateRefs = read.array(tls['certificateRefs'], `${at}.tls.certificateRefs`).flatMap((ref, j) => {
        const reference = readReference(read, ref, `${at}.tls.certificateRefs[${j}]`, '', 'Secret');
        return reference ? [reference] : [];
      });
      view_.tls = { mode: read.string(tls['mode'], `${at}.tls.mode`) ?? 'Terminate', certificateRefs };
    }
    view.listeners.push(view_);
  });
  const frontend = read.object(read.object(spec['tls'], 'spec.tls')?.['frontend'], 'spec.tls.frontend');
  if (frontend) {
    const readValidation = (config: unknown, at: string): FrontendValidationView | undefined => {
      const validation = read.object(read.object(config, at)?.['validation'], `${at}.validation`);
      if (!validation) return undefined;
      const caCertificateRefs = read.array(validation['caCertificateRefs'], `${at}.validation.caCertificateRefs`).flatMap((ref, j) => {
        const reference = readReference(read, ref, `${at}.validation.caCertificateRefs[${j}]`, '');
        return reference ? [reference] : [];
      });
      return { caCertificateRefs, mode: read.string(validation['mode'], `${at}.validation.mode`) ?? 'AllowValidOnly', at: `${at}.validation` };
    };
    view.frontendValidation = { perPort: [] };
    const fallback = readValidation(frontend['default'], 'spec.tls.frontend.default');
    if (fallback) view.frontendValidation.default = fallback;
    read.array(frontend['perPort'], 'spec.tls.frontend.perPort').forEach((item, i) => {
      const at = `spec.tls.frontend.perPort[${i}]`;
      const entry = read.object(item, at);
      const port = read.integer(entry?.['port'], `${at}.port`, 1, 65535);
      if (!entry || port === undefined) return;
      const validation = readValidation(entry['tls'], `${at}.tls`);
      view.frontendValidation!.perPort.push(validation ? { port, validation } : { port });
    });
  }
  const backendTls = read.object(read.object(spec['tls'], 'spec.tls')?.['backend'], 'spec.tls.backend');
  const clientCertificateRef = readReference(read, backendTls?.['clientCertificateRef'], 'spec.tls.backend.clientCertificateRef', '', 'Secret');
  if (clientCertificateRef) view.backendClientCertificateRef = clientCertificateRef;
  const infrastructure = read.object(spec['infrastructure'], 'spec.infrastructure');
  const parametersRef = readReference(read, infrastructure?.['parametersRef'], 'spec.infrastructure.parametersRef', '');
  if (parametersRef) view.infrastructureParametersRef = parametersRef;
  return view;
}

export function readReferenceGrant(entry: IndexedObject, problems: Problems): ReferenceGrantView {
  const read = new FieldReader(problems, entry.source);
  const spec = read.object(entry.object['spec'], 'spec') ?? {};
  const view: ReferenceGrantView = { ...readMeta(entry, read), from: [], to: [] };
  read.array(spec['from'], 'spec.from').forEach((item, i) => {
    const from = read.object(item, `spec.from[${i}]`);
    const kind = read.string(from?.['kind'], `spec.from[${i}].kind`);
    const namespace = read.string(from?.['namespace'], `spec.from[${i}].namespace`);
    if (from && kind && namespace) view.from.push({ group: read.string(from['group'], `spec.from[${i}].group`) ?? '', kind, namespace });
  });
  read.array(spec['to'], 'spec.to').forEach((item, i) => {
    const to = read.object(item, `spec.to[${i}]`);
    const kind = read.string(to?.['kind'], `spec.to[${i}].kind`);
    if (!to || !kind) return;
    const target: ReferenceGrantView['to'][number] = { group: read.string(to['group'], `spec.to[${i}].group`) ?? '', kind };
    const name = read.string(to['name'], `spec.to[${i}].name`);
    if (name) target.name = name;
    view.to.push(target);
  });
  return view;
}

/** An object reference with the CRD's defaults for group and kind. */
export function readReference(read: FieldReader, value: unknown, at: string, defaultGroup: string, defaultKind?: string): ObjectReferenceView | undefined {
  const object = read.object(value, at);
  if (!object) return undefined;
  const name = read.string(object['name'], `${at}.name`);
  const kind = read.string(object['kind'], `${at}.kind`) ?? defaultKind;
  if (!name || !kind) {
    read.report(at, 'name and kind are required');
    return undefined;
  }
  const reference: ObjectReferenceView = { group: read.string(object['group'], `${at}.group`) ?? defaultGroup, kind, name };
  const namespace = read.string(object['namespace'], `${at}.namespace`);
  if (namespace) reference.namespace = namespace;
  return reference;
}

function readSelector(read: FieldReader, value: unknown, at: string): LabelSelectorView | undefined {
  const object = read.object(value, at);
  if (!object) return undefined;
  const selector: LabelSelectorView = { matchLabels: {}, matchExpressions: [] };
  for (const [key, label] of Object.entries(read.object(object['matchLabels'], `${at}.matchLabels`) ?? {})) {
    const text = read.string(label, `${at}.matchLabels.${key}`);
    if (text !== undefined) selector.matchLabels[key] = text;
  }
  read.array(object['matchExpressions'], `${at}.matchExpressions`).forEach((item, i) => {
    const expression = read.object(item, `${at}.matchExpressions[${i}]`);
    const key = read.string(expression?.['key'], `${at}.matchExpressions[${i}].key`);
    const operator = read.oneOf(expression?.['operator'], `${at}.matchExpressions[${i}].operator`, ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const);
    if (!expression || !key || !operator) return;
    const values = read.array(expression['values'], `${at}.matchExpressions[${i}].values`).filter((v): v is string => typeof v === 'string');
    selector.matchExpressions.push({ key, operator, values });
  });
  return selector;
}

/** Whether a label set matches a selector (matchLabels and matchExpressions, as Kubernetes defines them). */
export function selectorMatches(selector: LabelSelectorView, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions) {
    const has = Object.hasOwn(labels, expression.key);
    const value = labels[expression.key];
    if (expression.operator === 'In' && !(has && expression.values.includes(value!))) return false;
    if (expression.operator === 'NotIn' && has && expression.values.includes(value!)) return false;
    if (expression.operator === 'Exists' && !has) return false;
    if (expression.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export type { Json };
