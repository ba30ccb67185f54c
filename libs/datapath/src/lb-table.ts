/**
 * The load-balancer table as the agent believes the kernel holds it, and the ordered map
 * operations that move the kernel to a new set of services. A change costs O(change): only the
 * entries of the services that changed are compared and written, never the whole table.
 *
 * Order within a plan: backend slots, then Maglev entries, are written before the service entries
 * that point at them; service entries are removed (or shrunk) before the entries they pointed at. Ids released by a plan
 * are free only after it, so no new frontend reuses an id an old entry still points at.
 */
import type { LbService } from '@tendril/contract';
import { backendName, compileService, compiledId, serviceValue, type CompileOptions, type CompiledFrontend } from './compile.js';
import { maglevTable } from './maglev.js';
import {
  lb4Backend,
  lb4BackendKey,
  lb4ServiceKey,
  lb6Backend,
  lb6ServiceKey,
  lbExtMaglev,
  lbService,
  maglevSlot,
  type Algorithm,
  type Lb4Backend,
} from './maps.js';
import { ServiceIds, frontendId } from './service-ids.js';

/** The maps the agent writes (keys of MAP_NAMES). */
export type LbMap = 'services' | 'backends' | 'services6' | 'backends6' | 'maglev' | 'external' | 'extMaglev';
const WRITE_ORDER: LbMap[] = ['backends', 'backends6', 'maglev', 'extMaglev', 'services', 'services6', 'external'];
const REMOVE_ORDER: LbMap[] = ['services', 'services6', 'external', 'maglev', 'extMaglev', 'backends', 'backends6'];

export interface MapOp {
  readonly map: LbMap;
  readonly op: 'update' | 'delete';
  readonly key: Uint8Array;
  readonly value?: Uint8Array | undefined;
  /** For logs and tests: what the entry is. */
  readonly describe: string;
  /** An update of a key the maps did not hold (as far as the plan knows): the entry count grows by one. */
  readonly created?: boolean;
}

/** Raw contents of the maps the agent writes, as read back from the kernel. */
export type MapContents = Record<LbMap, [key: Uint8Array, value: Uint8Array][]>;

/** A compiled frontend with the service id the table gave it and, for Maglev, its lookup table. */
export interface ProgrammedFrontend extends Omit<CompiledFrontend, 'maglevWeights'> {
  serviceId: number;
  /** Maglev: table entry -> slot. */
  maglev?: number[];
}

export interface LbChange {
  /** The KV key (`<cluster>.<namespace>.<name>`). */
  key: string;
  /** undefined: the service is gone. */
  service?: LbService;
}

export interface ServiceDump {
  key: string;
  frontends: { frontend: string; serviceId: number; algorithm: Algorithm; affinityTimeout?: number; l7ProxyPort?: number; backends: string[] }[];
}

interface Entry {
  map: LbMap;
  key: Uint8Array;
  value: Uint8Array;
  /** Built only when asked (a log line, an error, a test): a full load plans hundreds of thousands. */
  describe: () => string;
}
type Entries = Map<string, Entry>;

/** An operation of a plan; `describe` is computed on first read. */
class PlannedOp implements MapOp {
  constructor(
    readonly map: LbMap,
    readonly op: 'update' | 'delete',
    readonly key: Uint8Array,
    readonly value: Uint8Array | undefined,
    private readonly describeEntry: () => string,
    readonly created = false,
  ) {}

