/**
 * The SDS secrets a Listener or a Cluster needs: the names of the SdsSecretConfigs in the transport
 * sockets of its filter chains (Listener: filter_chains, default_filter_chain) or of the cluster
 * (transport_socket, transport_socket_matches). Inside a transport socket every SdsSecretConfig counts,
 * also in a wrapping socket's inner one (proxy protocol, tap), as far as the loaded protos describe
 * its Any; what cannot be decoded names nothing, so a secret only it would name is not served.
 */
import protobuf from 'protobufjs';
import { lookupMessage } from './protos.js';
import { ENVOY_TYPE_URLS, messageNameOf } from './types.js';

const SDS_SECRET_CONFIG = '.envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig';
const ANY = '.google.protobuf.Any';
/** Every TLS context's Any names its type under this package; without it, bytes name no secret. */
const TLS_PACKAGE = Buffer.from('transport_sockets.tls.v3');
const MAX_DEPTH = 32;

type Message = Record<string, unknown>;

/** SDS secret names a Listener or Cluster (its protobuf bytes) refers to in its transport sockets; sorted, unique. */
export function sdsSecretNames(typeUrl: string, bytes: Uint8Array): string[] {
  if (typeUrl !== ENVOY_TYPE_URLS.listener && typeUrl !== ENVOY_TYPE_URLS.cluster) return [];
  if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(TLS_PACKAGE) < 0) return [];
  const message = lookupMessage(messageNameOf(typeUrl)).decode(bytes) as unknown as Message;
  const sockets: unknown[] = [];
  if (typeUrl === ENVOY_TYPE_URLS.listener) {
    for (const chain of [...asArray(message['filterChains']), message['defaultFilterChain']]) sockets.push((chain as Message | null)?.['transportSocket']);
  } else {
    sockets.push(message['transportSocket']);
    for (const match of asArray(message['transportSocketMatches'])) sockets.push((match as Message)['transportSocket']);
  }
  const names = new Set<string>();
  const socketType = lookupMessage('envoy.config.core.v3.TransportSocket');
  for (const socket of sockets) if (socket) walk(socketType, socket as Message, names, 0);
  return [...names].sort();
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Collects the names of every SdsSecretConfig in a decoded message, decoding the Anys it can. */
function walk(type: protobuf.Type, message: Message, names: Set<string>, depth: number): void {
  if (depth > MAX_DEPTH) return;
  for (const field of type.fieldsArray) {
    const fieldType = field.resolvedType;
    if (!(fieldType instanceof protobuf.Type)) continue;
    const value = message[field.name];
    if (value === null || value === undefined) continue;
    const items = field.map ? Object.values(value as object) : Array.isArray(value) ? value : [value];
    for (const item of items as Message[]) {
      if (fieldType.fullName === SDS_SECRET_CONFIG) {
        if (typeof item['name'] === 'string' && item['name'] !== '') names.add(item['name']);
      } else if (fieldType.fullName === ANY) {
        const inner = unpack(item);
        if (inner) walk(inner.type, inner.message, names, depth + 1);
      } else walk(fieldType, item, names, depth + 1);
    }
  }
}

function unpack(any: Message): { type: protobuf.Type; message: Message } | undefined {
  const typeUrl = any['typeUrl'];
  const value = any['value'];
  if (typeof typeUrl !== 'string' || !(value instanceof Uint8Array)) return undefined;
  let type: protobuf.Type;
  try {
    type = lookupMessage(messageNameOf(typeUrl));
  } catch {
    return undefined; // a type the loaded protos do not describe
  }
  try {
    return { type, message: type.decode(value) as unknown as Message };
  } catch {
    return undefined;
  }
}
