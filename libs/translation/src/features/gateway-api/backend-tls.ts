/**
 * BackendTLSPolicy (gateway.networking.k8s.io v1): Gateway routes reach the Services it targets over
 * TLS, with the backend's certificate checked. Decisions:
 * - a route's backend whose Service (and port, when `sectionName` names one) a policy targets goes to
 *   a TLS twin of the Service port's cluster (`<cluster>/tls`, same endpoints), so Ingresses, GAMMA
 *   and proxyless clients of the same Service are left as they are;
 * - SNI is `validation.hostname`; the certificate must carry one of `subjectAltNames`, else the
 *   hostname (as the spec asks); it is checked against the PEM under `ca.crt` of the ConfigMaps (or
 *   Secrets) of `caCertificateRefs`, or the proxy's system roots (`wellKnownCACertificates: System`);
 * - a bad reference: ResolvedRefs=False (InvalidKind, InvalidCACertificateRef) and the valid ones are
 *   used; none valid (or an unknown well-known set): Accepted=False (NoValidCACertificate, Invalid) and
 *   the backend's connections fail (503), never sent in plaintext;
 * - two policies targeting one Service port: the older (then by name) applies, the other is
 *   Accepted=False Conflicted;
 * - status: an ancestor entry per Gateway of ours with a route to a targeted Service.
 */
import type { Condition } from '@tendril/contract';
import type { UpstreamValidationIR } from '@tendril/model';
import type { TranslationContext } from '../../context.js';
import { FieldReader } from '../../kube/fields.js';
import { GATEWAY_GROUP, readMeta, type GatewayApiMeta } from '../../kube/gateway-api.js';
import type { IndexedObject } from '../../objects.js';
import { compare } from '../../problems.js';
import type { NamedLookup } from './collections.js';
import { caBundle } from './gateways.js';
import { condition } from './status.js';

export interface BackendTlsPolicy {
  meta: GatewayApiMeta;
  apiVersion: string;
  /** Targeted Services by `namespace/name`, with the port name a sectionName restricts the policy to. */
  targets: { service: string; sectionName?: string }[];
  sni: string;
  /** Undefined when the policy cannot be enforced: connections through it fail. */
  validation?: UpstreamValidationIR;
  /** [reason, message] of a reference that did not resolve. */
  unresolved?: [string, string];
  /** [reason, message] when the policy is not accepted. */
  notAccepted?: [string, string];
}

/** What a backend Service port's cluster becomes: TLS settings, or a failure (the policy cannot be enforced). */
export type BackendTls = { policy: BackendTlsPolicy; tls?: { sni: string; validation: UpstreamValidationIR } };

/** Every BackendTLSPolicy of this cluster, read and checked, oldest first. */
export function readBackendTlsPolicies(context: TranslationContext, configMaps: NamedLookup<IndexedObject>, secrets: NamedLookup<IndexedObject>): BackendTlsPolicy[] {
  const policies = context.index.local('backendtlspolicy').map((entry) => readPolicy(entry, context, configMaps, secrets));
  return policies.sort((a, b) => compare(a.meta.creationTimestamp || '\uffff', b.meta.creationTimestamp || '\uffff') || compare(`${a.meta.namespace}/${a.meta.name}`, `${b.meta.namespace}/${b.meta.name}`));
}

