/**
 * GatewayClasses and Gateways: which are ours, and each Gateway listener's state before routes
 * attach (protocol, TLS certificates, allowed route kinds, conflicts). Decisions:
 * - a GatewayClass is ours when spec.controllerName is options.gatewayControllerName; when no
 *   GatewayClass named options.gatewayClassName exists at all and options.gatewayClassAssumed is set
 *   (standalone), Tendril behaves as if Cilium's Helm chart had installed it (so manifests without
 *   one, like the seed examples, work); in a cluster a Gateway's class must exist;
 * - TLS listeners pass through (mode Passthrough) or terminate (mode Terminate) and hand the bytes of
 *   their TLSRoutes to the backends; both may share a port with HTTPS listeners, told apart by SNI;
 * - parametersRef (GatewayClass and Gateway infrastructure): Tendril reads no parameter kinds, so a
 *   reference can never resolve: InvalidParameters;
 * - TCP and UDP listeners take TCPRoutes and UDPRoutes, load-balanced by the eBPF datapath without
 *   the node proxies (l4-routes.ts); a UDP port may share its number with a TCP one;
 * - listeners on one port must agree on the protocol family (HTTP, or HTTPS/TLS told apart by SNI) and
 *   have distinct hostnames; every listener that does not is Conflicted, none wins (markConflicts);
 * - spec.tls.frontend client-certificate validation applies to the listeners that terminate TLS (an
 *   HTTP listener ignores its port's entry); a listener whose CA references are all unusable is not
 *   accepted rather than served without the checks it asked for (see checkClientValidation).
 */
import type { TranslationContext } from '../../context.js';
import { GATEWAY_GROUP, readGateway, readGatewayClass, type GatewayClassView, type GatewayView, type GroupKind, type ListenerView } from '../../kube/gateway-api.js';
import type { IndexedObject } from '../../objects.js';
import type { ClientValidationIR } from '@tendril/model';
import { gatewayClientCaSecretName } from '../../names.js';
import { caBundleProblem, loadTlsSecret, tlsSecretProblem, type LoadedSecrets } from '../tls-secret.js';
import { byName, type NamedLookup } from './collections.js';
import type { BackendResolver } from './backends.js';
import { condition } from './status.js';
import { hostMatches } from './hostnames.js';
import { SUPPORTED_FEATURES } from './status.js';
import { attachListenerSets, type ListenerSetState } from './listener-sets.js';

/** tcp and udp listeners are load-balanced by the eBPF datapath (l4-routes.ts), the others by the node proxies. */
export type ListenerFamily = 'http' | 'https' | 'tls' | 'tcp' | 'udp';

export interface ListenerState {
  view: ListenerView;
  family?: ListenerFamily;
  /** Set when the listener is not accepted: [reason, message]. */
  notAccepted?: [string, string];
  /** Set when another listener is indistinct from it (ProtocolConflict, HostnameConflict): [reason, message]. */
  conflicted?: [string, string];
  /** Set when its TLS hostname overlaps another TLS listener's on its port: the message. */
  overlappingTls?: string;
  /** Set when a reference does not resolve: [reason, message]. */
  unresolved?: [string, string];
  supportedKinds: GroupKind[];
  /** TLS listener in mode Terminate: TLSRoutes get the bytes after the handshake. */
  terminate?: boolean;
  /** SDS secrets of the valid certificates of a listener that terminates TLS (HTTPS, or TLS in mode Terminate). */
  secretNames: string[];
  /** Routes attached (by key), for attachedRoutes. */
  attachedRoutes: Set<string>;
  /** spec.tls.frontend validation of a listener that terminates TLS: client certificates checked against a CA secret. */
  clientValidation?: ClientValidationIR;
  /** `namespace/name` of the ListenerSet it comes from (listener-sets.ts); absent for the Gateway's own. */
  listenerSet?: string;
}

