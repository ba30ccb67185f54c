/**
 * A structural schema as a CustomResourceDefinition version carries it (`schema.openAPIV3Schema`):
 * OpenAPI v3 value validations plus the Kubernetes extensions (list types, int-or-string, pruning
 * control, CEL rules). The same shape serves our own Gateway API schemas and, in tests, a CRD's.
 */

/** One entry of `x-kubernetes-validations`. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** A path relative to the node (`.spec.x`, `['a.b']`) the error is reported at. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  optionalOldSelf?: boolean;
}

export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema | boolean;
  default?: unknown;
  nullable?: boolean;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  oneOf?: StructuralSchema[];
  anyOf?: StructuralSchema[];
  allOf?: StructuralSchema[];
  not?: StructuralSchema;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
  [extension: string]: unknown;
}

// Builders: small functions so a schema reads like the API it describes. A property wrapped in
// `required()` lands in its object's `required` list.

const REQUIRED = Symbol('required');
type Field = StructuralSchema & { [REQUIRED]?: true };
type Limits = Pick<StructuralSchema, 'default' | 'enum' | 'pattern' | 'format' | 'minLength' | 'maxLength' | 'minimum' | 'maximum' | 'x-kubernetes-validations'>;

export function required(schema: StructuralSchema): StructuralSchema {
  return { ...schema, [REQUIRED]: true } as Field;
}

export function string(limits: Limits = {}): StructuralSchema {
  return { type: 'string', ...limits };
}

export function integer(limits: Limits = {}): StructuralSchema {
  return { type: 'integer', format: 'int32', ...limits };
}

export function boolean(): StructuralSchema {
  return { type: 'boolean' };
}

export function object(
  properties: Record<string, StructuralSchema>,
  extra: Omit<StructuralSchema, 'type' | 'properties' | 'required'> = {},
): StructuralSchema {
  const plain: Record<string, StructuralSchema> = {};
  const names: string[] = [];
  for (const [name, field] of Object.entries(properties)) {
    const { [REQUIRED]: isRequired, ...rest } = field as Field;
    plain[name] = rest;
    if (isRequired) names.push(name);
  }
  const schema: StructuralSchema = { type: 'object', properties: plain, ...extra };
  if (names.length > 0) schema.required = names;
  return schema;
}

/** An object whose keys are free (a label map): `additionalProperties` gives each value's schema. */
export function map(values: StructuralSchema, extra: Omit<StructuralSchema, 'type' | 'additionalProperties'> = {}): StructuralSchema {
  return { type: 'object', additionalProperties: values, ...extra };
}

export function list(items: StructuralSchema, extra: Omit<StructuralSchema, 'type' | 'items'> = {}): StructuralSchema {
  return { type: 'array', 'x-kubernetes-list-type': 'atomic', items, ...extra };
}

/** A list whose items are unique by `keys` (x-kubernetes-list-type: map). */
export function keyedList(items: StructuralSchema, keys: string[], extra: Omit<StructuralSchema, 'type' | 'items'> = {}): StructuralSchema {
  return { type: 'array', items, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys, ...extra };
}

/** A list of unique scalars (x-kubernetes-list-type: set). */
export function set(items: StructuralSchema, extra: Omit<StructuralSchema, 'type' | 'items'> = {}): StructuralSchema {
  return { type: 'array', items, 'x-kubernetes-list-type': 'set', ...extra };
}

export function rule(expression: string, message: string, extra: Omit<ValidationRule, 'rule' | 'message'> = {}): ValidationRule {
  return { rule: expression, message, ...extra };
}

/** The schema with CEL rules added to its own. */
export function withRules(schema: StructuralSchema, ...rules: ValidationRule[]): StructuralSchema {
  return { ...schema, 'x-kubernetes-validations': [...(schema['x-kubernetes-validations'] ?? []), ...rules] };
}

export function withDefault(schema: StructuralSchema, value: unknown): StructuralSchema {
  return { ...schema, default: value };
}
