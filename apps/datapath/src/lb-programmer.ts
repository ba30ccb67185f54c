/**
 * Executes the datapath's plans against the kernel: installs the programs, holds the pinned maps,
 * writes planned operations in order, and keeps the service id allocation on disk (an append-only log). No NATS here,
 * so tests drive it directly.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { LbService } from '@tendril/contract';
import {
  FlowAggregator,
  LEGACY_MAP_NAMES,
  LbTable,
  MAP_NAMES,
  lb4BackendKey,
  lb4FlowEvent,
  lb6FlowEvent,
  lb4Service,
  lbCounter,
  lbService,
  maglevSlot,
  nodeAddressKey,
  type LbChange,
  type LbMap,
  type MapOp,
  type ServiceDump,
} from '@tendril/datapath-core';
import type { FlowEvent } from '@tendril/contract';
import { PinnedMap, PinnedRingBuffer, installPrograms, installTcPrograms, mountBpffs, namespaceAddresses, programsAttached, type AttachedProgram, type TcAttachment } from '@tendril/ebpf';
import type { Logger } from '@tendril/platform';
import { SLOT_L7, SLOT_REFUSED } from '@tendril/datapath-core';
import type { DatapathConfig, NorthSouthConfig } from './config.js';
import { ServiceIdLog } from './service-id-log.js';

const WRITTEN_MAPS: LbMap[] = ['services', 'backends', 'services6', 'backends6', 'maglev', 'external', 'extMaglev'];

/** Connections counted in the kernel for one (frontend, backend) since the maps were created. */
export interface ConnectionCount {
  /** The KV key of the service, when known. */
  service?: string;
  frontend: string;
  /** `address:port`, or 'refused' (no backend) / 'l7-proxy'. */
  backend: string;
  connections: number;
}

export class LbProgrammer {
  private table: LbTable;
  private maps_?: Record<LbMap, PinnedMap>;
  private counters?: PinnedMap;
  private flows?: PinnedRingBuffer;
  private flows6?: PinnedRingBuffer;
  private readonly flowCounts = new FlowAggregator();
  private programs: AttachedProgram[] = [];
  private tcPrograms: TcAttachment[] = [];
  private nodeAddresses: string[] = [];
  private readonly idLog: ServiceIdLog;
  /** Entries in the written maps: counted when read back (reconcile), then kept up to date by every write. */
  private entries = 0;
  errors = 0;

  constructor(
    private readonly config: Pick<DatapathConfig, 'objectPath' | 'pinPath' | 'cgroupPath' | 'idsFile'> &
      Partial<Pick<DatapathConfig, 'maglevTableSize' | 'legacyIdsFile' | 'northSouth'>> & { nodeName?: string },
    private readonly logger: Logger,
  ) {
    this.idLog = new ServiceIdLog(config.idsFile, logger, config.legacyIdsFile);
    this.table = new LbTable(this.idLog.load(), { maglevTableSize: config.maglevTableSize, northSouth: config.northSouth !== undefined, ...(config.nodeName ? { nodeName: config.nodeName } : {}) });
  }

  /** Loads the object (adopting pinned maps) and attaches its programs, replacing an older agent's in place. */
  install(): AttachedProgram[] {
    if (this.config.pinPath.startsWith('/sys/fs/bpf/') && mountBpffs('/sys/fs/bpf')) this.logger.log('mounted bpffs at /sys/fs/bpf');
    const legacy = join(this.config.pinPath, LEGACY_MAP_NAMES.servicesV1);
    this.programs = installPrograms({
      objectPath: this.config.objectPath,
      pinRoot: this.config.pinPath,
      cgroupPath: this.config.cgroupPath,
      beforeAttach: () => {
        this.openMaps();
        if (existsSync(legacy)) this.migrateServicesV1(legacy);
      },
    });
    // the old programs that read v1 are gone: the map goes with its pin
    if (existsSync(legacy)) unlinkSync(legacy);
    const how = this.programs.map((program) => `${program.section}#${program.id}${program.replaced ? ' (replaced)' : ''}`).join(', ');
    this.logger.log(`attached to ${this.config.cgroupPath}: ${how}; maps in ${this.config.pinPath}`);
    if (this.config.northSouth) this.installNorthSouth(this.config.northSouth);
    return this.programs;
  }