export interface GatewayState {
  /** The Gateway as stored (its identity tells the translation memo whether it changed). */
  object: object;
  view: GatewayView;
  apiVersion: string;
  listeners: ListenerState[];
  /** Set when the Gateway itself is not accepted: [reason, message]. */
  notAccepted?: [string, string];
  address?: string;
  /** Set when a requested address cannot be served: Programmed=False AddressNotUsable. */
  addressNotUsable?: string;
  /** Some served listener accepts client certificates it cannot verify (mode AllowInsecureFallback). */
  insecureFrontendValidation?: boolean;
  /** The ListenerSets naming it as parent (listener-sets.ts), allowed or not. */
  listenerSets: ListenerSetState<ListenerState>[];
  /** spec.tls.backend.clientCertificateRef that does not resolve: [reason, message] of the Gateway's ResolvedRefs. */
  backendClientCertificateUnresolved?: [string, string];
  /** spec.tls.backend.clientCertificateRef that resolves: the Secret (`namespace/name`) a backend asking for a client certificate gets. */
  backendClientCertificate?: string;
}

const HTTP_KINDS: GroupKind[] = [
  { group: GATEWAY_GROUP, kind: 'HTTPRoute' },
  { group: GATEWAY_GROUP, kind: 'GRPCRoute' },
];
const TLS_KINDS: GroupKind[] = [{ group: GATEWAY_GROUP, kind: 'TLSRoute' }];
const KINDS_OF: Record<ListenerFamily, GroupKind[]> = { http: HTTP_KINDS, https: HTTP_KINDS, tls: TLS_KINDS, tcp: [{ group: GATEWAY_GROUP, kind: 'TCPRoute' }], udp: [{ group: GATEWAY_GROUP, kind: 'UDPRoute' }] };

/** Names of our GatewayClasses; writes their status. */
export function ourClasses(context: TranslationContext): Set<string> {
  const { options } = context;
  const views = context.index.local('gatewayclass').map((entry) => ({ entry, view: context.view(entry.object, 'gatewayclass', context.problems, (sink) => readGatewayClass(entry, sink)) }));
  const ours = new Set<string>();
  if (options.gatewayClassAssumed && !views.some(({ view }) => view.name === options.gatewayClassName)) ours.add(options.gatewayClassName);
  for (const { entry, view } of views) {
    if (view.controllerName !== options.gatewayControllerName) continue;
    ours.add(view.name);
    context.setStatus(view.key, { v: 1, apiVersion: apiVersionOf(entry), kind: 'GatewayClass', name: view.name, status: classStatus(view) });
  }
  return ours;
}

function classStatus(view: GatewayClassView): Record<string, unknown> {
  const accepted = view.parametersRef
    ? condition('Accepted', false, 'InvalidParameters', `parametersRef ${view.parametersRef.group || 'core'}/${view.parametersRef.kind} ${view.parametersRef.name}: Tendril reads no parameters of this kind`, view.generation)
    : condition('Accepted', true, 'Accepted', `Handled by ${view.controllerName}`, view.generation);
  return { conditions: [accepted], supportedFeatures: [...SUPPORTED_FEATURES].sort().map((name) => ({ name })) };
}

export function apiVersionOf(entry: IndexedObject): string {
  const apiVersion = entry.object['apiVersion'];
  return typeof apiVersion === 'string' && apiVersion ? apiVersion : `${GATEWAY_GROUP}/v1`;
}

