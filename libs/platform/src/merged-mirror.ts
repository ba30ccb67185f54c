/**
 * One view over several KvMirrors whose buckets share a key scheme (tendril-objects and
 * tendril-secrets; tendril-xds and tendril-sds): a key belongs to the bucket `home(key)` names. A
 * reader sees one store, as if the keys were in one bucket.
 *
 * A key found only in another of the buckets (left there by an older writer, before its kind had a
 * bucket of its own) is still seen, until its home bucket holds it or the older writer deletes it,
 * so a rolling upgrade loses nothing on its way; the home bucket's value wins whenever it has one.
 */
import type { ChunkedHead } from '@tendril/contract';
import type { KvMirror, MirrorChange } from './kv-mirror.js';

export class MergedKvMirror<T> {
  /** The value seen for each key: its home bucket's, else the first other bucket's that holds it. */
  private readonly held = new Map<string, { value: T; revision: number }>();
  private readonly listeners = new Set<(changes: MirrorChange<T>[]) => void>();

  constructor(
    private readonly mirrors: readonly KvMirror<T>[],
    /** Index into `mirrors` of the bucket a key belongs to. */
    private readonly home: (key: string) => number,
  ) {
    for (const mirror of mirrors) mirror.onChange((changes) => this.merge(changes));
  }

  get isInitiallySynced(): boolean {
    return this.mirrors.every((mirror) => mirror.isInitiallySynced);
  }

  get size(): number {
    return this.held.size;
  }

  get synced(): Promise<void> {
    return Promise.all(this.mirrors.map((mirror) => mirror.synced)).then(() => undefined);
  }

  get(key: string): T | undefined {
    return this.held.get(key)?.value;
  }

  keys(): string[] {
    return [...this.held.keys()];
  }

  values(): [string, T][] {
    return [...this.held].map(([key, held]) => [key, held.value]);
  }

  *entriesNow(): IterableIterator<[string, T]> {
    for (const [key, held] of this.held) yield [key, held.value];
  }

  /** The chunk list of the key's value in its home bucket, when it is chunked there. */
  chunkedHead(key: string): ChunkedHead | undefined {
    return this.mirrors[this.home(key)]?.chunkedHead(key);
  }

  onChange(listener: (changes: MirrorChange<T>[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts every mirror; resolves once each holds its bucket's initial values. */
  async start(): Promise<void> {
    await Promise.all(this.mirrors.map((mirror) => mirror.start()));
  }

  stop(): void {
    for (const mirror of this.mirrors) mirror.stop();
  }

  /** What the key is now, across the buckets. */
  private resolve(key: string): T | undefined {
    const home = this.home(key);
    const own = this.mirrors[home]?.get(key);
    if (own !== undefined) return own;
    for (let index = 0; index < this.mirrors.length; index++) {
      if (index === home) continue;
      const value = this.mirrors[index]!.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** A mirror's batch, as changes of the merged view: a key whose seen value did not move is no change. */
  private merge(changes: MirrorChange<T>[]): void {
    const out: MirrorChange<T>[] = [];
    for (const change of changes) {
      const before = this.held.get(change.key);
      const value = this.resolve(change.key);
      if (value === before?.value) continue;
      const at = change.at ? { at: change.at } : {};
      if (value === undefined) {
        this.held.delete(change.key);
        out.push({ op: 'delete', key: change.key, ...(before ? { previous: before.value } : {}), revision: change.revision, ...at });
      } else {
        this.held.set(change.key, { value, revision: change.revision });
        out.push({ op: 'put', key: change.key, value, ...(before ? { previous: before.value } : {}), revision: change.revision, ...at });
      }
    }
    if (out.length === 0) return;
    for (const listener of this.listeners) listener(out);
  }
}
