/**
 * The CEL rules of a structural schema (`x-kubernetes-validations`) evaluated as the API server does:
 * at every node that is present, with `self` typed by the schema (integers are CEL ints, objects with
 * declared properties have reserved words escaped: `namespace` is `__namespace__`), `oldSelf` when an
 * old value is given and correlates (object properties, map-list items by key), `message` /
 * `messageExpression`, `fieldPath` and `reason`. Evaluation by @bufbuild/cel with its string extension
 * and the few Kubernetes library functions the Gateway API rules use (isIP, isCIDR, ip/cidr helpers).
 */
import { isIP as nodeIsIP } from 'node:net';
import { CelScalar, celEnv, celFunc, isCelError, parse, plan, type CelEnv, type CelInput, type CelResult } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import type { FieldError, FieldErrorType } from './field-error.js';
import type { StructuralSchema, ValidationRule } from './schema.js';

type Program = (bindings: Record<string, CelInput>) => CelResult;

/** Kubernetes' isIP: an IPv4 or IPv6 address without zone; IPv4 octets without leading zeros. */
function isIpAddress(text: string): boolean {
  return !text.includes('%') && nodeIsIP(text) !== 0;
}

function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) return false;
  const family = isIpAddress(address) ? nodeIsIP(address) : 0;
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

const kubernetesFunctions = [
  celFunc('isIP', [CelScalar.STRING], CelScalar.BOOL, (text: string) => isIpAddress(text)),
  celFunc('isCIDR', [CelScalar.STRING], CelScalar.BOOL, (text: string) => isCidr(text)),
];

// `matches` with RE2 semantics (as the API server's Go CEL), each pattern compiled once
const compiledPatterns = new Map<string, RE2JS>();
const re2 = {
  compile(pattern: string) {
    let compiled = compiledPatterns.get(pattern);
    if (!compiled) {
      compiled = RE2JS.compile(pattern);
      compiledPatterns.set(pattern, compiled);
    }
    return compiled;
  },
};

const env: CelEnv = celEnv({ funcs: [...strings, ...kubernetesFunctions], re2 });
const programs = new Map<string, Program | Error>();

function program(expression: string): Program | Error {
  let compiled = programs.get(expression);
  if (!compiled) {
    try {
      compiled = plan(env, parse(expression)) as Program;
    } catch (error) {
      compiled = error instanceof Error ? error : new Error(String(error));
    }
    programs.set(expression, compiled);
  }
  return compiled;
}

// CEL keywords and reserved words a property name must be escaped from (apiserver's cel.Escape)
const RESERVED = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

export function escapePropertyName(name: string): string {
  if (RESERVED.has(name)) return `__${name}__`;
  return name.replace(/__/g, '__underscores__').replace(/\./g, '__dot__').replace(/-/g, '__dash__').replace(/\//g, '__slash__');
}

/** CEL values already built in one validation, by schema and node: rules at every level of a deep object share them. */
type Conversions = WeakMap<StructuralSchema, WeakMap<object, CelInput>>;

/** A JSON value as CEL sees it under this schema. */
export function toCel(value: unknown, schema: StructuralSchema | undefined, conversions?: Conversions): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || !schema || !conversions) return convert(value, schema, conversions);
  let bySchema = conversions.get(schema);
  if (!bySchema) {
    bySchema = new WeakMap();
    conversions.set(schema, bySchema);
  }
  let result = bySchema.get(value);
  if (result === undefined) {
    result = convert(value, schema, conversions);
    bySchema.set(value, result);
  }
  return result;
}

function convert(value: unknown, schema: StructuralSchema | undefined, conversions?: Conversions): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    const isInt = schema?.type === 'integer' || (schema?.['x-kubernetes-int-or-string'] === true && Number.isInteger(value));
    return isInt ? BigInt(Math.trunc(value)) : value;
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items, conversions));
  const entries = Object.entries(value as Record<string, unknown>);
  if (schema?.properties) {
    const out = new Map<string, CelInput>();
    for (const [name, child] of entries) {
      const property = schema.properties[name];
      if (property) out.set(escapePropertyName(name), toCel(child, property, conversions));
    }
    return out;
  }
  const values = typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  return new Map(entries.map(([name, child]) => [name, toCel(child, values, conversions)]));
}

function typeNameOf(schema: StructuralSchema): string {
  return schema.type ?? (schema['x-kubernetes-int-or-string'] ? 'int-or-string' : 'object');
}

