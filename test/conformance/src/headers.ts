/**
 * An HTTP header list as a proxy holds it: ordered (name, value) entries, names compared
 * case-insensitively, one name may repeat. Readers join repeated values with "," as Go's
 * conformance client does when it compares them.
 */
export type HeaderEntry = readonly [name: string, value: string];

export class Headers {
  private entries: [string, string][] = [];

  constructor(initial: Iterable<HeaderEntry> | Record<string, string> = []) {
    const list = Symbol.iterator in Object(initial) ? (initial as Iterable<HeaderEntry>) : Object.entries(initial as Record<string, string>);
    for (const [name, value] of list) this.add(name, value);
  }

  clone(): Headers {
    return new Headers(this.entries);
  }

  add(name: string, value: string): void {
    this.entries.push([name.toLowerCase(), value]);
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.add(name, value);
  }

  remove(name: string): void {
    const lower = name.toLowerCase();
    this.entries = this.entries.filter(([n]) => n !== lower);
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.entries.some(([n]) => n === lower);
  }

  values(name: string): string[] {
    const lower = name.toLowerCase();
    return this.entries.filter(([n]) => n === lower).map(([, v]) => v);
  }

  /** Every value of `name` joined with "," (undefined when absent). */
  get(name: string): string | undefined {
    const values = this.values(name);
    return values.length ? values.join(',') : undefined;
  }

  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name] of this.entries) out[name] = this.get(name)!;
    return out;
  }
}
