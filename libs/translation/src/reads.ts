/**
 * What a unit of translation (or a feature's own code outside its units) read, as keys a change can be
 * matched against. A reader records each read through its TranslationContext; a change names the read
 * keys it touches (touchedBy, and the IR items a rebuilt unit replaced); the readers of those keys are
 * built again, and only they.
 *
 * Read keys:
 * - `o|cluster|kind|namespace|name`: one object (there or not);
 * - `l|kind`: which objects of a kind exist in this cluster (not their contents);
 * - `a|kind`, `A|kind`: every object of a kind in this cluster, in other clusters (contents too);
 * - `q|query|param`: the answer of an index query (objects.ts ObjectQuery); `v|query|key`: only the
 *   parameters one object answers a query under;
 * - `i|list|name`: an IR item an earlier feature made (its contents); `p|list|name`: only whether
 *   it is there; `s|sockets`: which node-proxy sockets the listeners bind.
 */
import type { ObjectKind } from '@tendril/contract';
import type { IndexedObject, ObjectIndex } from './objects.js';

export const objectRead = (cluster: string, kind: ObjectKind, namespace: string | undefined, name: string) => `o|${cluster}|${kind}|${namespace ?? ''}|${name}`;
export const SOCKETS_READ = 's|sockets';

/** The read keys a change of one object (entries before and after) touches. */
export function touchedBy(index: ObjectIndex, before: IndexedObject | undefined, after: IndexedObject | undefined): string[] {
  const entry = (after ?? before)!;
  const { cluster, kind, namespace, name } = entry.ref;
  const local = cluster === index.cluster;
  const keys = [objectRead(cluster, kind, namespace, name), local ? `a|${kind}` : `A|${kind}`];
  if (local && (before === undefined) !== (after === undefined)) keys.push(`l|${kind}`);
  const [was, is] = [before ? index.answersOf(before) : [], after ? index.answersOf(after) : []];
  for (const answer of [...was, ...is]) keys.push(`q|${answer}`);
  if (was.join('\n') !== is.join('\n')) for (const query of new Set([...was, ...is].map((answer) => answer.slice(0, answer.indexOf('|'))))) keys.push(`v|${query}|${entry.key}`);
  return keys;
}

/** Who read what, both ways: readers by read key, and each reader's reads. */
export class Dependents {
  private readonly readers = new Map<string, Set<string>>();
  private readonly readsOf = new Map<string, Set<string>>();

  /** Records that `reader` read `reads` (instead of what it read before). */
  set(reader: string, reads: Iterable<string>): void {
    this.drop(reader);
    this.add(reader, reads);
  }

  /** Adds reads to what `reader` read. */
  add(reader: string, reads: Iterable<string>): void {
    let mine = this.readsOf.get(reader);
    if (!mine) this.readsOf.set(reader, (mine = new Set()));
    for (const key of reads) {
      if (mine.has(key)) continue;
      mine.add(key);
      const set = this.readers.get(key);
      if (set) set.add(reader);
      else this.readers.set(key, new Set([reader]));
    }
  }

  drop(reader: string): void {
    for (const key of this.readsOf.get(reader) ?? []) {
      const set = this.readers.get(key);
      set?.delete(reader);
      if (set?.size === 0) this.readers.delete(key);
    }
    this.readsOf.delete(reader);
  }

  /** The readers of any of `keys`. */
  of(keys: Iterable<string>, into = new Set<string>()): Set<string> {
    for (const key of keys) for (const reader of this.readers.get(key) ?? []) into.add(reader);
    return into;
  }
}