/** Our Gateways with their listeners checked (certificates loaded into the IR as SDS secrets). */
export function readGateways(context: TranslationContext, classes: Set<string>, resolver: BackendResolver): GatewayState[] {
  const secrets = byName(context, 'secret', (entry) => entry);
  const configMaps = byName(context, 'configmap', (entry) => entry);
  // SDS secrets already made (by an Ingress load balancer, or a listener before): each look-up is a read.
  const own = new Set<string>();
  const loaded: LoadedSecrets = { has: (name) => own.has(name) || context.made('secrets', name), add: (name) => own.add(name) };
  const out: GatewayState[] = [];
  for (const entry of context.index.local('gateway')) {
    const view = context.view(entry.object, 'gateway', context.problems, (sink) => readGateway(entry, sink));
    if (!classes.has(view.className)) continue;
    const gateway: GatewayState = { object: entry.object, view, apiVersion: apiVersionOf(entry), listeners: view.listeners.map((listener) => checkListener(context, view, listener, resolver, secrets, loaded)), listenerSets: [] };
    attachListenerSets(context, gateway, (set, listener) => checkListener(context, set, listener, resolver, secrets, loaded));
    for (const listener of gateway.listeners) checkClientValidation(context, view, listener, resolver, { Secret: secrets, ConfigMap: configMaps }, loaded);
    gateway.insecureFrontendValidation = gateway.listeners.some((listener) => listener.clientValidation && !listener.clientValidation.required);
    markConflicts(gateway);
    markOverlappingTls(gateway);
    checkBackendClientCertificate(gateway, resolver, secrets);
    if (view.infrastructureParametersRef) {
      const ref = view.infrastructureParametersRef;
      gateway.notAccepted = ['InvalidParameters', `spec.infrastructure.parametersRef ${ref.group || 'core'}/${ref.kind} ${ref.name}: Tendril reads no parameters of this kind`];
    } else if (!gateway.listeners.some((listener) => !listener.notAccepted && !listener.conflicted)) {
      gateway.notAccepted = ['ListenersNotValid', `no listener is valid: ${listenersSummary(gateway)}`];
    }
    out.push(gateway);
  }
  return out;
}

export function checkListener(
  context: TranslationContext,
  gateway: GatewayView,
  view: ListenerView,
  resolver: BackendResolver,
  secrets: NamedLookup<IndexedObject>,
  loaded: LoadedSecrets,
): ListenerState {
  const state: ListenerState = { view, supportedKinds: [], secretNames: [], attachedRoutes: new Set() };
  const mode = view.tls?.mode ?? 'Terminate';
  if (view.protocol === 'HTTP') state.family = 'http';
  else if (view.protocol === 'HTTPS') {
    if (mode === 'Terminate') state.family = 'https';
    else state.notAccepted = ['UnsupportedValue', `${view.at}.tls.mode: HTTPS listeners terminate TLS (mode Terminate)`];
  } else if (view.protocol === 'TLS') {
    state.family = 'tls';
    if (mode === 'Terminate') state.terminate = true;
    else if (mode !== 'Passthrough') state.notAccepted = ['UnsupportedValue', `${view.at}.tls.mode: ${mode} is not a TLS mode (Terminate, Passthrough)`];
  } else if (view.protocol === 'TCP') state.family = 'tcp';
  else if (view.protocol === 'UDP') state.family = 'udp';
  else state.notAccepted = ['UnsupportedProtocol', `${view.at}.protocol: ${view.protocol || '(none)'} is not supported (HTTP, HTTPS, TLS, TCP, UDP)`];
  if (!state.family || state.notAccepted) return state;

  const allowed = KINDS_OF[state.family];
  if (view.allowedRoutes.kinds) {
    for (const kind of view.allowedRoutes.kinds) {
      if (allowed.some((k) => k.group === kind.group && k.kind === kind.kind)) {
        if (!state.supportedKinds.some((k) => k.kind === kind.kind)) state.supportedKinds.push({ ...kind });
      } else state.unresolved ??= ['InvalidRouteKinds', `${view.at}.allowedRoutes.kinds: ${kind.group}/${kind.kind} is not supported on a ${view.protocol} listener`];
    }
  } else state.supportedKinds = allowed.map((kind) => ({ ...kind }));

  if (state.family === 'https' || state.terminate) {
    const refs = view.tls?.certificateRefs ?? [];
    if (refs.length === 0) state.unresolved ??= ['InvalidCertificateRef', `${view.at}.tls.certificateRefs: a listener that terminates TLS needs a certificate`];
    refs.forEach((ref, i) => {
      const at = `${view.at}.tls.certificateRefs[${i}]`;
      const namespace = ref.namespace ?? gateway.namespace;
      if (!((ref.group === '' || ref.group === 'core') && ref.kind === 'Secret')) {
        state.unresolved ??= ['InvalidCertificateRef', `${at}: ${ref.group || 'core'}/${ref.kind} is not a Secret`];
        return;
      }
      if (!resolver.permitted({ group: GATEWAY_GROUP, kind: gateway.referrerKind ?? 'Gateway', namespace: gateway.namespace }, { group: '', kind: 'Secret', namespace, name: ref.name })) {
        state.unresolved ??= ['RefNotPermitted', `${at}: Secret ${namespace}/${ref.name} is in another namespace and no ReferenceGrant there allows it`];
        return;
      }
      const secretName = loadTlsSecret(context, secrets, loaded, namespace, ref.name);
      if (typeof secretName !== 'string') {
        state.unresolved ??= ['InvalidCertificateRef', `${at}: ${secretName.problem}`];
        return;
      }
      state.secretNames.push(secretName);
    });
  }
  return state;
}