function readPolicy(entry: IndexedObject, context: TranslationContext, configMaps: NamedLookup<IndexedObject>, secrets: NamedLookup<IndexedObject>): BackendTlsPolicy {
  const read = new FieldReader(context.problems, entry.source);
  const meta = readMeta(entry, read);
  const apiVersion = typeof entry.object['apiVersion'] === 'string' ? entry.object['apiVersion'] : `${GATEWAY_GROUP}/v1`;
  const spec = read.object(entry.object['spec'], 'spec') ?? {};
  const policy: BackendTlsPolicy = { meta, apiVersion, targets: [], sni: '' };
  read.array(spec['targetRefs'], 'spec.targetRefs').forEach((item, i) => {
    const at = `spec.targetRefs[${i}]`;
    const ref = read.object(item, at);
    const name = read.string(ref?.['name'], `${at}.name`);
    const group = read.string(ref?.['group'], `${at}.group`) ?? '';
    const kind = read.string(ref?.['kind'], `${at}.kind`) ?? '';
    if (!name) return;
    if (!((group === '' || group === 'core') && kind === 'Service')) {
      policy.notAccepted ??= ['Invalid', `${at}: ${group || 'core'}/${kind} is not a Service (the only kind a BackendTLSPolicy targets here)`];
      return;
    }
    const sectionName = read.string(ref?.['sectionName'], `${at}.sectionName`);
    policy.targets.push({ service: `${meta.namespace}/${name}`, ...(sectionName ? { sectionName } : {}) });
  });
  const validation = read.object(spec['validation'], 'spec.validation') ?? {};
  policy.sni = (read.string(validation['hostname'], 'spec.validation.hostname') ?? '').toLowerCase();
  if (!policy.sni) policy.notAccepted ??= ['Invalid', 'spec.validation.hostname: required'];
  const subjectAltNames: UpstreamValidationIR['subjectAltNames'] = [];
  read.array(validation['subjectAltNames'], 'spec.validation.subjectAltNames').forEach((item, i) => {
    const at = `spec.validation.subjectAltNames[${i}]`;
    const san = read.object(item, at);
    const type = read.string(san?.['type'], `${at}.type`);
    if (type === 'Hostname') {
      const hostname = read.string(san?.['hostname'], `${at}.hostname`);
      if (hostname) subjectAltNames.push({ kind: 'DNS', value: hostname.toLowerCase() });
    } else if (type === 'URI') {
      const uri = read.string(san?.['uri'], `${at}.uri`);
      if (uri) subjectAltNames.push({ kind: 'URI', value: uri });
    } else policy.notAccepted ??= ['Invalid', `${at}.type: ${type ?? '(none)'} is not Hostname or URI`];
  });
  if (subjectAltNames.length === 0 && policy.sni) subjectAltNames.push({ kind: 'DNS', value: policy.sni });

  const wellKnown = read.string(validation['wellKnownCACertificates'], 'spec.validation.wellKnownCACertificates');
  const refs = read.array(validation['caCertificateRefs'], 'spec.validation.caCertificateRefs');
  const bundles: string[] = [];
  refs.forEach((item, i) => {
    const at = `spec.validation.caCertificateRefs[${i}]`;
    const ref = read.object(item, at);
    const name = read.string(ref?.['name'], `${at}.name`) ?? '';
    const group = read.string(ref?.['group'], `${at}.group`) ?? '';
    const kind = read.string(ref?.['kind'], `${at}.kind`) ?? '';
    if (!(group === '' || group === 'core') || (kind !== 'ConfigMap' && kind !== 'Secret')) {
      policy.unresolved ??= ['InvalidKind', `${at}: ${group || 'core'}/${kind} is not a ConfigMap or Secret`];
      return;
    }
    const source = (kind === 'ConfigMap' ? configMaps : secrets).get(`${meta.namespace}/${name}`);
    const pem = source ? caBundle(source.object, kind) : '';
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      policy.unresolved ??= ['InvalidCACertificateRef', `${at}: ${kind} ${meta.namespace}/${name} ${source ? 'holds no PEM certificate under ca.crt' : 'not found'}`];
      return;
    }
    bundles.push(pem.trim());
  });
  if (refs.length > 0 && wellKnown !== undefined) policy.notAccepted ??= ['Invalid', 'spec.validation: caCertificateRefs and wellKnownCACertificates exclude each other'];
  let trustedCa: UpstreamValidationIR['trustedCa'] | undefined;
  if (bundles.length) trustedCa = { kind: 'pem', pem: `${bundles.join('\n')}\n` };
  else if (refs.length === 0 && wellKnown === 'System') trustedCa = { kind: 'system' };
  else if (refs.length === 0 && wellKnown !== undefined) policy.notAccepted ??= ['Invalid', `spec.validation.wellKnownCACertificates: ${wellKnown} is not supported (System)`];
  else if (refs.length === 0) policy.notAccepted ??= ['Invalid', 'spec.validation: caCertificateRefs or wellKnownCACertificates is required'];
  else policy.notAccepted ??= ['NoValidCACertificate', 'spec.validation.caCertificateRefs: no reference names a usable CA certificate'];
  if (trustedCa && !policy.notAccepted) policy.validation = { trustedCa, subjectAltNames };
  return policy;
}

