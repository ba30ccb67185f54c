/**
 * Field errors worded as the API server words them (k8s.io/apimachinery field.Error):
 * `spec.listeners[1].name: Invalid value: "a_b": spec.listeners[1].name in body should match '...'`.
 */

export type FieldErrorType = 'Invalid value' | 'Required value' | 'Forbidden' | 'Unsupported value' | 'Duplicate value' | 'Too long' | 'Too many';

export interface FieldError {
  path: string;
  type: FieldErrorType;
  /** The offending value (or, for CEL rules, the schema type name); absent for types that print none. */
  value?: unknown;
  detail: string;
}

/** Field path segments joined as Kubernetes prints them: `spec.rules[0].filters[1]`, map keys in brackets. */
export class FieldPath {
  private constructor(readonly text: string) {}

  static root(): FieldPath {
    return new FieldPath('');
  }

  child(name: string): FieldPath {
    return new FieldPath(this.text === '' ? name : `${this.text}.${name}`);
  }

  index(position: number): FieldPath {
    return new FieldPath(`${this.text}[${position}]`);
  }

  key(name: string): FieldPath {
    return new FieldPath(`${this.text}[${name}]`);
  }

  toString(): string {
    return this.text;
  }
}

/** The value as Go's `%#v`/`%q` would show it in an error, approximated: strings quoted, the rest as JSON. */
export function printValue(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}

export function formatFieldError(error: FieldError): string {
  const where = error.path === '' ? '<nil>' : error.path;
  const printsValue = error.type !== 'Required value' && error.type !== 'Forbidden' && error.type !== 'Too long';
  let body: string = error.type;
  if (printsValue) body += `: ${printValue(error.value)}`;
  if (error.detail !== '') body += `: ${error.detail}`;
  return `${where}: ${body}`;
}