/**
 * spec.tls.frontend: a listener that terminates TLS takes its port's perPort validation, else the
 * default one. Each CA reference is a ConfigMap (core) or a Secret holding PEM under `ca.crt`, in
 * another namespace only with a ReferenceGrant. A bad reference sets ResolvedRefs=False
 * (InvalidCACertificateKind, RefNotPermitted, InvalidCACertificateRef) and the valid ones are used;
 * none valid: the listener is not accepted (NoValidCACertificate) and not served, rather than
 * served without the client checks it asked for. The CAs of a port become one SDS validation
 * context; AllowInsecureFallback asks for a certificate and accepts any (or none).
 */
function checkClientValidation(
  context: TranslationContext,
  gateway: GatewayView,
  state: ListenerState,
  resolver: BackendResolver,
  sources: Record<'Secret' | 'ConfigMap', NamedLookup<IndexedObject>>,
  loaded: LoadedSecrets,
): void {
  if (!(state.family === 'https' || state.terminate) || state.notAccepted) return;
  const port = state.view.port;
  const frontend = gateway.frontendValidation;
  const perPort = frontend?.perPort.find((entry) => entry.port === port);
  const validation = perPort ? perPort.validation : frontend?.default;
  if (!validation || validation.caCertificateRefs.length === 0) return;
  const bundles: string[] = [];
  validation.caCertificateRefs.forEach((ref, i) => {
    const at = `${validation.at}.caCertificateRefs[${i}]`;
    const namespace = ref.namespace ?? gateway.namespace;
    const kind = ref.group === '' || ref.group === 'core' ? ref.kind : '';
    if (kind !== 'ConfigMap' && kind !== 'Secret') {
      state.unresolved ??= ['InvalidCACertificateKind', `${at}: ${ref.group || 'core'}/${ref.kind} is not a ConfigMap or Secret`];
      return;
    }
    if (!resolver.permitted({ group: GATEWAY_GROUP, kind: gateway.referrerKind ?? 'Gateway', namespace: gateway.namespace }, { group: '', kind, namespace, name: ref.name })) {
      state.unresolved ??= ['RefNotPermitted', `${at}: ${kind} ${namespace}/${ref.name} is in another namespace and no ReferenceGrant there allows it`];
      return;
    }
    const entry = sources[kind].get(`${namespace}/${ref.name}`);
    const pem = entry ? caBundle(entry.object, kind) : '';
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      state.unresolved ??= ['InvalidCACertificateRef', `${at}: ${kind} ${namespace}/${ref.name} ${entry ? 'holds no PEM certificate under ca.crt' : 'not found'}`];
      return;
    }
    const problem = caBundleProblem(entry!.object, pem);
    if (problem) {
      state.unresolved ??= ['InvalidCACertificateRef', `${at}: ${kind} ${namespace}/${ref.name}: ${problem}`];
      return;
    }
    bundles.push(pem.trim());
  });
  if (bundles.length === 0) {
    state.notAccepted = ['NoValidCACertificate', `${validation.at}.caCertificateRefs: no reference names a usable CA certificate`];
    return;
  }
  const acceptUntrusted = validation.mode === 'AllowInsecureFallback';
  const secretName = gatewayClientCaSecretName(gateway.namespace, gateway.name, port);
  if (!loaded.has(secretName)) {
    context.ir.secrets.push({ name: secretName, trustedCa: bundles.join('\n') + '\n', ...(acceptUntrusted ? { acceptUntrusted } : {}), source: gateway.source });
    loaded.add(secretName);
  }
  state.clientValidation = { secretName, required: !acceptUntrusted };
}

