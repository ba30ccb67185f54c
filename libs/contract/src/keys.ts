/**
 * Key schemes of the KV buckets. NATS KV keys are dot-separated tokens of [-/_=.a-zA-Z0-9]; a token
 * may not be empty. Kubernetes names may hold dots (one token each is fine: the name is always the
 * last part of the key, so extra dots never shift the other fields) but other characters are escaped
 * as `=XX` (hex of the UTF-8 byte), `=` itself included, so every key round-trips exactly.
 */
import { ContractError } from './errors.js';

/** Kinds the watcher mirrors into `tendril-objects`, lower-case as they appear in keys. */
export const OBJECT_KINDS = [
  'service',
  'endpointslice',
  'ingress',
  'ingressclass',
  'secret',
  'namespace',
  'gatewayclass',
  'gateway',
  'httproute',
  'grpcroute',
  'tlsroute',
  'tcproute',
  'udproute',
  'backendtlspolicy',
  'listenerset',
  'referencegrant',
  'ciliumenvoyconfig',
  'ciliumclusterwideenvoyconfig',
  'configmap',
  'node',
  'pod',
  'networkpolicy',
  'ciliumnetworkpolicy',
  'ciliumclusterwidenetworkpolicy',
] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Namespace token used for cluster-scoped objects. */
export const CLUSTER_SCOPED = '_';

const SAFE = /^[-/_a-zA-Z0-9]$/;

