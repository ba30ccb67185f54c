/** JSON codecs with runtime validation: every message crossing NATS goes through one of these. */
import type { z } from 'zod';
import { ContractError } from './errors.js';

export interface Codec<T> {
  /** What the message is, for error messages. */
  readonly name: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
  /** Validates a value already in memory; throws ContractError naming every problem. */
  check(value: unknown): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}

export function jsonCodec<S extends z.ZodType>(name: string, schema: S): Codec<z.infer<S>> {
  const check = (value: unknown): z.infer<S> => {
    const result = schema.safeParse(value);
    if (!result.success) throw new ContractError(`${name}: ${describeIssues(result.error)}`);
    return result.data;
  };
  return {
    name,
    check,
    encode: (value) => encoder.encode(JSON.stringify(check(value))),
    decode: (bytes) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(bytes));
      } catch (error) {
        throw new ContractError(`${name}: not JSON (${(error as Error).message})`);
      }
      return check(parsed);
    },
  };
}

/** JSON with object keys sorted at every level: equal values give equal text, whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return inner;
  });
}