  /**
   * The tc programs on the node's external interfaces (after the socket programs, which created and
   * pinned every map). The NodePort addresses are written before any program is attached.
   */
  private installNorthSouth(config: NorthSouthConfig): void {
    this.tcPrograms = installTcPrograms({
      objectPath: config.objectPath,
      pinRoot: this.config.pinPath,
      netnsPath: config.netnsPath,
      devices: config.devices,
      programs: { ingress: 'tendril_nodeport_ingress', egress: 'tendril_nodeport_egress' },
      beforeAttach: () => this.writeNodeAddresses(config),
    });
    const how = this.tcPrograms.map((attached) => `${attached.device} ${attached.direction}${attached.replaced ? ' (replaced)' : ''}`).join(', ');
    this.logger.log(`north-south programs on ${how}${config.netnsPath ? ` in ${config.netnsPath}` : ''}; NodePorts on ${this.nodeAddresses.join(', ') || 'no address'}`);
  }

  private writeNodeAddresses(config: NorthSouthConfig): void {
    const addresses = config.addresses.length > 0 ? config.addresses : [...new Set(namespaceAddresses(config.netnsPath).map((entry) => entry.address).filter((address) => !address.startsWith('127.')))];
    const map = PinnedMap.open(join(this.config.pinPath, MAP_NAMES.nodeAddresses));
    try {
      const wanted = new Set(addresses.map((address) => Buffer.from(nodeAddressKey.encode(address)).toString('hex')));
      for (const key of map.keys()) if (!wanted.has(Buffer.from(key).toString('hex'))) map.delete(key);
      for (const address of addresses) map.update(nodeAddressKey.encode(address), maglevSlot.encode(1));
    } finally {
      map.close();
    }
    this.nodeAddresses = addresses;
  }

  /** The interfaces (and directions) the north-south programs are attached to. */
  get northSouthAttachments(): readonly TcAttachment[] {
    return this.tcPrograms;
  }

  get attached(): boolean {
    return this.programs.length > 0 && programsAttached(this.config.cgroupPath, this.programs);
  }

  /** Brings the maps to exactly `services`, starting from what they hold (adoption, repair). */
  reconcile(services: [key: string, service: LbService][]): number {
    const maps = this.maps();
    const actual = Object.fromEntries(WRITTEN_MAPS.map((map) => [map, maps[map].entries()])) as Record<LbMap, [Buffer, Buffer][]>;
    const ops = this.table.reconcile(actual, services);
    this.entries = WRITTEN_MAPS.reduce((total, map) => total + actual[map].length, 0);
    this.run(ops);
    return ops.length;
  }

  /** Applies a batch of changes; on a failed write the maps are reconciled from scratch. */
  apply(changes: LbChange[], all: () => [string, LbService][]): number {
    const ops = this.table.apply(changes);
    try {
      this.run(ops);
    } catch (error) {
      this.errors++;
      this.logger.warn(`applying ${changes.map((change) => change.key).join(', ')} failed (${(error as Error).message}); reconciling`);
      this.reconcile(all());
    }
    return ops.length;
  }

  get serviceCount(): number {
    return this.table.serviceCount;
  }

  get backendCount(): number {
    return this.table.backendSlotCount;
  }

  /**
   * Entries in the maps the agent writes: the count read back at the last reconcile, plus the keys
   * each write since created, minus those it deleted (no walk over the maps).
   */
  mapEntries(): number {
    return this.maps_ ? this.entries : 0;
  }

  /** The service id a frontend (`127.100.0.1:80/TCP`) holds, if any. */
  idOf(frontend: string): number | undefined {
    return this.table.ids.get(frontend);
  }

  /** Times the service id log was rewritten whole. */
  get idLogCompactions(): number {
    return this.idLog.compactions;
  }

  /** The kernel's per-CPU connection counters, summed over CPUs and named after what they count. */
  connectionCounts(): ConnectionCount[] {
    if (!this.counters) return [];
    const named = this.table.slotNames();
    const out = new Map<string, ConnectionCount>();
    for (const [key, perCpu] of this.counters.perCpuEntries()) {
      const { serviceId, slot } = lb4BackendKey.decode(key);
      const frontend = named.get(serviceId);
      if (!frontend) continue; // a service removed since: its counters age out of the LRU map
      const backend = slot === SLOT_REFUSED ? 'refused' : slot === SLOT_L7 ? 'l7-proxy' : frontend.slots[slot];
      if (!backend) continue;
      const connections = perCpu.reduce((total, value) => total + Number(lbCounter.decode(value).connections), 0);
      const id = `${frontend.frontend}>${backend}`;
      const held = out.get(id);
      if (held) held.connections += connections;
      else out.set(id, { ...(frontend.owner ? { service: frontend.owner } : {}), frontend: frontend.frontend, backend, connections });
    }
    return [...out.values()].sort((a, b) => (a.frontend + a.backend < b.frontend + b.backend ? -1 : 1));
  }

