/**
 * Proto3 JSON <-> protobufjs messages, driven by the descriptors. protobufjs's own fromObject
 * neither rejects unknown fields nor understands "5s" durations, "@type" Anys or Structs; this does,
 * and names the field path of every problem. Map keys are sorted and implicit-presence defaults
 * dropped, so equal JSON always encodes to equal bytes.
 */
import Long from 'long';
import protobuf from 'protobufjs';
import { lookupMessage } from './protos.js';
import { messageNameOf, typeUrlOf } from './types.js';

type Plain = Record<string, unknown>;

export class ResourceJsonError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'ResourceJsonError';
  }
}

const WRAPPERS = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((w) => `google.protobuf.${w}Value`),
);
/** Well-known types whose JSON form is not an object of their fields (inside an Any: {"@type", "value"}). */
const SPECIAL_JSON = new Set([
  ...WRAPPERS,
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.FieldMask',
]);

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);

export function fullName(type: protobuf.Type): string {
  return type.fullName.replace(/^\./, '');
}

function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Converts proto3 JSON of `type` into a plain object protobufjs can encode. */
export function fromJson(type: protobuf.Type, json: unknown, path: string): Plain {
  const name = fullName(type);
  if (SPECIAL_JSON.has(name)) return specialFromJson(name, json, path);
  if (name === 'google.protobuf.Any') return anyFromJson(json, path);
  if (!isPlainObject(json)) throw new ResourceJsonError(path, `expected an object (${name}), got ${describe(json)}`);
  const out: Plain = {};
  const oneofSeen = new Map<string, string>();
  for (const key of Object.keys(json).sort()) {
    const field = type.fields[key] ?? type.fields[protobuf.util.camelCase(key)];
    const fieldPath = `${path}.${key}`;
    if (!field) throw new ResourceJsonError(fieldPath, `unknown field of ${name}`);
    const value = json[key];
    if (value === null && field.resolvedType?.fullName !== '.google.protobuf.Value') continue;
    if (field.partOf && !isSyntheticOneof(field.partOf)) {
      const other = oneofSeen.get(field.partOf.name);
      if (other !== undefined) throw new ResourceJsonError(fieldPath, `oneof ${field.partOf.name} already set by ${other}`);
      oneofSeen.set(field.partOf.name, field.name);
    }
    const converted = fieldFromJson(field, value, fieldPath);
    if (converted !== undefined) out[field.name] = converted;
  }
  return out;
}

function isSyntheticOneof(oneof: protobuf.OneOf): boolean {
  return oneof.name.startsWith('_') && oneof.fieldsArray.length === 1;
}

function fieldFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field instanceof protobuf.MapField) {
    if (!isPlainObject(value)) throw new ResourceJsonError(path, `expected an object (map), got ${describe(value)}`);
    const out: Plain = {};
    for (const key of Object.keys(value).sort()) {
      if (field.keyType !== 'string') scalarFromJson(field.keyType, key, `${path}[${key}]`);
      out[key] = singleFromJson(field, value[key], `${path}[${JSON.stringify(key)}]`);
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new ResourceJsonError(path, `expected an array, got ${describe(value)}`);
    const out = value.map((item, i) => singleFromJson(field, item, `${path}[${i}]`));
    return out.length ? out : undefined;
  }
  const converted = singleFromJson(field, value, path);
  // Implicit presence: a proto3 scalar at its default is not on the wire.
  if (!field.partOf && !(field.resolvedType instanceof protobuf.Type) && isDefault(converted)) return undefined;
  return converted;
}

function isDefault(value: unknown): boolean {
  if (value === 0 || value === false || value === '') return true;
  if (value instanceof Uint8Array) return value.length === 0;
  if (Long.isLong(value)) return (value as Long).isZero();
  return false;
}

function singleFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return fromJson(resolved, value, path);
  if (resolved instanceof protobuf.Enum) return enumFromJson(resolved, value, path);
  return scalarFromJson(field.type, value, path);
}