/** PEM under `ca.crt`: a ConfigMap's data (or base64 binaryData), a Secret's base64 data. */
export function caBundle(object: Record<string, unknown>, kind: 'ConfigMap' | 'Secret'): string {
  const field = (name: string) => {
    const value = object[name];
    const text = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['ca.crt'] : undefined;
    return typeof text === 'string' ? text : undefined;
  };
  const base64 = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text, 'base64').toString('utf8'));
  return (kind === 'ConfigMap' ? (field('data') ?? base64(field('binaryData'))) : base64(field('data'))) ?? '';
}

/**
 * Which listeners share a port compatibly: HTTP alone; HTTPS and TLS together (told apart by SNI);
 * TCP alone. Listeners of two groups on one port cannot be told apart by the bytes that arrive. UDP
 * ports are a space of their own: a UDP listener shares its number with any TCP-borne one.
 */
const PORT_GROUP: Record<ListenerFamily, string> = { http: 'HTTP', https: 'HTTPS/TLS', tls: 'HTTPS/TLS', tcp: 'TCP', udp: 'UDP' };

/**
 * Distinct listeners (GatewaySpec.listeners, "Handling indistinct Listeners"): no winner is picked.
 * Every listener of a port that holds listeners of two protocol groups is Conflicted
 * (ProtocolConflict); of the rest, every listener whose hostname another listener of its port also
 * has (no hostname counts as one value) is Conflicted (HostnameConflict). Conflicted listeners are
 * neither accepted nor programmed. Listeners with a protocol Tendril does not serve take no part.
 */
export function markConflicts(gateway: GatewayState): void {
  const byPort = new Map<string, ListenerState[]>();
  for (const listener of gateway.listeners) if (listener.family) pushListener(byPort, `${listener.family === 'udp' ? 'udp' : 'tcp'}/${listener.view.port}`, listener);
  for (const listeners of byPort.values()) {
    const port = listeners[0]!.view.port;
    const groups = [...new Set(listeners.map((listener) => PORT_GROUP[listener.family!]))].sort();
    if (groups.length > 1) {
      const names = listeners.map((listener) => listener.view.name).join(', ');
      for (const listener of listeners) listener.conflicted = ['ProtocolConflict', `port ${port} is claimed by listeners of protocols that cannot share it (${groups.join(' and ')}): ${names}`];
      continue;
    }
    const byHostname = new Map<string, ListenerState[]>();
    for (const listener of listeners) pushListener(byHostname, listener.view.hostname, listener);
    for (const [hostname, same] of byHostname) {
      if (same.length < 2) continue;
      const names = same.map((listener) => listener.view.name).join(', ');
      for (const listener of same) listener.conflicted = ['HostnameConflict', `hostname "${hostname || '*'}" on port ${port} is claimed by listeners ${names}`];
    }
  }
}

/**
 * OverlappingTLSConfig (a negative-polarity condition: set only when true): listeners on one port
 * that serve TLS (HTTPS, TLS) and whose hostnames overlap (one covers the other; a listener without a
 * hostname covers every name). Overlapping certificates are not looked at. Conflicted listeners are
 * left out: they are not served.
 */
