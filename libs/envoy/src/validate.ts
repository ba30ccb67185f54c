/**
 * The protoc-gen-validate rules written into Envoy's protos ((validate.rules) on fields,
 * (validate.required) on oneofs), checked the way Envoy checks them when it receives a resource, so
 * a bad resource is caught before a proxy NACKs it. Every violation is collected with its field path.
 */
import { isIP } from 'node:net';
import protobuf from 'protobufjs';
import { fullName } from './json.js';
import { lookupMessage } from './protos.js';
import { messageNameOf } from './types.js';

type Plain = Record<string, unknown>;
type Rules = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const WRAPPER_PREFIX = 'google.protobuf.';
const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((w) => WRAPPER_PREFIX + w));

function deepMerge(into: Rules, from: Rules): Rules {
  for (const [key, value] of Object.entries(from)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof into[key] === 'object') deepMerge(into[key], value);
    else into[key] = value;
  }
  return into;
}

const rulesCache = new WeakMap<protobuf.Field, Rules | null>();
function rulesOf(field: protobuf.Field): Rules | null {
  let rules = rulesCache.get(field);
  if (rules === undefined) {
    rules = null;
    for (const option of (field.parsedOptions ?? []) as Rules[]) {
      if (option['(validate.rules)']) rules = deepMerge(rules ?? {}, structuredClone(option['(validate.rules)']));
    }
    rulesCache.set(field, rules);
  }
  return rules;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function toBig(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  if (typeof value === 'string') return BigInt(value);
  if (value && typeof value === 'object' && 'low' in value) return BigInt((value as protobuf.Long).toString());
  return 0n;
}

function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(toBig(value));
}

function durationNanos(value: unknown): bigint {
  const d = (value ?? {}) as Plain;
  return toBig(d['seconds'] ?? 0) * 1_000_000_000n + BigInt(Number(d['nanos'] ?? 0));
}

const fmtDuration = (nanos: bigint) => `${Number(nanos) / 1e9}s`;

export class Validator {
  readonly violations: string[] = [];

  private add(path: string, problem: string): void {
    this.violations.push(`${path}: ${problem}`);
  }

  message(type: protobuf.Type, message: Plain, path: string): void {
    const name = fullName(type);
    if (name === 'google.protobuf.Any') return this.any(message, path);
    if (name.startsWith(WRAPPER_PREFIX) || type.options?.['(validate.disabled)'] || type.options?.['(validate.ignored)']) return;
    for (const oneof of type.oneofsArray) {
      if (!oneof.options?.['(validate.required)']) continue;
      if (!oneof.fieldsArray.some((f) => isSet(own(message, f.name)))) {
        this.add(path, `one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} is required`);
      }
    }
    for (const field of type.fieldsArray) this.field(field, own(message, field.name), `${path}.${field.name}`);
  }

  private any(message: Plain, path: string): void {
    const typeUrl = String(message['typeUrl'] ?? '');
    let inner: protobuf.Type;
    try {
      inner = lookupMessage(messageNameOf(typeUrl));
    } catch {
      return; // an extension we did not load: Envoy validates it, we cannot
    }
    const decoded = inner.decode((message['value'] as Uint8Array | undefined) ?? new Uint8Array()) as unknown as Plain;
    this.message(inner, decoded, `${path}<${fullName(inner)}>`);
  }

  private field(field: protobuf.Field, value: unknown, path: string): void {
    const rules = rulesOf(field);
    const inOneof = field.partOf !== null && !(field.partOf.name.startsWith('_') && field.partOf.fieldsArray.length === 1);
    if (inOneof && !isSet(value)) return;
    if (rules?.['message']?.['skip']) return;
    if (field instanceof protobuf.MapField) {
      const map = (value ?? {}) as Plain;
      const keys = Object.keys(map).sort();
      const mapRules = rules?.['map'] ?? {};
      if (mapRules['ignore_empty'] && keys.length === 0) return;
      if (mapRules['min_pairs'] !== undefined && keys.length < toNumber(mapRules['min_pairs'])) this.add(path, `needs at least ${mapRules['min_pairs']} entries`);
      if (mapRules['max_pairs'] !== undefined && keys.length > toNumber(mapRules['max_pairs'])) this.add(path, `allows at most ${mapRules['max_pairs']} entries`);
      for (const key of keys) {
        if (mapRules['keys']) this.scalar(field.keyType, mapRules['keys'], key, `${path}[${JSON.stringify(key)}] (key)`);
        this.single(field, mapRules['values'] ?? null, map[key], `${path}[${JSON.stringify(key)}]`);
      }
      return;
    }
    if (field.repeated) {
      const items = (value ?? []) as unknown[];
      const repeatedRules = rules?.['repeated'] ?? {};
      if (repeatedRules['ignore_empty'] && items.length === 0) return;
      if (repeatedRules['min_items'] !== undefined && items.length < toNumber(repeatedRules['min_items'])) this.add(path, `needs at least ${repeatedRules['min_items']} items, has ${items.length}`);
      if (repeatedRules['max_items'] !== undefined && items.length > toNumber(repeatedRules['max_items'])) this.add(path, `allows at most ${repeatedRules['max_items']} items, has ${items.length}`);
      if (repeatedRules['unique'] && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) this.add(path, 'items must be unique');
      items.forEach((item, i) => this.single(field, repeatedRules['items'] ?? null, item, `${path}[${i}]`));
      return;
    }
    this.single(field, rules, value, path);
  }

