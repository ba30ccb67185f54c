/** A pinned BPF map opened by path: Buffers in, Buffers out. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { native } from './native.js';

/** BPF_MAP_TYPE_PERCPU_HASH, _PERCPU_ARRAY, _LRU_PERCPU_HASH: a value per possible CPU. */
const PER_CPU_TYPES = new Set([5, 6, 10]);

let possibleCpus: number | undefined;
/** What the kernel sizes per-CPU values by: /sys/devices/system/cpu/possible ("0-7", "0,2-3"). */
function countPossibleCpus(): number {
  if (possibleCpus === undefined) {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    possibleCpus = text.split(',').reduce((total, range) => {
      const [first, last] = range.split('-').map(Number);
      return total + (last === undefined ? 1 : last - first! + 1);
    }, 0);
  }
  return possibleCpus;
}

export const UPDATE_ANY = 0;
export const UPDATE_NO_EXIST = 1;
export const UPDATE_EXIST = 2;

export class PinnedMap {
  private open = true;
  /** Until the kernel says the map type has no BPF_MAP_UPDATE_BATCH. */
  private batchUpdates = true;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** The pin's file name (the kernel keeps only the first 15 characters of a map's name). */
    readonly name: string,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
    /** Per-CPU map: lookups return one value per possible CPU. */
    readonly perCpu: boolean,
  ) {}

  static open(path: string): PinnedMap {
    const fd = native.objGet(path);
    const info = native.objInfo(fd);
    if (info.kind !== 'map') {
      native.closeFd(fd);
      throw new Error(`${path}: not a BPF map`);
    }
    return new PinnedMap(path, fd, basename(path), info.keySize!, info.valueSize!, info.maxEntries!, PER_CPU_TYPES.has(info.type));
  }

  /** For a per-CPU map, every CPU's value concatenated (each padded to 8 bytes): see perCpuValues(). */
  lookup(key: Uint8Array): Buffer | undefined {
    this.checkKey(key);
    return native.mapLookup(this.fd, key, this.readSize) ?? undefined;
  }

  /** A per-CPU map's value on each possible CPU. */
  perCpuValues(key: Uint8Array): Buffer[] | undefined {
    const all = this.lookup(key);
    return all && this.splitPerCpu(all);
  }

  /** Every entry of a per-CPU map, with its value on each possible CPU. */
  perCpuEntries(): [Buffer, Buffer[]][] {
    return this.entries().map(([key, value]) => [key, this.splitPerCpu(value)]);
  }

  private get readSize(): number {
    return this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * countPossibleCpus() : this.valueSize;
  }

  private splitPerCpu(all: Buffer): Buffer[] {
    if (!this.perCpu) throw new Error(`${this.name}: not a per-CPU map`);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    return Array.from({ length: all.length / stride }, (_, cpu) => all.subarray(cpu * stride, cpu * stride + this.valueSize));
  }

  /** For a per-CPU map, a value for every possible CPU, each padded to 8 bytes. */
  update(key: Uint8Array, value: Uint8Array, flags = UPDATE_ANY): void {
    this.checkKey(key);
    if (value.length !== this.readSize) throw new Error(`${this.name}: value is ${value.length} bytes, map wants ${this.readSize}`);
    native.mapUpdate(this.fd, key, value, flags);
  }

  /**
   * Writes entries in order with one BPF_MAP_UPDATE_BATCH per call (the kernel stops at the first
   * failure; the error's `done` says how many were written). Batches take no BPF_NOEXIST/BPF_EXIST,
   * so with those flags, and where the map type has no batch update, it writes entry by entry.
   */
  updateBatch(entries: readonly (readonly [key: Uint8Array, value: Uint8Array])[], flags = UPDATE_ANY): void {
    this.checkOpen();
    if (entries.length === 0) return;
    const size = this.readSize;
    const keys = Buffer.allocUnsafe(entries.length * this.keySize);
    const values = Buffer.allocUnsafe(entries.length * size);
    entries.forEach(([key, value], index) => {
      if (key.length !== this.keySize) throw new Error(`${this.name}: key is ${key.length} bytes, map wants ${this.keySize}`);
      if (value.length !== size) throw new Error(`${this.name}: value is ${value.length} bytes, map wants ${size}`);
      keys.set(key, index * this.keySize);
      values.set(value, index * size);
    });
    if (this.batchUpdates && flags === UPDATE_ANY) {
      try {
        native.mapUpdateBatch(this.fd, keys, values, entries.length, flags);
        return;
      } catch (error) {
        const { errno, done } = error as { errno?: number; done?: number };
        // EINVAL/ENOTSUPP before anything was written: no batch operations for this map type
        if (!(done === 0 && (errno === 22 || errno === 95 || errno === 524))) throw error;
        this.batchUpdates = false;
      }
    }
    for (const [key, value] of entries) native.mapUpdate(this.fd, key, value, flags);
  }

  /** True when an entry was removed. */
  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    return native.mapDelete(this.fd, key);
  }

  keys(): Buffer[] {
    this.checkOpen();
    return native.mapKeys(this.fd, this.keySize);
  }

  /**
   * Every entry, read with BPF_MAP_LOOKUP_BATCH (a few syscalls for the whole map) where the map
   * type has it; otherwise key by key, skipping entries that vanish between listing and reading.
   */
  entries(): [Buffer, Buffer][] {
    this.checkOpen();
    const size = this.readSize;
    const dump = native.mapDump(this.fd, this.keySize, size);
    if (dump) {
      return Array.from({ length: dump.count }, (_, index) => [
        dump.keys.subarray(index * this.keySize, (index + 1) * this.keySize),
        dump.values.subarray(index * size, (index + 1) * size),
      ]);
    }
    const out: [Buffer, Buffer][] = [];
    for (const key of this.keys()) {
      const value = native.mapLookup(this.fd, key, this.readSize);
      if (value) out.push([key, value]);
    }
    return out;
  }

  close(): void {
    if (this.open) native.closeFd(this.fd);
    this.open = false;
  }

  private checkKey(key: Uint8Array): void {
    this.checkOpen();
    if (key.length !== this.keySize) throw new Error(`${this.name}: key is ${key.length} bytes, map wants ${this.keySize}`);
  }

  private checkOpen(): void {
    if (!this.open) throw new Error(`${this.name}: map is closed`);
  }
}