export function markOverlappingTls(gateway: GatewayState): void {
  const tls = gateway.listeners.filter((listener) => (listener.family === 'https' || listener.family === 'tls') && !listener.conflicted && !listener.notAccepted);
  for (const listener of tls) {
    const others = tls.filter((other) => other !== listener && other.view.port === listener.view.port && hostnamesOverlap(other.view.hostname, listener.view.hostname));
    if (others.length) listener.overlappingTls = `hostname "${listener.view.hostname || '*'}" on port ${listener.view.port} overlaps with listeners ${others.map((other) => `${other.view.name} ("${other.view.hostname || '*'}")`).join(', ')}`;
  }
}

function hostnamesOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

function pushListener<K>(map: Map<K, ListenerState[]>, key: K, listener: ListenerState): void {
  const list = map.get(key);
  if (list) list.push(listener);
  else map.set(key, [listener]);
}

/**
 * spec.tls.backend.clientCertificateRef: a core Secret (kubernetes.io/tls, a certificate and its key),
 * in another namespace only with a ReferenceGrant. A bad reference makes the Gateway's ResolvedRefs
 * False (InvalidClientCertificateRef, RefNotPermitted) and leaves the Gateway accepted; a good one is
 * kept for the backends that ask for a client certificate (upstream TLS), and published only then.
 */
function checkBackendClientCertificate(gateway: GatewayState, resolver: BackendResolver, secrets: NamedLookup<IndexedObject>): void {
  const ref = gateway.view.backendClientCertificateRef;
  if (!ref) return;
  const at = 'spec.tls.backend.clientCertificateRef';
  const namespace = ref.namespace ?? gateway.view.namespace;
  if (!((ref.group === '' || ref.group === 'core') && ref.kind === 'Secret')) {
    gateway.backendClientCertificateUnresolved = ['InvalidClientCertificateRef', `${at}: ${ref.group || 'core'}/${ref.kind} is not a Secret`];
    return;
  }
  if (!resolver.permitted({ group: GATEWAY_GROUP, kind: 'Gateway', namespace: gateway.view.namespace }, { group: '', kind: 'Secret', namespace, name: ref.name })) {
    gateway.backendClientCertificateUnresolved = ['RefNotPermitted', `${at}: Secret ${namespace}/${ref.name} is in another namespace and no ReferenceGrant there allows it`];
    return;
  }
  const problem = tlsSecretProblem(secrets, namespace, ref.name);
  if (problem) gateway.backendClientCertificateUnresolved = ['InvalidClientCertificateRef', `${at}: ${problem}`];
  else gateway.backendClientCertificate = `${namespace}/${ref.name}`;
}

/** Which listeners are conflicted, which are otherwise not accepted, which are accepted (the ListenersNotValid message). */
function listenersSummary(gateway: GatewayState): string {
  const names = (pick: (listener: ListenerState) => boolean) => gateway.listeners.filter(pick).map((listener) => listener.view.name);
  const parts: string[] = [];
  const conflicted = names((listener) => listener.conflicted !== undefined);
  const invalid = names((listener) => listener.conflicted === undefined && listener.notAccepted !== undefined);
  const accepted = names((listener) => listener.conflicted === undefined && listener.notAccepted === undefined);
  if (conflicted.length) parts.push(`conflicted: ${conflicted.join(', ')}`);
  if (invalid.length) parts.push(`not accepted: ${invalid.join(', ')}`);
  parts.push(`accepted: ${accepted.join(', ') || 'none'}`);
  return parts.join('; ');
}