/** Escapes one key part so that it holds only KV-safe characters and no empty tokens. */
export function escapeKeyPart(value: string, allowDots: boolean): string {
  if (value.length === 0) throw new ContractError('key part must not be empty');
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const ch = String.fromCharCode(bytes[i]!);
    const isDot = ch === '.';
    // A dot is kept only where it cannot create an empty token (not first, not last, not doubled).
    const dotKeepable = allowDots && isDot && i > 0 && i < bytes.length - 1 && bytes[i - 1] !== 0x2e && bytes[i + 1] !== 0x2e;
    if ((bytes[i]! < 0x80 && SAFE.test(ch)) || dotKeepable) out += ch;
    else out += '=' + bytes[i]!.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function unescapeKeyPart(value: string): string {
  if (!/^(?:[-/_.a-zA-Z0-9]|=[0-9A-F]{2})+$/.test(value)) throw new ContractError(`malformed key part "${value}"`);
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '=') {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(value.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

function splitHead(key: string, parts: number, what: string): string[] {
  const tokens = key.split('.');
  if (tokens.length < parts) throw new ContractError(`${what} key "${key}" has fewer than ${parts} parts`);
  const head = tokens.slice(0, parts - 1);
  head.push(tokens.slice(parts - 1).join('.'));
  if (head.some((t) => t.length === 0)) throw new ContractError(`${what} key "${key}" has an empty part`);
  return head;
}

/** Identity of a Kubernetes object in `tendril-objects` and `tendril-status`. */
export interface ObjectRef {
  cluster: string;
  kind: ObjectKind;
  /** undefined for cluster-scoped objects */
  namespace?: string;
  name: string;
}

export function isObjectKind(kind: string): kind is ObjectKind {
  return (OBJECT_KINDS as readonly string[]).includes(kind);
}

/** `<cluster>.<kind>.<namespace>.<name>`, `_` as the namespace of cluster-scoped objects. */
export function objectKey(ref: ObjectRef): string {
  if (!isObjectKind(ref.kind)) throw new ContractError(`unknown object kind "${ref.kind}"`);
  if (ref.namespace === CLUSTER_SCOPED) throw new ContractError(`namespace "${CLUSTER_SCOPED}" is reserved for cluster-scoped objects`);
  return [
    escapeKeyPart(ref.cluster, false),
    ref.kind,
    ref.namespace === undefined ? CLUSTER_SCOPED : escapeKeyPart(ref.namespace, false),
    escapeKeyPart(ref.name, true),
  ].join('.');
}

export function parseObjectKey(key: string): ObjectRef {
  const [cluster, kind, namespace, name] = splitHead(key, 4, 'object');
  if (!isObjectKind(kind!)) throw new ContractError(`object key "${key}": unknown kind "${kind}"`);
  const ref: ObjectRef = { cluster: unescapeKeyPart(cluster!), kind, name: unescapeKeyPart(name!) };
  if (namespace !== CLUSTER_SCOPED) ref.namespace = unescapeKeyPart(namespace!);
  return ref;
}

/** Key filter for every object of one kind (optionally in one cluster) for KV watches. */
export function objectKeyFilter(kind?: ObjectKind, cluster?: string): string {
  return `${cluster === undefined ? '*' : escapeKeyPart(cluster, false)}.${kind ?? '*'}.>`;
}

/** xDS resource types stored in `tendril-xds`, with their type URLs. */
export const XDS_TYPES = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type XdsType = keyof typeof XDS_TYPES;
export const XDS_TYPE_NAMES = Object.keys(XDS_TYPES) as XdsType[];

export function xdsTypeOfUrl(typeUrl: string): XdsType | undefined {
  return XDS_TYPE_NAMES.find((t) => XDS_TYPES[t] === typeUrl);
}

/** Key of the generation marker in `tendril-xds`; not a resource (see the xds envelope). */
export const XDS_GENERATION_KEY = 'meta.generation';

export interface XdsRef {
  type: XdsType;
  name: string;
}

/** `<type>.<name, base64url>`: Envoy names may hold `/`, `:`, `|` and anything else. */
export function xdsKey(ref: XdsRef): string {
  if (!(ref.type in XDS_TYPES)) throw new ContractError(`unknown xDS type "${ref.type}"`);
  if (ref.name.length === 0) throw new ContractError('xDS resource name must not be empty');
  return `${ref.type}.${Buffer.from(ref.name, 'utf8').toString('base64url')}`;
}

export function parseXdsKey(key: string): XdsRef {
  const [type, encoded] = splitHead(key, 2, 'xds');
  if (!(type! in XDS_TYPES)) throw new ContractError(`xds key "${key}": unknown type "${type}"`);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded!)) throw new ContractError(`xds key "${key}": name is not base64url`);
  return { type: type as XdsType, name: Buffer.from(encoded!, 'base64url').toString('utf8') };
}

/** Identity of an L3/L4 service in `tendril-lb`. */
export interface LbRef {
  cluster: string;
  namespace: string;
  name: string;
}

/** `<cluster>.<namespace>.<name>` */
export function lbKey(ref: LbRef): string {
  return [escapeKeyPart(ref.cluster, false), escapeKeyPart(ref.namespace, false), escapeKeyPart(ref.name, true)].join('.');
}

/**
 * Key of the generation marker in `tendril-lb`: not a service (two tokens, where every LB key has
 * three). Written after the LB entries of each publish, so a reader that has applied it holds them.
 */
export const LB_GENERATION_KEY = 'meta.generation';

/** Whether a `tendril-lb` key names a service (and not the generation marker). */
export function isLbServiceKey(key: string): boolean {
  return key !== LB_GENERATION_KEY;
}

export function parseLbKey(key: string): LbRef {
  const [cluster, namespace, name] = splitHead(key, 3, 'lb');
  return { cluster: unescapeKeyPart(cluster!), namespace: unescapeKeyPart(namespace!), name: unescapeKeyPart(name!) };
}

/** Node ids (Envoy's node.id, any string) as one KV key / subject token. */
export function nodeToken(nodeId: string): string {
  if (nodeId.length === 0) throw new ContractError('node id must not be empty');
  return Buffer.from(nodeId, 'utf8').toString('base64url');
}

export function parseNodeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new ContractError(`node token "${token}" is not base64url`);
  return Buffer.from(token, 'base64url').toString('utf8');
}
