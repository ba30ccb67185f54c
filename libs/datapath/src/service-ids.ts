/**
 * Stable service ids: one per frontend (VIP, port, protocol), so a backend slot key (id, slot)
 * means the same thing across agent restarts. The agent persists the allocation; the pinned map is
 * the final word (adopt()), because that is what the kernel is using right now.
 */
import type { Lb4ServiceKey } from './maps.js';

export const MAX_SERVICE_ID = 0xffffffff;

export function frontendId(key: Lb4ServiceKey): string {
  return `${key.address}:${key.port}/${key.protocol}`;
}

export class ServiceIds {
  private readonly byFrontend = new Map<string, number>();
  private readonly used = new Set<number>();
  private next = 1;
  /** Bumped on every change, so a caller persists only when something changed (O(1) to check). */
  revision = 0;

  static fromJSON(value: unknown): ServiceIds {
    const ids = new ServiceIds();
    if (value && typeof value === 'object' && 'ids' in value && value.ids && typeof value.ids === 'object') {
      for (const [frontend, id] of Object.entries(value.ids as Record<string, unknown>)) {
        if (Number.isInteger(id) && (id as number) > 0 && (id as number) <= MAX_SERVICE_ID && !ids.used.has(id as number)) ids.set(frontend, id as number);
      }
    }
    return ids;
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
  }
}
