/**
 * What the API server does to a custom resource before it validates it: fields the schema does not
 * declare are dropped (pruning), a null in a field that is not nullable is dropped or replaced by the
 * field's default, and missing fields with a default get it (apiextensions' structural pruning and
 * defaulting, in that order).
 */
import type { StructuralSchema } from './schema.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops undeclared fields in place; returns each dropped field's path (what kubectl warns about). */
export function prune(value: unknown, schema: StructuralSchema, path = '', isRoot = true): string[] {
  const dropped: string[] = [];
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, position) => dropped.push(...prune(item, schema.items!, `${path}[${position}]`, false)));
    return dropped;
  }
  if (!isObject(value)) return dropped;
  const properties = schema.properties ?? {};
  const keepsUnknown = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [name, child] of Object.entries(value)) {
    const childPath = path === '' ? name : `${path}.${name}`;
    // the envelope of an object is never pruned: the root's and an embedded resource's
    if ((isRoot || schema['x-kubernetes-embedded-resource']) && (name === 'apiVersion' || name === 'kind' || name === 'metadata')) continue;
    const declared = properties[name];
    if (declared) {
      dropped.push(...prune(child, declared, childPath, false));
    } else if (typeof schema.additionalProperties === 'object') {
      dropped.push(...prune(child, schema.additionalProperties, `${path}[${name}]`, false));
    } else if (schema.additionalProperties !== true && !keepsUnknown) {
      delete value[name];
      dropped.push(childPath);
    }
  }
  return dropped;
}

/** Applies defaults in place, dropping nulls where the schema allows none (apiextensions' structuraldefaulting). */
export function applySchemaDefaults(value: unknown, schema: StructuralSchema): void {
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    for (let position = 0; position < value.length; position++) {
      if (value[position] === null && items.default !== undefined && !items.nullable) value[position] = structuredClone(items.default);
      applySchemaDefaults(value[position], items);
    }
    return;
  }
  if (!isObject(value)) return;
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const current = value[name];
    const isDroppableNull = current === null && !property.nullable;
    if (property.default !== undefined && (current === undefined || isDroppableNull)) value[name] = structuredClone(property.default);
    else if (isDroppableNull) delete value[name];
  }
  for (const [name, child] of Object.entries(value)) {
    const property = schema.properties?.[name] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (property) applySchemaDefaults(child, property);
  }
}
