import type { ObjectKind } from '@tendril/contract';
import type { TranslationContext } from '../../context.js';
import type { IndexedObject } from '../../objects.js';

/** Appends to the list under a key (made on first use): O(1), unlike copying the list each time. */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** A lookup by `namespace/name`. */
export interface NamedLookup<T> {
  get(id: string): T | undefined;
}

/** Objects of one kind by `namespace/name`, each read (and made into `view`) when first looked up. */
export function byName<T>(context: TranslationContext, kind: ObjectKind, view: (entry: IndexedObject) => T): NamedLookup<T> {
  const seen = new Map<string, T | undefined>();
  return {
    get: (id) => {
      if (seen.has(id)) return seen.get(id);
      const slash = id.indexOf('/');
      const entry = context.object(kind, id.slice(0, slash), id.slice(slash + 1));
      const value = entry && view(entry);
      seen.set(id, value);
      return value;
    },
  };
}