/**
 * The policy in force for each Service port (`namespace/name` and port name): the first (oldest)
 * policy naming it; a later one naming the same port is marked Conflicted.
 */
export class BackendTlsTable {
  private readonly byService = new Map<string, { policy: BackendTlsPolicy; sectionName?: string }[]>();
  readonly conflicted = new Map<BackendTlsPolicy, string>();
  /** Every policy naming a Service, in force or not (their status names the Gateways using the Service). */
  private readonly naming = new Map<string, Set<BackendTlsPolicy>>();

  constructor(readonly policies: BackendTlsPolicy[]) {
    const taken = new Map<string, BackendTlsPolicy>();
    for (const policy of policies) {
      for (const target of policy.targets) {
        const id = `${target.service}|${target.sectionName ?? ''}`;
        const naming = this.naming.get(target.service) ?? new Set();
        this.naming.set(target.service, naming.add(policy));
        const holder = taken.get(id);
        if (holder && holder !== policy) {
          if (!this.conflicted.has(policy)) this.conflicted.set(policy, `${target.service}${target.sectionName ? ` port ${target.sectionName}` : ''} is already targeted by BackendTLSPolicy ${holder.meta.namespace}/${holder.meta.name}`);
          continue;
        }
        taken.set(id, policy);
        const list = this.byService.get(target.service) ?? [];
        list.push({ policy, ...(target.sectionName ? { sectionName: target.sectionName } : {}) });
        this.byService.set(target.service, list);
      }
    }
  }

  /** The policy for a Service port: one naming the port by sectionName wins over one for the whole Service. */
  forPort(service: string, portName: string): BackendTls | undefined {
    const entries = (this.byService.get(service) ?? []).filter((entry) => !this.conflicted.has(entry.policy));
    const entry = entries.find((candidate) => candidate.sectionName !== undefined && candidate.sectionName === portName) ?? entries.find((candidate) => candidate.sectionName === undefined);
    if (!entry) return undefined;
    const { policy } = entry;
    return policy.validation ? { policy, tls: { sni: policy.sni, validation: policy.validation } } : { policy };
  }

  /** The policies naming the Service, in force or not (for their ancestors). */
  targets(service: string): BackendTlsPolicy[] {
    return [...(this.naming.get(service) ?? [])];
  }
}

/** A policy's status: one ancestor entry per Gateway (`namespace/name`) of ours using it. */
export function backendTlsStatus(policy: BackendTlsPolicy, conflicted: string | undefined, gateways: string[], controllerName: string): Record<string, unknown> {
  const generation = policy.meta.generation;
  const accepted: Condition = conflicted
    ? condition('Accepted', false, 'Conflicted', conflicted, generation)
    : policy.notAccepted
      ? condition('Accepted', false, policy.notAccepted[0], policy.notAccepted[1], generation)
      : condition('Accepted', true, 'Accepted', 'Policy accepted', generation);
  const resolved = policy.unresolved ? condition('ResolvedRefs', false, policy.unresolved[0], policy.unresolved[1], generation) : condition('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', generation);
  return {
    ancestors: [...gateways].sort(compare).slice(0, 16).map((id) => {
      const [namespace, name] = id.split('/') as [string, string];
      return { ancestorRef: { group: GATEWAY_GROUP, kind: 'Gateway', namespace, name }, controllerName, conditions: [accepted, resolved] };
    }),
  };
}
