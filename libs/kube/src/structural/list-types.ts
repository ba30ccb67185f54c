/**
 * `x-kubernetes-list-type: set` items must be unique, `map` items unique by their
 * `x-kubernetes-list-map-keys` (apiextensions' structurallisttype.ValidateListSetsAndMaps).
 */
import type { FieldError } from './field-error.js';
import type { StructuralSchema } from './schema.js';

export function validateListTypes(value: unknown, schema: StructuralSchema, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    const seen = new Set<string>();
    value.forEach((item, position) => {
      let identity: string | undefined;
      let shownValue: unknown = item;
      if (listType === 'set') identity = JSON.stringify(item);
      else if (listType === 'map' && typeof item === 'object' && item !== null) {
        const keys = schema['x-kubernetes-list-map-keys'] ?? [];
        const keyed = Object.fromEntries(keys.map((key) => [key, (item as Record<string, unknown>)[key] ?? (schema.items?.properties?.[key]?.default ?? null)]));
        identity = JSON.stringify(keyed);
        shownValue = keyed;
      }
      if (identity !== undefined) {
        if (seen.has(identity)) errors.push({ path: `${path}[${position}]`, type: 'Duplicate value', value: shownValue, detail: '' });
        seen.add(identity);
      }
      if (schema.items) errors.push(...validateListTypes(item, schema.items, `${path}[${position}]`));
    });
    return errors;
  }
  if (typeof value !== 'object' || value === null) return errors;
  for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
    const property = schema.properties?.[name];
    if (property) errors.push(...validateListTypes(child, property, path === '' ? name : `${path}.${name}`));
    else if (typeof schema.additionalProperties === 'object') errors.push(...validateListTypes(child, schema.additionalProperties, `${path}[${name}]`));
  }
  return errors;
}
