/**
 * The OpenAPI v3 part of a structural schema (types, required, enums, patterns, formats, limits,
 * oneOf/anyOf/not) checked by Ajv, a JSON Schema validator, and its errors worded as the API
 * server's (kube-openapi's messages as apiextensions turns them into field errors).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from './field-error.js';
import type { StructuralSchema } from './schema.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, strict: false, logger: false, validateFormats: true });
addFormats(ajv);
// Kubernetes does not range-check these integer formats (minimum/maximum do); unknown formats pass.
for (const name of ['int32', 'int64', 'float', 'double']) ajv.addFormat(name, { type: 'number', validate: () => true });

const compiled = new WeakMap<StructuralSchema, ValidateFunction>();

/** The schema as plain JSON Schema: Kubernetes extensions removed, int-or-string spelled out. */
function toJsonSchema(schema: StructuralSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-kubernetes-') || key === 'default' || key === 'description') continue;
    if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as Record<string, StructuralSchema>).map(([name, child]) => [name, toJsonSchema(child)]));
    else if (key === 'items' || key === 'not' || (key === 'additionalProperties' && typeof value === 'object')) out[key] = toJsonSchema(value as StructuralSchema);
    else if (key === 'oneOf' || key === 'anyOf' || key === 'allOf') out[key] = (value as StructuralSchema[]).map(toJsonSchema);
    else out[key] = value;
  }
  if (schema['x-kubernetes-int-or-string'] && schema.type === undefined) out['type'] = ['integer', 'string'];
  return out;
}

function validatorFor(schema: StructuralSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(toJsonSchema(schema));
    compiled.set(schema, validate);
  }
  return validate;
}

/** `/spec/listeners/0/name` -> `spec.listeners[0].name`. */
function fieldPathOf(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^(0|[1-9][0-9]*)$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const raw of pointer.split('/').slice(1)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The value of a field as kube-openapi prints it in a message. */
function shown(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function toFieldError(error: ErrorObject, root: unknown): FieldError | undefined {
  const path = fieldPathOf(error.instancePath);
  const value = valueAt(root, error.instancePath);
  const where = path === '' ? 'body' : `${path} in body`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params['missingProperty']);
      return { path: path === '' ? missing : `${path}.${missing}`, type: 'Required value', detail: '' };
    }
    case 'type':
      return { path, type: 'Invalid value', value: typeName(value), detail: `${where} must be of type ${String(params['type'])}: "${typeName(value)}"` };
    case 'enum':
      return { path, type: 'Unsupported value', value, detail: `supported values: ${(params['allowedValues'] as unknown[]).map((allowed) => JSON.stringify(allowed)).join(', ')}` };
    case 'pattern':
      return { path, type: 'Invalid value', value, detail: `${where} should match '${String(params['pattern'])}'` };
    case 'format':
      return { path, type: 'Invalid value', value, detail: `${where} must be of type ${String(params['format'])}: ${JSON.stringify(shown(value))}` };
    case 'maxLength':
      return { path, type: 'Too long', detail: `may not be more than ${String(params['limit'])} bytes` };
    case 'minLength':
      return { path, type: 'Invalid value', value, detail: `${where} should be at least ${String(params['limit'])} chars long` };
    case 'maxItems':
      return { path, type: 'Too many', value: Array.isArray(value) ? value.length : value, detail: `must have at most ${String(params['limit'])} items` };
    case 'minItems':
      return { path, type: 'Invalid value', value: Array.isArray(value) ? value.length : value, detail: `${where} should have at least ${String(params['limit'])} items` };
    case 'maxProperties':
      return { path, type: 'Too many', value: typeof value === 'object' && value ? Object.keys(value).length : value, detail: `must have at most ${String(params['limit'])} items` };
    case 'minProperties':
      return { path, type: 'Invalid value', value, detail: `${where} should have at least ${String(params['limit'])} properties` };
    case 'minimum':
      return { path, type: 'Invalid value', value, detail: `${where} should be greater than or equal to ${String(params['limit'])}` };
    case 'maximum':
      return { path, type: 'Invalid value', value, detail: `${where} should be less than or equal to ${String(params['limit'])}` };
    case 'oneOf':
      return { path, type: 'Invalid value', value: typeName(value), detail: `${where} must validate one and only one schema (oneOf)` };
    case 'anyOf':
      return { path, type: 'Invalid value', value: typeName(value), detail: `${where} must validate at least one schema (anyOf)` };
    case 'not':
      return { path, type: 'Invalid value', value: typeName(value), detail: `${where} must not validate the schema (not)` };
    default:
      return { path, type: 'Invalid value', value, detail: `${where} ${error.message ?? 'is invalid'}` };
  }
}

export interface OpenApiResult {
  errors: FieldError[];
  /** A value of the wrong type somewhere: the API server then skips the CEL rules. */
  typeErrors: boolean;
}

/** Every OpenAPI violation of the (pruned, defaulted) object. */
export function validateOpenApi(schema: StructuralSchema, object: unknown): OpenApiResult {
  const validate = validatorFor(schema);
  if (validate(object)) return { errors: [], typeErrors: false };
  const raw = validate.errors ?? [];
  // a oneOf/anyOf/not is reported once, as the combination that failed, not by the branches' own errors
  const combinators = raw.filter((error) => error.keyword === 'oneOf' || error.keyword === 'anyOf' || error.keyword === 'not').map((error) => error.schemaPath);
  const kept = raw.filter((error) => !combinators.some((prefix) => error.schemaPath.startsWith(`${prefix}/`)));
  const errors = kept.map((error) => toFieldError(error, object)).filter((error): error is FieldError => error !== undefined);
  return { errors, typeErrors: kept.some((error) => error.keyword === 'type') };
}
