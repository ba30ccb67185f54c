/** How results are printed: aligned tables for people, JSON or YAML for scripts. */
import Table from 'cli-table3';
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number;
}

export function parseFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  throw new UsageError(`unknown output format "${value}" (table, json or yaml)`);
}

/** A table without borders, columns padded, as kubectl and cilium print them. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const out = new Table({
    head: columns.map((c) => c.header),
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) out.push(columns.map((c) => String(c.value(row))));
  return out.toString().split('\n').map((line) => line.trimEnd()).join('\n');
}

/** Prints data in the chosen format; `human` renders the table form. */
export function print(format: OutputFormat, data: unknown, human: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(stringify(data));
  else process.stdout.write(human() + '\n');
}

/** Wrong use of the command line: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The system answered, but not what was asked for (unknown node, nothing found): exit code 1. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** NATS could not be reached or did not answer in time: exit code 3. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}
