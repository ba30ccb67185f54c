/** Translation errors: bad input becomes an entry naming the object and field, never an exception. */
import { describeSource, type SourceObject } from '@tendril/model';

export interface TranslationError {
  /** `namespace/Kind/name`, or the KV key when the object could not be identified. */
  object: string;
  /** Starts with the field path, e.g. `spec.ports[0].port: expected an integer 1..65535`. */
  message: string;
}

export class Problems {
  private readonly list: TranslationError[] = [];

  /** Reports a problem with one field of one object. */
  field(source: SourceObject, path: string, message: string): void {
    this.list.push({ object: describeSource(source), message: path ? `${path}: ${message}` : message });
  }

  raw(object: string, message: string): void {
    this.list.push({ object, message });
  }

  /** Every problem reported so far, in reporting order. */
  entries(): TranslationError[] {
    return [...this.list];
  }

  /** Sorted and without duplicates, so that output never depends on visiting order. */
  sorted(): TranslationError[] {
    const unique = new Map(this.list.map((error) => [`${error.object}\u0000${error.message}`, error]));
    return [...unique.entries()].sort(([a], [b]) => compare(a, b)).map(([, error]) => error);
  }
}

/** Byte-order string comparison: stable across locales, unlike localeCompare. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