const REASON_TYPES: Record<string, FieldErrorType> = {
  FieldValueForbidden: 'Forbidden',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
};

/** `.spec.x`, `['a.b']`, `[0]` appended to a field path as Kubernetes prints it. */
function withFieldPath(path: string, fieldPath: string): string {
  let out = path;
  const pattern = /\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[(\d+)\]/g;
  for (const match of fieldPath.matchAll(pattern)) {
    if (match[1] !== undefined) out = out === '' ? match[1] : `${out}.${match[1]}`;
    else if (match[2] !== undefined) out = out === '' ? match[2] : `${out}.${match[2]}`;
    else out += `[${match[3]}]`;
  }
  return out;
}

function ruleText(rule: ValidationRule): string {
  return rule.message ?? `failed rule: ${rule.rule.trim()}`;
}

function evaluate(rule: ValidationRule, self: CelInput, oldSelf: CelInput | undefined, schema: StructuralSchema, path: string): FieldError | undefined {
  const compiled = program(rule.rule);
  const type = typeNameOf(schema);
  const at = rule.fieldPath ? withFieldPath(path, rule.fieldPath) : path;
  if (compiled instanceof Error) return { path: at, type: 'Invalid value', value: type, detail: `compilation failed: ${compiled.message}` };
  const bindings: Record<string, CelInput> = { self };
  if (oldSelf !== undefined) bindings['oldSelf'] = oldSelf;
  const result = compiled(bindings);
  if (isCelError(result)) return { path: at, type: 'Invalid value', value: type, detail: `${result.message} evaluating rule: ${ruleText(rule)}` };
  if (result === true) return undefined;
  let message = ruleText(rule);
  if (rule.messageExpression) {
    const expression = program(rule.messageExpression);
    const text = expression instanceof Error ? undefined : expression(bindings);
    if (typeof text === 'string' && text.trim() !== '' && !text.includes('\n')) message = text;
  }
  const errorType = REASON_TYPES[rule.reason ?? 'FieldValueInvalid'] ?? 'Invalid value';
  return { path: at, type: errorType, value: type, detail: message };
}

function usesOldSelf(rule: ValidationRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

/** Every CEL rule failure in the object; `old` (an update's previous object) enables transition rules. */
export function validateRules(value: unknown, schema: StructuralSchema, old?: unknown, path = '', conversions: Conversions = new WeakMap()): FieldError[] {
  if (value === undefined || value === null) return [];
  const errors: FieldError[] = [];
  const rules = schema['x-kubernetes-validations'] ?? [];
  if (rules.length > 0) {
    const self = toCel(value, schema, conversions);
    const oldSelf = old === undefined || old === null ? undefined : toCel(old, schema, conversions);
    for (const rule of rules) {
      // a transition rule runs only on an update where the old value exists (or it says optionalOldSelf)
      if (usesOldSelf(rule) && oldSelf === undefined && !rule.optionalOldSelf) continue;
      const error = evaluate(rule, self, oldSelf ?? (usesOldSelf(rule) ? null : undefined), schema, path);
      if (error) errors.push(error);
    }
  }
  if (Array.isArray(value)) {
    if (!schema.items) return errors;
    const keys = schema['x-kubernetes-list-type'] === 'map' ? (schema['x-kubernetes-list-map-keys'] ?? []) : undefined;
    const oldItems = Array.isArray(old) ? old : [];
    value.forEach((item, position) => {
      // only map-list items correlate with an old item (by key); atomic lists and sets do not
      const previous = keys && keys.length > 0 ? oldItems.find((candidate) => keys.every((key) => candidate?.[key] === (item as Record<string, unknown>)?.[key])) : undefined;
      errors.push(...validateRules(item, schema.items!, previous, `${path}[${position}]`, conversions));
    });
    return errors;
  }
  if (typeof value !== 'object') return errors;
  const oldObject = typeof old === 'object' && old !== null && !Array.isArray(old) ? (old as Record<string, unknown>) : undefined;
  const atomicMap = schema['x-kubernetes-map-type'] === 'atomic';
  for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
    const property = schema.properties?.[name];
    const previous = atomicMap ? undefined : oldObject?.[name];
    if (property) errors.push(...validateRules(child, property, previous, path === '' ? name : `${path}.${name}`, conversions));
    else if (typeof schema.additionalProperties === 'object') errors.push(...validateRules(child, schema.additionalProperties, previous, `${path}[${name}]`, conversions));
  }
  return errors;
}
