/** Keeps Prometheus label sets bounded: a fixed vocabulary, or the first N distinct values then "other". */

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** An HTTP method as a label: one of the standard nine, else OTHER. */
export function methodLabel(method: string | undefined): string {
  const upper = (method ?? '').toUpperCase();
  return METHODS.has(upper) ? upper : 'OTHER';
}

/** 1xx..5xx, or "none" when there was no response (reset, timeout before headers). */
export function statusClass(status: number | undefined): string {
  if (!status || status < 100 || status > 599) return 'none';
  return `${Math.floor(status / 100)}xx`;
}

/** Admits the first `limit` distinct values; any later newcomer becomes "other". */
export class LabelBudget {
  private readonly admitted = new Set<string>();
  overflowed = 0;

  constructor(private readonly limit: number) {}

  label(value: string): string {
    if (this.admitted.has(value)) return value;
    if (this.admitted.size < this.limit) {
      this.admitted.add(value);
      return value;
    }
    this.overflowed++;
    return 'other';
  }

  get size(): number {
    return this.admitted.size;
  }
}