  dump(): ServiceDump[] {
    return this.table.dump();
  }

  /** Connections since the last call, counted per service, backend and verdict. */
  takeFlows(node: string, at = new Date()): FlowEvent[] {
    for (const [ring, codec] of [
      [this.flows, lb4FlowEvent],
      [this.flows6, lb6FlowEvent],
    ] as const) {
      if (!ring) continue;
      for (;;) {
        const samples = ring.drain();
        for (const sample of samples) {
          try {
            this.flowCounts.add(codec.decode(sample));
          } catch (error) {
            this.logger.warn(`ignoring a flow record: ${(error as Error).message}`);
          }
        }
        if (samples.length === 0) break;
      }
    }
    return this.flowCounts.flush(node, at, (frontend) => this.table.ownerOf(frontend));
  }

  /** Closes the maps; programs stay attached and maps pinned, so traffic survives the agent. */
  close(): void {
    this.idLog.close();
    for (const map of Object.values(this.maps_ ?? {})) map.close();
    this.counters?.close();
    this.flows?.close();
    this.flows6?.close();
    this.maps_ = undefined;
    this.counters = undefined;
    this.flows = this.flows6 = undefined;
  }

  private openMaps(): void {
    this.close();
    this.maps_ = Object.fromEntries(WRITTEN_MAPS.map((map) => [map, PinnedMap.open(join(this.config.pinPath, MAP_NAMES[map]))])) as Record<LbMap, PinnedMap>;
    this.counters = PinnedMap.open(join(this.config.pinPath, MAP_NAMES.counters));
    this.flows = PinnedRingBuffer.open(join(this.config.pinPath, MAP_NAMES.flows));
    this.flows6 = PinnedRingBuffer.open(join(this.config.pinPath, MAP_NAMES.flows6));
  }

  /**
   * tendril_lb4_services_v1 -> _v2, before the new programs attach: every v1 entry is copied with
   * its service id (so its backend slots stay valid) and the defaults of the new fields (random, no
   * affinity). The next reconcile takes it from there like any adopted map.
   */
  private migrateServicesV1(path: string): void {
    const v1 = PinnedMap.open(path);
    try {
      const v2 = this.maps().services;
      let copied = 0;
      for (const [key, value] of v1.entries()) {
        if (v2.lookup(key)) continue;
        const old = lb4Service.decode(value);
        v2.update(key, lbService.encode({ ...old, algorithm: 'random', affinityTimeout: 0, maglevSize: 0 }));
        copied++;
      }
      this.logger.log(`migrated ${copied} services from ${LEGACY_MAP_NAMES.servicesV1} to ${MAP_NAMES.services}`);
    } finally {
      v1.close();
    }
  }

  private maps(): Record<LbMap, PinnedMap> {
    if (!this.maps_) throw new Error('programs not installed yet');
    return this.maps_;
  }

  /** Runs of updates to one map go in one batch (in plan order); deletions one by one. */
  private run(ops: MapOp[]): void {
    const maps = this.maps();
    for (let start = 0; start < ops.length; ) {
      const first = ops[start]!;
      let end = start + 1;
      if (first.op === 'update') while (end < ops.length && ops[end]!.op === 'update' && ops[end]!.map === first.map) end++;
      try {
        if (first.op === 'delete') {
          if (maps[first.map].delete(first.key)) this.entries--;
        } else {
          maps[first.map].updateBatch(ops.slice(start, end).map((op) => [op.key, op.value!] as const));
          for (let index = start; index < end; index++) if (ops[index]!.created) this.entries++;
        }
      } catch (error) {
        const failed = ops[start + Math.min((error as { done?: number }).done ?? 0, end - start - 1)]!;
        throw new Error(`${failed.op} ${failed.describe}: ${(error as Error).message}`);
      }
      start = end;
    }
    this.idLog.save(this.table.ids);
  }
}
