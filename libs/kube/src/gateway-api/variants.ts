/**
 * Invalid (and borderline) variants of a valid object, for tests: each breaks one field the way a
 * user might, guided by the schema it is checked against: a value outside an enum or a pattern, a
 * string too long or empty, a number out of range or of the wrong type, a list too long, too short or
 * with a duplicate, a required field removed, an optional one added or removed, a null, an unknown
 * field, another value of an enum next to a CEL rule. Mutations are labelled by schema path so that a
 * test can keep one of each.
 */
import type { StructuralSchema } from '../structural/schema.js';

type Json = Record<string, unknown>;
type Segment = string | number;

export interface Variant {
  /** `spec.listeners[].port: maximum+1`: where (indices dropped) and what. */
  label: string;
  object: Json;
}

// strings worth trying where a CEL rule watches a field: each matches some rule's condition
const RULE_PROBES = ['', '/', '//a', '/a/./b', '/a/../b', '/a%2fb', '/a%2Fb', '/a#b', '/a/..', '/a/.', '*', '*.example.com', 'example.com', '1.2.3.4', 'a b', 'ab*cd', 'a.b', '0s', '10s', '1ms', 'System', 'Tab\tbed'];

// candidate sample values for a string field that must match a pattern
const STRING_SAMPLES = ['example.com', 'a', 'Service', '/', 'http://a.example.com', '10s', 'example.com/custom', 'https://example.com/path', 'System', 'Value'];

function sampleString(schema: StructuralSchema): string {
  if (schema.enum && schema.enum.length > 0) return String(schema.enum[0]);
  if (typeof schema.default === 'string') return schema.default;
  const pattern = schema.pattern ? new RegExp(schema.pattern, 'u') : undefined;
  const fits = (value: string) => (!pattern || pattern.test(value)) && value.length >= (schema.minLength ?? 0) && value.length <= (schema.maxLength ?? Infinity);
  return STRING_SAMPLES.find(fits) ?? 'a';
}

/** A small value this schema accepts (as far as its own keywords go). */
export function sample(schema: StructuralSchema, depth = 0): unknown {
  if (schema.default !== undefined) return structuredClone(schema.default);
  switch (schema.type) {
    case 'string':
      return sampleString(schema);
    case 'integer':
    case 'number':
      return schema.enum?.[0] ?? Math.max(schema.minimum ?? 1, Math.min(80, schema.maximum ?? 80));
    case 'boolean':
      return true;
    case 'array':
      return schema.items && (schema.minItems ?? 0) > 0 && depth < 6 ? [sample(schema.items, depth + 1)] : [];
    default: {
      const out: Json = {};
      if (depth < 6) for (const name of schema.required ?? []) out[name] = sample(schema.properties?.[name] ?? {}, depth + 1);
      return out;
    }
  }
}

function template(path: readonly Segment[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? '[]' : out === '' ? part : `.${part}`;
  return out;
}

function setAt(root: Json, path: readonly Segment[], value: unknown): Json {
  const copy = structuredClone(root);
  let node: Record<Segment, unknown> = copy as Record<Segment, unknown>;
  for (const part of path.slice(0, -1)) node = node[part] as Record<Segment, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1);
    else delete node[last];
  } else node[last] = value;
  return copy;
}

function watchedByRule(ancestors: readonly StructuralSchema[]): boolean {
  return ancestors.slice(-4).some((schema) => (schema['x-kubernetes-validations'] ?? []).length > 0);
}

/** Every variant of `object` under `schema` (the root: apiVersion/kind/metadata are left alone). */
export function variantsOf(object: Json, schema: StructuralSchema): Variant[] {
  const out: Variant[] = [];
  const add = (path: readonly Segment[], what: string, value: unknown) => out.push({ label: `${template(path)}: ${what}`, object: setAt(object, path, value) });

  const visit = (value: unknown, node: StructuralSchema, path: Segment[], ancestors: StructuralSchema[]) => {
    const lineage = [...ancestors, node];
    const watched = watchedByRule(lineage);
    if (path.length > 1) {
      add(path, 'null', null);
      if (node.type !== 'string') add(path, 'a string', 'text');
    }
    switch (node.type) {
      case 'string': {
        const text = String(value);
        if (node.enum) add(path, 'outside the enum', 'NotAValue');
        if (node.pattern) add(path, 'against the pattern', 'Not Valid!');
        if (node.maxLength !== undefined) add(path, 'maxLength+1', 'a'.repeat(node.maxLength + 1));
        if ((node.minLength ?? 0) > 0) add(path, 'empty', '');
        add(path, 'a number', 7);
        if (watched) {
          for (const other of node.enum ?? []) if (other !== value) add(path, `enum ${String(other)}`, other);
          for (const probe of RULE_PROBES) if (probe !== text) add(path, `probe ${JSON.stringify(probe)}`, probe);
          add(path, 'uppercased', text.toUpperCase());
        }
        return;
      }
      case 'integer':
      case 'number': {
        if (node.minimum !== undefined) add(path, 'minimum-1', node.minimum - 1);
        if (node.maximum !== undefined) add(path, 'maximum+1', node.maximum + 1);
        if (node.enum) add(path, 'outside the enum', 999);
        add(path, 'a fraction', 1.5);
        if (watched) {
          for (const probe of [0, 1, 100, 101, 443, 8080]) if (probe !== value) add(path, `probe ${probe}`, probe);
          for (const other of node.enum ?? []) if (other !== value) add(path, `enum ${String(other)}`, other);
        }
        return;
      }
      case 'boolean':
        return;
      case 'array': {
        const items = Array.isArray(value) ? value : [];
        if ((node.minItems ?? 0) > 0) add(path, 'emptied', []);
        if (items.length > 0) {
          if (node.maxItems !== undefined && node.maxItems <= 70) add(path, 'maxItems+1', Array.from({ length: node.maxItems + 1 }, (_, position) => items[position % items.length]));
          add(path, 'first item twice', [...items, items[0]]);
          if (items.length > 1) add(path, 'last item twice', [...items, items[items.length - 1]]);
          if (items.length > 1) add(path, 'first item only', [items[0]]);
          if (items.length > 1) add(path, 'reversed', [...items].reverse());
        } else if (node.items) add(path, 'one sample item', [sample(node.items)]);
        if (node.items) items.forEach((item, position) => visit(item, node.items!, [...path, position], lineage));
        return;
      }
      default: {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
        const present = value as Json;
        if (node.additionalProperties && typeof node.additionalProperties === 'object') {
          const entry = sample(node.additionalProperties);
          add([...path, 'Bad Key!'], 'bad key', entry);
          add([...path, `${'p'.repeat(253)}/name`], 'long key prefix', entry);
          if (node.maxProperties !== undefined) add(path, 'maxProperties+1', { ...present, ...Object.fromEntries(Array.from({ length: node.maxProperties + 1 }, (_, position) => [`key${position}`, entry])) });
        }
        add([...path, 'unknownField'], 'unknown field', 'x');
        for (const [name, property] of Object.entries(node.properties ?? {})) {
          if (path.length === 0 && name !== 'spec') continue;
          if (name in present) {
            add([...path, name], (node.required ?? []).includes(name) ? 'required removed' : 'optional removed', undefined);
            visit(present[name], property, [...path, name], lineage);
          } else {
            add([...path, name], 'added', sample(property));
          }
        }
      }
    }
  };
  visit(object, schema, [], []);
  return out;
}