/** The Gateway's status: addresses, Accepted, Programmed, and each listener's conditions. */
export function gatewayStatus(gateway: GatewayState, programmedListeners: Set<ListenerState>): Record<string, unknown> {
  const generation = gateway.view.generation;
  const someInvalid = gateway.listeners.some((listener) => listener.notAccepted || listener.conflicted);
  const accepted = gateway.notAccepted
    ? condition('Accepted', false, gateway.notAccepted[0], gateway.notAccepted[1], generation)
    : someInvalid
      ? condition('Accepted', true, 'ListenersNotValid', listenersSummary(gateway), generation)
      : condition('Accepted', true, 'Accepted', 'Gateway accepted', generation);
  const programmed = gateway.notAccepted
    ? condition('Programmed', false, 'Invalid', 'the Gateway is not accepted', generation)
    : gateway.addressNotUsable !== undefined
      ? condition('Programmed', false, 'AddressNotUsable', gateway.addressNotUsable, generation)
      : gateway.address === undefined
      ? condition('Programmed', false, 'AddressNotAssigned', 'no address could be assigned', generation)
      : condition('Programmed', true, 'Programmed', 'Gateway programmed in the node proxies', generation);
  const own = gateway.listeners.filter((listener) => !listener.listenerSet);
  const listeners = own.map((listener) => listenerEntry(listener, programmedListeners, !!gateway.notAccepted, generation));
  // ResolvedRefs of the Gateway: its own references (spec.tls.backend), then a summary of its listeners'.
  const unresolvedListeners = own.filter((listener) => listener.unresolved).map((listener) => listener.view.name);
  const resolvedRefs = gateway.backendClientCertificateUnresolved
    ? condition('ResolvedRefs', false, gateway.backendClientCertificateUnresolved[0], gateway.backendClientCertificateUnresolved[1], generation)
    : unresolvedListeners.length
      ? condition('ResolvedRefs', false, 'ListenersNotResolved', `listeners with references that do not resolve: ${unresolvedListeners.join(', ')}`, generation)
      : condition('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', generation);
  const conditions = [accepted, programmed, resolvedRefs];
  // GEP-91: a Gateway that lets unverified client certificates through says so
  if (gateway.insecureFrontendValidation && !gateway.notAccepted) {
    conditions.push(condition('InsecureFrontendValidationMode', true, 'ConfigurationChanged', 'spec.tls.frontend: a listener accepts client certificates it cannot verify (AllowInsecureFallback)', generation));
  }
  const status: Record<string, unknown> = { conditions, listeners };
  if (gateway.address !== undefined) status['addresses'] = [{ type: 'IPAddress', value: gateway.address }];
  if (gateway.listenerSets.length) status['attachedListenerSets'] = gateway.listenerSets.filter((set) => !set.notAllowed).length;
  return status;
}

/** A listener's entry in its Gateway's (or ListenerSet's) status.listeners. */
export function listenerEntry(listener: ListenerState, programmedListeners: Set<ListenerState>, gatewayNotAccepted: boolean, generation: number): Record<string, unknown> {
    const ok = !listener.notAccepted && !listener.conflicted;
    const conditions = [
      listener.notAccepted
        ? condition('Accepted', false, listener.notAccepted[0], listener.notAccepted[1], generation)
        : listener.conflicted
          ? condition('Accepted', false, listener.conflicted[0], listener.conflicted[1], generation)
          : condition('Accepted', true, 'Accepted', 'Listener accepted', generation),
      listener.conflicted ? condition('Conflicted', true, listener.conflicted[0], listener.conflicted[1], generation) : condition('Conflicted', false, 'NoConflicts', 'No conflicts', generation),
      programmedListeners.has(listener) && ok && !gatewayNotAccepted
        ? condition('Programmed', true, 'Programmed', 'Listener programmed', generation)
        : condition('Programmed', false, 'Invalid', 'Listener not programmed: see its other conditions', generation),
      listener.unresolved ? condition('ResolvedRefs', false, listener.unresolved[0], listener.unresolved[1], generation) : condition('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', generation),
    ];
    if (listener.overlappingTls) conditions.push(condition('OverlappingTLSConfig', true, 'OverlappingHostnames', listener.overlappingTls, generation));
    return { name: listener.view.name, supportedKinds: listener.supportedKinds.map((kind) => ({ group: kind.group, kind: kind.kind })), attachedRoutes: listener.attachedRoutes.size, conditions };
}