  get describe(): string {
    return this.describeEntry();
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/**
 * A frontend's map entries, encoded when a plan needs them (once per plan) and not kept: held for
 * every frontend they would double the agent's heap at 100,000 services.
 */
function frontendEntries(frontend: ProgrammedFrontend): [id: string, entry: Entry][] {
  const out: [string, Entry][] = [];
  const put = (map: LbMap, key: Uint8Array, value: Uint8Array, describe: () => string) => out.push([`${map}:${hex(key)}`, { map, key, value, describe }]);
  const name = () => compiledId(frontend);
  const backendCodec = frontend.family === 4 ? lb4Backend : lb6Backend;
  const backendMap = frontend.family === 4 ? 'backends' : 'backends6';
  frontend.slots.forEach((backend, slot) => {
    put(backendMap, lb4BackendKey.encode({ serviceId: frontend.serviceId, slot }), backendCodec.encode(backend), () => `${name()} slot ${slot} -> ${backendName(backend)}`);
  });
  if (frontend.external && frontend.maglev) {
    put('extMaglev', maglevSlot.encode(frontend.serviceId), lbExtMaglev.encode(frontend.maglev), () => `${name()} maglev table`);
  } else frontend.maglev?.forEach((slot, index) => {
    put('maglev', lb4BackendKey.encode({ serviceId: frontend.serviceId, slot: index }), maglevSlot.encode(slot), () => `${name()} maglev ${index} -> slot ${slot}`);
  });
  const key = (frontend.family === 4 ? lb4ServiceKey : lb6ServiceKey).encode(frontend.key);
  const value = lbService.encode(serviceValue(frontend, frontend.serviceId));
  put(frontend.external ? 'external' : frontend.family === 4 ? 'services' : 'services6', key, value, () => `${name()} id ${frontend.serviceId} count ${frontend.count} ${frontend.algorithm}`);
  return out;
}

function entriesOf(frontends: Iterable<ProgrammedFrontend>, into: Entries = new Map()): Entries {
  for (const frontend of frontends) for (const [id, entry] of frontendEntries(frontend)) into.set(id, entry);
  return into;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/**
 * The ordered operations turning `from` into `to` (ids unique within `to`): one pass over each,
 * bucketed by map. Consumes `from`: what is left of it after the pass is what to remove.
 */
function diff(from: Entries, to: Iterable<[id: string, entry: Entry]>): MapOp[] {
  const writes = new Map<LbMap, MapOp[]>(WRITE_ORDER.map((map) => [map, []]));
  const removals = new Map<LbMap, MapOp[]>(REMOVE_ORDER.map((map) => [map, []]));
  for (const [id, entry] of to) {
    const held = from.get(id);
    if (held) from.delete(id);
    if (!held || !sameBytes(held.value, entry.value)) writes.get(entry.map)!.push(new PlannedOp(entry.map, 'update', entry.key, entry.value, entry.describe, !held));
  }
  for (const entry of from.values()) removals.get(entry.map)!.push(new PlannedOp(entry.map, 'delete', entry.key, undefined, entry.describe));
  return [...WRITE_ORDER.flatMap((map) => writes.get(map)!), ...REMOVE_ORDER.flatMap((map) => removals.get(map)!)];
}

function* allEntries(frontends: Iterable<ProgrammedFrontend>): Iterable<[id: string, entry: Entry]> {
  for (const frontend of frontends) yield* frontendEntries(frontend);
}

/**
 * The wanted slots, arranged so that a backend that keeps serving keeps its slots: one backend more
 * or less rewrites only the slots that change, not every slot after it.
 */
function keepSlots(previous: Lb4Backend[], wanted: Lb4Backend[]): Lb4Backend[] {
  const remaining = new Map<string, { backend: Lb4Backend; left: number }>();
  for (const backend of wanted) {
    const held = remaining.get(backendName(backend));
    if (held) held.left++;
    else remaining.set(backendName(backend), { backend, left: 1 });
  }
  const out: (Lb4Backend | undefined)[] = new Array(wanted.length).fill(undefined);
  previous.slice(0, wanted.length).forEach((backend, slot) => {
    const held = remaining.get(backendName(backend));
    if (held && held.left > 0) {
      out[slot] = held.backend;
      held.left--;
    }
  });
  const fill = [...remaining.values()].flatMap((held) => Array.from({ length: held.left }, () => held.backend));
  return out.map((backend) => backend ?? fill.shift()!);
}

export class LbTable {
  /** KV key -> its frontends, by frontend id. */
  private readonly programmed = new Map<string, Map<string, ProgrammedFrontend>>();
  /** frontend id -> KV key that owns it (the last writer, when two services claim one VIP). */
  private readonly owners = new Map<string, string>();

  constructor(
    readonly ids: ServiceIds = new ServiceIds(),
    private readonly options: CompileOptions = {},
  ) {}

  /** Plans a batch of changes and takes the result as programmed (apply the ops, or reconcile after a failure). */
  apply(changes: LbChange[]): MapOp[] {
    const from: Entries = new Map();
    const to: Entries = new Map();
    this.take(changes, from, to);
    return diff(from, to);
  }

  /**
   * Takes the changes as programmed; with `from` and `to`, collects the entries each change had
   * and has now (what apply() diffs). Ids released are free only after the whole batch.
   */
  private take(changes: LbChange[], from?: Entries, to?: Entries): void {
    const released: string[] = [];
    for (const change of changes) {
      const previous = this.programmed.get(change.key) ?? new Map<string, ProgrammedFrontend>();
      if (from) entriesOf(previous.values(), from);
      for (const id of previous.keys()) {
        if (this.owners.get(id) === change.key) this.owners.delete(id);
      }
      this.programmed.delete(change.key);
      const next = new Map<string, ProgrammedFrontend>();
      for (const compiled of change.service ? compileService(change.service, this.options) : []) {
        const id = compiledId(compiled);
        const rival = this.owners.get(id);
        if (rival !== undefined) {
          const taken = this.programmed.get(rival)?.get(id);
          if (taken && from && to) {
            for (const [entryId, entry] of frontendEntries(taken)) {
              from.set(entryId, entry);
              to.delete(entryId);
            }
          }
          this.programmed.get(rival)?.delete(id);
        }
        next.set(id, this.program(compiled, previous.get(id)));
        this.owners.set(id, change.key);
      }
      for (const id of previous.keys()) if (!this.owners.has(id)) released.push(id);
      if (next.size > 0) this.programmed.set(change.key, next);
      if (to) entriesOf(next.values(), to);
    }
    for (const id of released) if (!this.owners.has(id)) this.ids.release(id);
  }

  /**
   * Forgets what it believed, takes the kernel's actual contents and the complete desired set, and
   * plans the difference: how an agent adopts pinned maps after a restart (identical entries are
   * left alone, so traffic never stops) and repairs the table after a failed write.
   */
  reconcile(actual: MapContents, services: [key: string, service: LbService][]): MapOp[] {
    const from: Entries = new Map();
    const adopted: [string, number][] = [];
    for (const map of ['services', 'services6', 'external'] as const) {
      for (const [key, value] of actual[map] ?? []) {
        const decoded = frontendId((map === 'services6' ? lb6ServiceKey : lb4ServiceKey).decode(key));
        const frontend = map === 'external' ? `external ${decoded}` : decoded;
        adopted.push([frontend, lbService.decode(value).serviceId]);
        from.set(`${map}:${hex(key)}`, { map, key, value, describe: () => `${frontend} (found)` });
      }
    }
    for (const [key, value] of actual.extMaglev ?? []) {
      from.set(`extMaglev:${hex(key)}`, { map: 'extMaglev', key, value, describe: () => `external maglev table of id ${maglevSlot.decode(key)} (found)` });
    }
    for (const map of ['backends', 'backends6', 'maglev'] as const) {
      for (const [key, value] of actual[map]) {
        from.set(`${map}:${hex(key)}`, {
          map,
          key,
          value,
          describe: () => {
            const slot = lb4BackendKey.decode(key);
            return `${map} id ${slot.serviceId} ${map === 'maglev' ? 'entry' : 'slot'} ${slot.slot} (found)`;
          },
        });
      }
    }
    this.ids.adopt(adopted);
    this.programmed.clear();
    this.owners.clear();
    this.take([...services].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, service]) => ({ key, service })));
    const wanted = new Set([...this.owners.keys()]);
    for (const [frontend] of adopted) if (!wanted.has(frontend)) this.ids.release(frontend);
    return diff(from, allEntries(this.allFrontends()));
  }