  private single(field: protobuf.Field, rules: Rules | null, value: unknown, path: string): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      const name = fullName(resolved);
      const required = rules?.['message']?.['required'] || rules?.['duration']?.['required'] || rules?.['any']?.['required'] || rules?.['timestamp']?.['required'];
      if (!isSet(value)) {
        if (required) this.add(path, 'is required');
        return;
      }
      const message = value as Plain;
      if (rules && WRAPPERS.has(name)) {
        const inner = resolved.fields['value']!;
        this.scalar(inner.type, rules, own(message, 'value') ?? inner.typeDefault, path);
      } else if (rules?.['duration'] && name === 'google.protobuf.Duration') {
        this.duration(rules['duration'], message, path);
      } else if (rules?.['any'] && name === 'google.protobuf.Any') {
        const typeUrl = String(message['typeUrl'] ?? '');
        if (rules['any']['in'] && !rules['any']['in'].includes(typeUrl)) this.add(path, `type ${typeUrl} is not one of ${rules['any']['in'].join(', ')}`);
        if (rules['any']['not_in']?.includes(typeUrl)) this.add(path, `type ${typeUrl} is not allowed`);
      }
      this.message(resolved, message, path);
      return;
    }
    if (!rules) return;
    if (resolved instanceof protobuf.Enum) {
      const number = toNumber(value ?? 0);
      const enumRules = rules['enum'] ?? {};
      if (enumRules['defined_only'] && resolved.valuesById[number] === undefined) this.add(path, `${number} is not a defined ${resolved.name} value`);
      this.numeric(enumRules, BigInt(number), path);
      return;
    }
    this.scalar(field.type, rules, value, path);
  }

  private scalar(scalar: string, rules: Rules, value: unknown, path: string): void {
    if (scalar === 'string') return this.string(rules['string'] ?? {}, typeof value === 'string' ? value : '', path);
    if (scalar === 'bytes') {
      const bytesRules = rules['bytes'] ?? {};
      const length = value instanceof Uint8Array ? value.length : 0;
      if (bytesRules['ignore_empty'] && length === 0) return;
      if (bytesRules['min_len'] !== undefined && length < toNumber(bytesRules['min_len'])) this.add(path, `must be at least ${bytesRules['min_len']} bytes`);
      if (bytesRules['max_len'] !== undefined && length > toNumber(bytesRules['max_len'])) this.add(path, `must be at most ${bytesRules['max_len']} bytes`);
      return;
    }
    if (scalar === 'bool') {
      if (rules['bool']?.['const'] !== undefined && Boolean(value) !== rules['bool']['const']) this.add(path, `must be ${rules['bool']['const']}`);
      return;
    }
    const numericRules = rules[scalar];
    if (!numericRules) return;
    if (scalar === 'double' || scalar === 'float') {
      this.numeric(numericRules, Number(value ?? 0), path);
    } else {
      this.numeric(numericRules, toBig(value ?? 0), path);
    }
  }

  private numeric(rules: Rules, value: bigint | number, path: string): void {
    if (rules['ignore_empty'] && (value === 0 || value === 0n)) return;
    const cast = (bound: unknown) => (typeof value === 'bigint' ? toBig(bound) : toNumber(bound));
    const shown = String(value);
    if (rules['const'] !== undefined && value !== cast(rules['const'])) this.add(path, `must equal ${rules['const']}, is ${shown}`);
    if (rules['lt'] !== undefined && !(value < cast(rules['lt']))) this.add(path, `must be less than ${rules['lt']}, is ${shown}`);
    if (rules['lte'] !== undefined && !(value <= cast(rules['lte']))) this.add(path, `must be at most ${rules['lte']}, is ${shown}`);
    if (rules['gt'] !== undefined && !(value > cast(rules['gt']))) this.add(path, `must be greater than ${rules['gt']}, is ${shown}`);
    if (rules['gte'] !== undefined && !(value >= cast(rules['gte']))) this.add(path, `must be at least ${rules['gte']}, is ${shown}`);
    if (Array.isArray(rules['in']) && !rules['in'].some((v: unknown) => cast(v) === value)) this.add(path, `must be one of ${rules['in'].join(', ')}, is ${shown}`);
    if (Array.isArray(rules['not_in']) && rules['not_in'].some((v: unknown) => cast(v) === value)) this.add(path, `must not be ${shown}`);
  }

  private duration(rules: Rules, value: Plain, path: string): void {
    const nanos = durationNanos(value);
    const bound = (key: string) => (rules[key] !== undefined ? durationNanos(rules[key]) : undefined);
    const [lt, lte, gt, gte, exact] = ['lt', 'lte', 'gt', 'gte', 'const'].map(bound);
    if (exact !== undefined && nanos !== exact) this.add(path, `must be exactly ${fmtDuration(exact)}`);
    if (lt !== undefined && !(nanos < lt)) this.add(path, `must be shorter than ${fmtDuration(lt)}, is ${fmtDuration(nanos)}`);
    if (lte !== undefined && !(nanos <= lte)) this.add(path, `must be at most ${fmtDuration(lte)}, is ${fmtDuration(nanos)}`);
    if (gt !== undefined && !(nanos > gt)) this.add(path, `must be longer than ${fmtDuration(gt)}, is ${fmtDuration(nanos)}`);
    if (gte !== undefined && !(nanos >= gte)) this.add(path, `must be at least ${fmtDuration(gte)}, is ${fmtDuration(nanos)}`);
  }

  private string(rules: Rules, value: string, path: string): void {
    if (rules['ignore_empty'] && value === '') return;
    const chars = [...value].length;
    const bytes = Buffer.byteLength(value, 'utf8');
    const shown = JSON.stringify(value);
    if (rules['const'] !== undefined && value !== rules['const']) this.add(path, `must equal ${JSON.stringify(rules['const'])}`);
    if (rules['len'] !== undefined && chars !== toNumber(rules['len'])) this.add(path, `must be ${rules['len']} characters long`);
    if (rules['min_len'] !== undefined && chars < toNumber(rules['min_len'])) this.add(path, `must be at least ${rules['min_len']} characters long, is ${shown}`);
    if (rules['max_len'] !== undefined && chars > toNumber(rules['max_len'])) this.add(path, `must be at most ${rules['max_len']} characters long`);
    if (rules['min_bytes'] !== undefined && bytes < toNumber(rules['min_bytes'])) this.add(path, `must be at least ${rules['min_bytes']} bytes long`);
    if (rules['max_bytes'] !== undefined && bytes > toNumber(rules['max_bytes'])) this.add(path, `must be at most ${rules['max_bytes']} bytes long`);
    if (rules['prefix'] !== undefined && !value.startsWith(rules['prefix'])) this.add(path, `must start with ${JSON.stringify(rules['prefix'])}`);
    if (rules['suffix'] !== undefined && !value.endsWith(rules['suffix'])) this.add(path, `must end with ${JSON.stringify(rules['suffix'])}`);
    if (rules['contains'] !== undefined && !value.includes(rules['contains'])) this.add(path, `must contain ${JSON.stringify(rules['contains'])}`);
    if (rules['not_contains'] !== undefined && value.includes(rules['not_contains'])) this.add(path, `must not contain ${JSON.stringify(rules['not_contains'])}`);
    if (Array.isArray(rules['in']) && !rules['in'].includes(value)) this.add(path, `must be one of ${rules['in'].join(', ')}, is ${shown}`);
    if (Array.isArray(rules['not_in']) && rules['not_in'].includes(value)) this.add(path, `must not be ${shown}`);
    if (rules['pattern'] !== undefined) {
      const pattern = compile(rules['pattern']);
      if (pattern && !pattern.test(value)) this.add(path, `must match /${rules['pattern']}/, is ${shown}`);
    }
    const wellKnown = wellKnownProblem(rules, value);
    if (wellKnown) this.add(path, `${wellKnown}, is ${shown}`);
  }
}

