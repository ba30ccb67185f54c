/**
 * A custom resource checked as a kube-apiserver with its CRD checks it on create or update: pruning,
 * null dropping and defaulting first, then the OpenAPI schema, list-type uniqueness, and the CEL rules
 * (skipped when a value has the wrong type, as the API server does).
 */
import { formatFieldError, type FieldError } from './field-error.js';
import { validateRules } from './cel.js';
import { validateListTypes } from './list-types.js';
import { validateOpenApi } from './openapi.js';
import { applySchemaDefaults, prune } from './prune-default.js';
import type { StructuralSchema } from './schema.js';

export interface StructuralResult {
  /** The object as the API server would store it (pruned and defaulted); its status is left alone. */
  object: Record<string, unknown>;
  /** The refusals, each `path: Type: value: detail`, sorted; empty when accepted. */
  errors: string[];
  /** Fields dropped as unknown (what `kubectl` warns about). */
  pruned: string[];
}

export const RULES_NOT_CHECKED = 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/**
 * Checks `object` against `schema` (a CRD version's openAPIV3Schema, or ours). `status` is not checked:
 * with a status subresource the API server ignores it on create and update. `old` is the object an
 * update replaces; without it transition rules (`oldSelf`) do not run.
 */
export function validateStructural(schema: StructuralSchema, object: Record<string, unknown>, old?: Record<string, unknown>): StructuralResult {
  const { status, ...body } = structuredClone(object);
  const pruned = prune(body, schema);
  applySchemaDefaults(body, schema);
  const openApi = validateOpenApi(schema, body);
  const fieldErrors: FieldError[] = [...openApi.errors, ...validateListTypes(body, schema)];
  if (openApi.typeErrors) fieldErrors.push({ path: '', type: 'Invalid value', value: null, detail: RULES_NOT_CHECKED });
  else {
    const previous = old ? (({ status: _ignored, ...rest }) => rest)(old) : undefined;
    fieldErrors.push(...validateRules(body, schema, previous));
  }
  const stored: Record<string, unknown> = status === undefined ? body : { ...body, status };
  return { object: stored, errors: [...new Set(fieldErrors.map(formatFieldError))].sort(), pruned };
}
