/**
 * Typed reads of untyped Kubernetes JSON. A wrong type is reported with its field path and reads as
 * absent, so one bad field costs only what depends on it.
 */
import type { SourceObject } from '@tendril/model';
import type { Problems } from '../problems.js';

export type Json = Record<string, unknown>;

export class FieldReader {
  constructor(
    readonly problems: Problems,
    readonly source: SourceObject,
  ) {}

  report(path: string, message: string): void {
    this.problems.field(this.source, path, message);
  }

  object(value: unknown, path: string): Json | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) return this.wrong(path, 'an object', value);
    return value as Json;
  }

  array(value: unknown, path: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return this.wrong(path, 'a list', value) ?? [];
    return value;
  }

  string(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') return this.wrong(path, 'a string', value);
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') return this.wrong(path, 'true or false', value);
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      return this.wrong(path, `an integer ${min}..${max}`, value);
    }
    return value;
  }

  /** A string from a fixed set; anything else is reported and reads as absent. */
  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) return this.wrong(path, `one of ${allowed.join(', ')}`, value);
    return text as T;
  }

  private wrong(path: string, expected: string, value: unknown): undefined {
    this.report(path, `expected ${expected}, got ${JSON.stringify(value)}`);
    return undefined;
  }
}
