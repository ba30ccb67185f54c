/**
 * Executes the datapath's plans against the kernel: installs the programs, holds the pinned maps,
 * writes planned operations in order, and keeps the service id allocation on disk. No NATS here,
 * so tests drive it directly.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LbService } from '@tendril/contract';
import { FlowAggregator, LbTable, MAP_NAMES, ServiceIds, lb4FlowEvent, type LbChange, type MapOp, type ServiceDump } from '@tendril/datapath-core';
import type { FlowEvent } from '@tendril/contract';
import { PinnedMap, PinnedRingBuffer, installPrograms, mountBpffs, programsAttached, type AttachedProgram } from '@tendril/ebpf';
import type { Logger } from '@tendril/platform';
import type { DatapathConfig } from './config.js';

export class LbProgrammer {
  private table: LbTable;
  private services?: PinnedMap;
  private backends?: PinnedMap;
  private flows?: PinnedRingBuffer;
  private readonly flowCounts = new FlowAggregator();
  private programs: AttachedProgram[] = [];
  private savedIds = '';
  errors = 0;

  constructor(
    private readonly config: Pick<DatapathConfig, 'objectPath' | 'pinPath' | 'cgroupPath' | 'idsFile'>,
    private readonly logger: Logger,
  ) {
    this.table = new LbTable(this.loadIds());
  }

  /** Loads the object (adopting pinned maps) and attaches its programs, replacing an older agent's in place. */
  install(): AttachedProgram[] {
    if (this.config.pinPath.startsWith('/sys/fs/bpf/') && mountBpffs('/sys/fs/bpf')) this.logger.log('mounted bpffs at /sys/fs/bpf');
    this.programs = installPrograms({ objectPath: this.config.objectPath, pinRoot: this.config.pinPath, cgroupPath: this.config.cgroupPath });
    this.services = PinnedMap.open(join(this.config.pinPath, MAP_NAMES.services));
    this.backends = PinnedMap.open(join(this.config.pinPath, MAP_NAMES.backends));
    this.flows = PinnedRingBuffer.open(join(this.config.pinPath, MAP_NAMES.flows));
    const how = this.programs.map((program) => `${program.section}#${program.id}${program.replaced ? ' (replaced)' : ''}`).join(', ');
    this.logger.log(`attached to ${this.config.cgroupPath}: ${how}; maps in ${this.config.pinPath}`);
    return this.programs;
  }

  get attached(): boolean {
    return this.programs.length > 0 && programsAttached(this.config.cgroupPath, this.programs);
  }

  /** Brings the maps to exactly `services`, starting from what they hold (adoption, repair). */
  reconcile(services: [key: string, service: LbService][]): number {
    const { services: servicesMap, backends } = this.maps();
    const ops = this.table.reconcile({ services: servicesMap.entries(), backends: backends.entries() }, services);
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

  /** Entries in the two LB maps, counted in the kernel. */
  mapEntries(): number {
    if (!this.services || !this.backends) return 0;
    return this.services.keys().length + this.backends.keys().length;
  }

  dump(): ServiceDump[] {
    return this.table.dump();
  }

  /** Connections since the last call, counted per service, backend and verdict. */
  takeFlows(node: string, at = new Date()): FlowEvent[] {
    if (!this.flows) return [];
    for (;;) {
      const samples = this.flows.drain();
      for (const sample of samples) {
        try {
          this.flowCounts.add(lb4FlowEvent.decode(sample));
        } catch (error) {
          this.logger.warn(`ignoring a flow record: ${(error as Error).message}`);
        }
      }
      if (samples.length === 0) break;
    }
    return this.flowCounts.flush(node, at, (frontend) => this.table.ownerOf(frontend));
  }

  /** Closes the maps; programs stay attached and maps pinned, so traffic survives the agent. */
  close(): void {
    this.services?.close();
    this.backends?.close();
    this.flows?.close();
    this.services = this.backends = undefined;
    this.flows = undefined;
  }

  private maps(): { services: PinnedMap; backends: PinnedMap } {
    if (!this.services || !this.backends) throw new Error('programs not installed yet');
    return { services: this.services, backends: this.backends };
  }

  private run(ops: MapOp[]): void {
    const maps = this.maps();
    for (const op of ops) {
      try {
        if (op.op === 'update') maps[op.map].update(op.key, op.value!);
        else maps[op.map].delete(op.key);
      } catch (error) {
        throw new Error(`${op.op} ${op.describe}: ${(error as Error).message}`);
      }
    }
    this.saveIds();
  }

  private loadIds(): ServiceIds {
    try {
      if (existsSync(this.config.idsFile)) return ServiceIds.fromJSON(JSON.parse(readFileSync(this.config.idsFile, 'utf8')));
    } catch (error) {
      this.logger.warn(`ignoring ${this.config.idsFile}: ${(error as Error).message} (ids are re-adopted from the pinned maps)`);
    }
    return new ServiceIds();
  }

  private saveIds(): void {
    const text = JSON.stringify(this.table.ids, null, 1);
    if (text === this.savedIds) return;
    mkdirSync(dirname(this.config.idsFile), { recursive: true });
    const temporary = `${this.config.idsFile}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.config.idsFile);
    this.savedIds = text;
  }
}
