/**
 * How large an object is as the API server stores it, to refuse what a real API server would refuse.
 *
 * etcd refuses a request larger than its `--max-request-bytes`, 1.5 MiB by default, and the API server
 * passes that refusal on. What it stores is the object's encoding: protobuf for the built-in kinds
 * (field numbers instead of field names, varints for numbers, raw bytes for Secret data) and JSON
 * for custom resources. The protobuf size here is an estimate from the JSON value alone, without the
 * generated schema: every field costs a one-byte tag, a varint length and its content; maps (labels,
 * annotations, data, selectors) cost a key/value entry message per pair; repeated fields cost one tag
 * per element; empty fields the Go encoder would still write are not counted, nor the managedFields
 * and last-applied annotation a real API server or kubectl may add. It is close for the shapes that
 * grow large (annotations, data, long lists) and never counts field names.
 */
import { apiGroup } from './kinds.js';

/** etcd's default request limit (`--max-request-bytes`), which bounds what the API server can store. */
export const STORED_OBJECT_LIMIT = 1_572_864;

/** API groups whose kinds the API server stores as protobuf; every other group is a custom resource, stored as JSON. */
const BUILT_IN_GROUPS = new Set(['', 'discovery.k8s.io', 'networking.k8s.io', 'apps', 'batch', 'policy', 'rbac.authorization.k8s.io', 'coordination.k8s.io', 'autoscaling', 'storage.k8s.io']);

/** Fields that are protobuf maps (key/value entries) in the built-in kinds, rather than messages. */
const MAP_FIELDS = new Set(['labels', 'annotations', 'data', 'binaryData', 'stringData', 'matchLabels', 'nodeSelector', 'selector', 'capacity', 'limits', 'requests']);

/** Map fields whose values are bytes, written base64 in JSON and raw in protobuf (Secret data, ConfigMap binaryData). */
const BYTES_MAPS = new Set(['binaryData']);

export interface StoredSize {
  bytes: number;
  encoding: 'protobuf' | 'json';
}

/** The size of the object as the API server would store it (see the module comment for what is estimated). */
export function storedObjectSize(object: Record<string, unknown>): StoredSize {
  const apiVersion = typeof object['apiVersion'] === 'string' ? object['apiVersion'] : '';
  if (!BUILT_IN_GROUPS.has(apiGroup(apiVersion))) return { bytes: Buffer.byteLength(JSON.stringify(object)), encoding: 'json' };
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const { apiVersion: _apiVersion, kind: _kind, ...body } = object;
  // the storage envelope: "k8s\0", then runtime.Unknown { typeMeta { apiVersion, kind }, raw, contentEncoding, contentType }
  const typeMeta = stringField(apiVersion) + stringField(kind);
  const raw = messageContent(body, kind === 'Secret');
  return { bytes: 4 + lengthDelimited(typeMeta) + lengthDelimited(raw) + 2 * stringField(''), encoding: 'protobuf' };
}

/** The refusal of an object over the limit, or undefined when it fits. */
export function storedSizeProblem(object: Record<string, unknown>): string | undefined {
  const size = storedObjectSize(object);
  if (size.bytes <= STORED_OBJECT_LIMIT) return undefined;
  const how = size.encoding === 'json' ? 'as JSON, how custom resources are stored' : 'as protobuf, estimated';
  return `object is ${size.bytes.toLocaleString('en-US')} bytes as stored, over the API server's limit of ${STORED_OBJECT_LIMIT.toLocaleString('en-US')} (etcd's default request size; ${how})`;
}

function varintLength(value: number): number {
  if (value < 0) return 10;
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

/** Tag, length prefix and content of a length-delimited field. */
function lengthDelimited(contentBytes: number): number {
  return 1 + varintLength(contentBytes) + contentBytes;
}

function stringField(value: string): number {
  return lengthDelimited(Buffer.byteLength(value));
}

function base64Bytes(value: string): number {
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((value.length * 3) / 4) - padding);
}

function messageContent(record: Record<string, unknown>, secret: boolean): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(record)) bytes += fieldSize(name, value, secret);
  return bytes;
}

function mapContent(name: string, record: Record<string, unknown>, secret: boolean): number {
  const bytesValues = BYTES_MAPS.has(name) || (secret && name === 'data');
  let bytes = 0;
  for (const [key, value] of Object.entries(record)) {
    const valueBytes = typeof value === 'string' ? (bytesValues ? base64Bytes(value) : Buffer.byteLength(value)) : valueSize(value, secret);
    bytes += lengthDelimited(stringField(key) + lengthDelimited(valueBytes));
  }
  return bytes;
}

/** One field: its tag and value; a repeated field is one tagged value per element. */
function fieldSize(name: string, value: unknown, secret: boolean): number {
  if (Array.isArray(value)) {
    let bytes = 0;
    for (const item of value) bytes += fieldSize(name, item, secret);
    return bytes;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const isMap = MAP_FIELDS.has(name) && Object.values(record).every((item) => typeof item === 'string');
    return lengthDelimited(isMap ? mapContent(name, record, secret) : messageContent(record, secret));
  }
  if (value === null || value === undefined) return 0;
  return 1 + valueSize(value, secret);
}

/** A scalar's encoded bytes after its tag. */
function valueSize(value: unknown, secret: boolean): number {
  switch (typeof value) {
    case 'string':
      return varintLength(Buffer.byteLength(value)) + Buffer.byteLength(value);
    case 'number':
      return Number.isInteger(value) ? varintLength(value) : 8;
    case 'boolean':
      return 1;
    case 'object':
      if (value === null) return 0;
      return lengthDelimitedAfterTag(messageContent(value as Record<string, unknown>, secret));
    default:
      return 0;
  }
}

function lengthDelimitedAfterTag(contentBytes: number): number {
  return varintLength(contentBytes) + contentBytes;
}
