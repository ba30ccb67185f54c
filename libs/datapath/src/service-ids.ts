/**
 * Stable service ids: one per frontend (VIP, port, protocol), so a backend slot key (id, slot)
 * means the same thing across agent restarts. The agent persists the allocation; the pinned map is
 * the final word (adopt()), because that is what the kernel is using right now. Every change is
 * also kept in a journal (takeChanges()), so the agent persists a change, not the whole table.
 */
import type { Lb4ServiceKey } from './maps.js';

export const MAX_SERVICE_ID = 0xffffffff;

export function frontendId(key: Lb4ServiceKey): string {
  return `${key.address}:${key.port}/${key.protocol}`;
}

/** One change of the allocation: an id given to a frontend, or (id undefined) a frontend's id released. */
export type IdChange = [frontend: string, id: number | undefined];

/** Changes kept unread before the journal gives up and asks for the whole table (bounds its memory). */
const JOURNAL_SLACK = 4096;

export class ServiceIds {
  private readonly byFrontend = new Map<string, number>();
  private readonly used = new Set<number>();
  private next = 1;
  /** Bumped on every change, so a caller persists only when something changed (O(1) to check). */
  revision = 0;
  /** Changes since the last takeChanges(); undefined once too many piled up unread. */
  private journal: IdChange[] | undefined = [];

  /** Builds the allocation from (frontend, id) pairs; an invalid or duplicate id is left out. */
  static fromEntries(entries: Iterable<[frontend: string, id: unknown]>): ServiceIds {
    const ids = new ServiceIds();
    for (const [frontend, id] of entries) {
      if (Number.isInteger(id) && (id as number) > 0 && (id as number) <= MAX_SERVICE_ID && !ids.used.has(id as number) && !ids.byFrontend.has(frontend)) ids.set(frontend, id as number);
    }
    ids.journal = [];
    return ids;
  }

  static fromJSON(value: unknown): ServiceIds {
    if (value && typeof value === 'object' && 'ids' in value && value.ids && typeof value.ids === 'object') return ServiceIds.fromEntries(Object.entries(value.ids as Record<string, unknown>));
    return new ServiceIds();
  }

  /** Every (frontend, id) held, in no particular order. */
  entries(): IterableIterator<[frontend: string, id: number]> {
    return this.byFrontend.entries();
  }

  /**
   * The changes since the last call, in order, or 'all' when so many piled up unread that the
   * whole table is the shorter record (a caller that never reads them costs bounded memory).
   */
  takeChanges(): IdChange[] | 'all' {
    const changes = this.journal ?? 'all';
    this.journal = [];
    return changes;
  }

  toJSON(): { v: 1; ids: Record<string, number> } {
    return { v: 1, ids: Object.fromEntries([...this.byFrontend].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
  }

  get size(): number {
    return this.byFrontend.size;
  }

  get(frontend: string): number | undefined {
    return this.byFrontend.get(frontend);
  }

  /** The frontend's id, allocating the lowest free one when it has none. */
  allocate(frontend: string): number {
    const known = this.byFrontend.get(frontend);
    if (known !== undefined) return known;
    while (this.used.has(this.next)) this.next++;
    if (this.next > MAX_SERVICE_ID) throw new Error('service ids exhausted');
    this.set(frontend, this.next);
    return this.next;
  }

  release(frontend: string): void {
    const id = this.byFrontend.get(frontend);
    if (id === undefined) return;
    this.byFrontend.delete(frontend);
    this.used.delete(id);
    this.revision++;
    this.next = Math.min(this.next, id);
    this.record([frontend, undefined]);
  }

  /** Takes the ids the kernel maps already use; they win over the persisted ones on conflict. */
  adopt(programmed: Iterable<[frontend: string, id: number]>): void {
    const holders = new Map([...this.byFrontend].map(([frontend, id]) => [id, frontend]));
    for (const [frontend, id] of programmed) {
      const holder = holders.get(id);
      if (holder !== undefined && holder !== frontend) this.release(holder);
      const previous = this.byFrontend.get(frontend);
      if (previous !== undefined) holders.delete(previous);
      this.release(frontend);
      this.set(frontend, id);
      holders.set(id, frontend);
    }
  }

  private set(frontend: string, id: number): void {
    this.byFrontend.set(frontend, id);
    this.used.add(id);
    this.revision++;
    this.record([frontend, id]);
  }

  private record(change: IdChange): void {
    if (!this.journal) return;
    this.journal.push(change);
    if (this.journal.length > 2 * this.byFrontend.size + JOURNAL_SLACK) this.journal = undefined;
  }
}