function enumFromJson(enumType: protobuf.Enum, value: unknown, path: string): number {
  if (enumType.fullName === '.google.protobuf.NullValue') return 0;
  if (typeof value === 'string') {
    const number = enumType.values[value];
    if (number === undefined) throw new ResourceJsonError(path, `unknown ${enumType.name} value "${value}"`);
    return number;
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new ResourceJsonError(path, `expected an enum name (${enumType.name}), got ${describe(value)}`);
}

function scalarFromJson(scalar: string, value: unknown, path: string): unknown {
  const bad = (what: string) => new ResourceJsonError(path, `expected ${what}, got ${describe(value)}`);
  if (scalar === 'string') {
    if (typeof value !== 'string') throw bad('a string');
    return value;
  }
  if (scalar === 'bool') {
    if (typeof value !== 'boolean') throw bad('a boolean');
    return value;
  }
  if (scalar === 'bytes') {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw bad('base64 bytes');
    return new Uint8Array(Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64'));
  }
  if (scalar === 'double' || scalar === 'float') {
    if (typeof value === 'number') return value;
    if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    throw bad('a number');
  }
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : '') : typeof value === 'string' ? value : '';
  if (!/^-?\d+$/.test(text)) throw bad(`an integer (${scalar})`);
  if (INT32.has(scalar) || UINT32.has(scalar)) {
    const number = Number(text);
    const [min, max] = INT32.has(scalar) ? [-(2 ** 31), 2 ** 31 - 1] : [0, 2 ** 32 - 1];
    if (number < min || number > max) throw new ResourceJsonError(path, `${text} is out of range for ${scalar}`);
    return number;
  }
  const big = BigInt(text);
  if (UINT64.has(scalar) && (big < 0n || big > 2n ** 64n - 1n)) throw new ResourceJsonError(path, `${text} is out of range for ${scalar}`);
  if (INT64.has(scalar) && (big < -(2n ** 63n) || big > 2n ** 63n - 1n)) throw new ResourceJsonError(path, `${text} is out of range for ${scalar}`);
  return Long.fromString(text, UINT64.has(scalar));
}

function anyFromJson(json: unknown, path: string): Plain {
  if (!isPlainObject(json)) throw new ResourceJsonError(path, `expected an Any object with "@type", got ${describe(json)}`);
  const typeUrl = json['@type'];
  if (typeof typeUrl !== 'string' || !typeUrl.includes('/')) throw new ResourceJsonError(`${path}.@type`, 'an Any needs a "@type" type URL');
  const inner = lookupAnyType(typeUrl, `${path}.@type`);
  const innerName = fullName(inner);
  let message: Plain;
  if (SPECIAL_JSON.has(innerName)) {
    const extra = Object.keys(json).filter((k) => k !== '@type' && k !== 'value');
    if (extra.length) throw new ResourceJsonError(`${path}.${extra[0]}`, `unknown field of an Any holding ${innerName}`);
    message = specialFromJson(innerName, json['value'], `${path}.value`);
  } else {
    const { '@type': _ignored, ...fields } = json;
    message = fromJson(inner, fields, `${path}<${innerName}>`);
  }
  return { typeUrl, value: inner.encode(message).finish() };
}

function lookupAnyType(typeUrl: string, path: string): protobuf.Type {
  try {
    return lookupMessage(messageNameOf(typeUrl));
  } catch {
    throw new ResourceJsonError(path, `unknown type ${typeUrl} (load its .proto with loadProtoFiles)`);
  }
}

const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

function specialFromJson(name: string, json: unknown, path: string): Plain {
  if (WRAPPERS.has(name)) {
    const inner = lookupMessage(name).fields['value']!;
    return { value: scalarFromJson(inner.type, json, path) };
  }
  switch (name) {
    case 'google.protobuf.Duration': {
      const match = typeof json === 'string' ? DURATION.exec(json) : null;
      if (!match) throw new ResourceJsonError(path, `expected a duration like "1.5s", got ${describe(json)}`);
      const sign = match[1] ? -1 : 1;
      const seconds = Long.fromString((match[1] ?? '') + match[2]);
      const nanos = sign * Number((match[3] ?? '').padEnd(9, '0'));
      if (seconds.greaterThan(315576000000) || seconds.lessThan(-315576000000)) throw new ResourceJsonError(path, 'duration out of range');
      const out: Plain = {};
      if (!seconds.isZero()) out['seconds'] = seconds;
      if (nanos !== 0) out['nanos'] = nanos;
      return out;
    }
    case 'google.protobuf.Timestamp': {
      const millis = typeof json === 'string' ? Date.parse(json) : NaN;
      if (Number.isNaN(millis)) throw new ResourceJsonError(path, `expected an RFC 3339 timestamp, got ${describe(json)}`);
      const fraction = /\.(\d{1,9})/.exec(json as string)?.[1] ?? '';
      const seconds = Math.floor(millis / 1000);
      const nanos = Number(fraction.padEnd(9, '0'));
      const out: Plain = {};
      if (seconds !== 0) out['seconds'] = Long.fromNumber(seconds);
      if (nanos !== 0) out['nanos'] = nanos;
      return out;
    }
    case 'google.protobuf.FieldMask': {
      if (typeof json !== 'string') throw new ResourceJsonError(path, `expected a field mask string, got ${describe(json)}`);
      return json === '' ? {} : { paths: json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
    }
    case 'google.protobuf.Struct': {
      if (!isPlainObject(json)) throw new ResourceJsonError(path, `expected an object (Struct), got ${describe(json)}`);
      const fields: Plain = {};
      for (const key of Object.keys(json).sort()) fields[key] = valueFromJson(json[key], `${path}.${key}`);
      return Object.keys(fields).length ? { fields } : {};
    }
    case 'google.protobuf.ListValue': {
      if (!Array.isArray(json)) throw new ResourceJsonError(path, `expected an array (ListValue), got ${describe(json)}`);
      return json.length ? { values: json.map((item, i) => valueFromJson(item, `${path}[${i}]`)) } : {};
    }
    default:
      return valueFromJson(json, path);
  }
}

function valueFromJson(json: unknown, path: string): Plain {
  if (json === null) return { nullValue: 0 };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: specialFromJson('google.protobuf.ListValue', json, path) };
  if (isPlainObject(json)) return { structValue: specialFromJson('google.protobuf.Struct', json, path) };
  throw new ResourceJsonError(path, `cannot be represented as a google.protobuf.Value: ${describe(json)}`);
}

// ---- decoding: protobufjs message -> proto3 JSON ----

const has = (message: object, key: string) => Object.prototype.hasOwnProperty.call(message, key);

function longText(value: unknown): string {
  return typeof value === 'number' ? String(value) : String((value as protobuf.Long).toString());
}

/** Converts a decoded message of `type` into proto3 JSON (defaults omitted). */
export function toJson(type: protobuf.Type, message: Plain): unknown {
  const name = fullName(type);
  if (name === 'google.protobuf.Any') return anyToJson(message);
  if (SPECIAL_JSON.has(name)) return specialToJson(name, message);
  const out: Plain = {};
  for (const field of type.fieldsArray) {
    if (!has(message, field.name)) continue;
    const value = message[field.name];
    if (value === null || value === undefined) continue;
    if (field instanceof protobuf.MapField) {
      const keys = Object.keys(value as Plain).sort();
      if (keys.length === 0) continue;
      const map: Plain = {};
      for (const key of keys) map[key] = singleToJson(field, (value as Plain)[key]);
      out[field.name] = map;
    } else if (field.repeated) {
      const items = value as unknown[];
      if (items.length === 0) continue;
      out[field.name] = items.map((item) => singleToJson(field, item));
    } else {
      const converted = singleToJson(field, value);
      if (!field.partOf && !(field.resolvedType instanceof protobuf.Type) && (converted === 0 || converted === false || converted === '' || converted === '0' || (typeof converted === 'string' && field.resolvedType instanceof protobuf.Enum && enumNumber(field.resolvedType, converted) === 0))) continue;
      out[field.name] = converted;
    }
  }
  return out;
}

function enumNumber(enumType: protobuf.Enum, name: string): number | undefined {
  return enumType.values[name];
}

function singleToJson(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return toJson(resolved, value as Plain);
  if (resolved instanceof protobuf.Enum) {
    if (resolved.fullName === '.google.protobuf.NullValue') return null;
    return resolved.valuesById[value as number] ?? value;
  }
  return scalarToJson(field.type, value);
}

function scalarToJson(scalar: string, value: unknown): unknown {
  if (scalar === 'bytes') return Buffer.from(value as Uint8Array).toString('base64');
  if (INT64.has(scalar) || UINT64.has(scalar)) return longText(value);
  if ((scalar === 'double' || scalar === 'float') && typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

function anyToJson(message: Plain): unknown {
  const typeUrl = String(message['typeUrl'] ?? '');
  const bytes = (message['value'] as Uint8Array | undefined) ?? new Uint8Array();
  let inner: protobuf.Type;
  try {
    inner = lookupMessage(messageNameOf(typeUrl));
  } catch {
    return { '@type': typeUrl, value: Buffer.from(bytes).toString('base64') };
  }
  const json = toJson(inner, inner.decode(bytes) as unknown as Plain);
  if (SPECIAL_JSON.has(fullName(inner))) return { '@type': typeUrl, value: json };
  return { '@type': typeUrl, ...(json as Plain) };
}

function specialToJson(name: string, message: Plain): unknown {
  if (WRAPPERS.has(name)) {
    const inner = lookupMessage(name).fields['value']!;
    return scalarToJson(inner.type, has(message, 'value') ? message['value'] : inner.typeDefault);
  }
  switch (name) {
    case 'google.protobuf.Duration': {
      const seconds = BigInt(longText(message['seconds'] ?? 0));
      const nanos = Number(message['nanos'] ?? 0);
      const negative = seconds < 0n || nanos < 0;
      const abs = (seconds < 0n ? -seconds : seconds).toString();
      return `${negative ? '-' : ''}${abs}${fractionText(Math.abs(nanos))}s`;
    }
    case 'google.protobuf.Timestamp': {
      const seconds = Number(longText(message['seconds'] ?? 0));
      const nanos = Number(message['nanos'] ?? 0);
      return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `${fractionText(nanos)}Z`);
    }
    case 'google.protobuf.FieldMask':
      return ((message['paths'] as string[] | undefined) ?? []).map((p) => protobuf.util.camelCase(p)).join(',');
    case 'google.protobuf.Struct': {
      const fields = (message['fields'] as Record<string, Plain> | undefined) ?? {};
      const out: Plain = {};
      for (const key of Object.keys(fields).sort()) out[key] = valueToJson(fields[key]!);
      return out;
    }
    case 'google.protobuf.ListValue':
      return ((message['values'] as Plain[] | undefined) ?? []).map(valueToJson);
    default:
      return valueToJson(message);
  }
}

function fractionText(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (digits.endsWith('000000')) return `.${digits.slice(0, 3)}`;
  if (digits.endsWith('000')) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

function valueToJson(value: Plain): unknown {
  if (has(value, 'numberValue')) return value['numberValue'];
  if (has(value, 'stringValue')) return value['stringValue'];
  if (has(value, 'boolValue')) return value['boolValue'];
  if (has(value, 'structValue')) return specialToJson('google.protobuf.Struct', value['structValue'] as Plain);
  if (has(value, 'listValue')) return specialToJson('google.protobuf.ListValue', value['listValue'] as Plain);
  return null;
}

export { typeUrlOf };