function own(message: Plain, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(message, key) ? message[key] : undefined;
}

const patterns = new Map<string, RegExp | null>();
function compile(pattern: string): RegExp | null {
  if (!patterns.has(pattern)) {
    try {
      patterns.set(pattern, new RegExp(pattern, 'u'));
    } catch {
      patterns.set(pattern, null); // RE2 syntax JavaScript cannot read: leave it to Envoy
    }
  }
  return patterns.get(pattern)!;
}

const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

function wellKnownProblem(rules: Rules, value: string): string | undefined {
  const strict = rules['strict'] !== false;
  switch (rules['well_known_regex']) {
    case 'HTTP_HEADER_NAME':
      if (!(strict ? HEADER_NAME_STRICT : HEADER_LOOSE).test(value)) return 'must be a valid HTTP header name';
      break;
    case 'HTTP_HEADER_VALUE':
      if (!(strict ? HEADER_VALUE_STRICT : HEADER_LOOSE).test(value)) return 'must be a valid HTTP header value';
      break;
  }
  if (rules['ip'] && isIP(value) === 0) return 'must be an IP address';
  if (rules['ipv4'] && isIP(value) !== 4) return 'must be an IPv4 address';
  if (rules['ipv6'] && isIP(value) !== 6) return 'must be an IPv6 address';
  if (rules['hostname'] && !HOSTNAME.test(value)) return 'must be a hostname';
  if (rules['address'] && isIP(value) === 0 && !HOSTNAME.test(value)) return 'must be an IP address or hostname';
  return undefined;
}
