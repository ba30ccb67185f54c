/** A string field limited to a list of values, with an optional default. */
import { string, type StructuralSchema } from '../structural/schema.js';

export function enumOf(values: readonly (string | number)[], defaultValue?: string | number): StructuralSchema {
  const schema: StructuralSchema = typeof values[0] === 'number' ? { type: 'integer', format: 'int32', enum: [...values] } : string({ enum: [...values] });
  if (defaultValue !== undefined) schema.default = defaultValue;
  return schema;
}