  /** The KV key whose service programmed this frontend (`127.100.0.1:80/TCP`). */
  ownerOf(frontend: string): string | undefined {
    const held = this.owners.get(frontend) ?? this.owners.get(`external ${frontend}`);
    if (held !== undefined) return held;
    // a NodePort, reported with the node address the client dialled
    const port = /:(\d+\/[A-Z]+)$/.exec(frontend);
    return port ? this.owners.get(`external 0.0.0.0:${port[1]}`) : undefined;
  }

  get serviceCount(): number {
    return this.owners.size;
  }

  get backendSlotCount(): number {
    let total = 0;
    for (const frontend of this.allFrontends()) total += frontend.slots.length;
    return total;
  }

  dump(): ServiceDump[] {
    return [...this.programmed]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, frontends]) => ({
        key,
        frontends: [...frontends.values()].map((frontend) => ({
          frontend: compiledId(frontend),
          serviceId: frontend.serviceId,
          algorithm: frontend.algorithm,
          ...(frontend.affinityTimeout ? { affinityTimeout: frontend.affinityTimeout } : {}),
          ...(frontend.proxyPort ? { l7ProxyPort: frontend.proxyPort } : {}),
          backends: frontend.slots.map((slot) => `${slot.address}:${slot.port}`),
        })),
      }));
  }

  /** Service id -> its frontend, owner and the backend (`address:port`) in each slot: names for the counters. */
  slotNames(): Map<number, { frontend: string; owner?: string; slots: string[] }> {
    const out = new Map<number, { frontend: string; owner?: string; slots: string[] }>();
    for (const [owner, frontends] of this.programmed) {
      for (const frontend of frontends.values()) {
        const slots = frontend.slots.map((backend) => (backend.address.includes(':') ? `[${backend.address}]:${backend.port}` : `${backend.address}:${backend.port}`));
        out.set(frontend.serviceId, { frontend: compiledId(frontend), owner, slots });
      }
    }
    return out;
  }

  private *allFrontends(): Iterable<ProgrammedFrontend> {
    for (const frontends of this.programmed.values()) yield* frontends.values();
  }

  private program(compiled: CompiledFrontend, previous?: ProgrammedFrontend): ProgrammedFrontend {
    const serviceId = this.ids.allocate(compiledId(compiled));
    const slots = previous ? keepSlots(previous.slots, compiled.slots) : compiled.slots;
    const { maglevWeights, ...rest } = compiled;
    const programmed: ProgrammedFrontend = { ...rest, serviceId, slots };
    if (maglevWeights) {
      programmed.maglev = maglevTable(
        slots.map((backend) => ({ name: backendName(backend), weight: maglevWeights.get(backendName(backend)) ?? 1 })),
        compiled.maglevSize,
      );
    }
    return programmed;
  }
}
