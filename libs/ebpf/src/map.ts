/** A pinned BPF map opened by path: Buffers in, Buffers out. */
import { basename } from 'node:path';
import { native } from './native.js';

export const UPDATE_ANY = 0;
export const UPDATE_NO_EXIST = 1;
export const UPDATE_EXIST = 2;

export class PinnedMap {
  private open = true;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** The pin's file name (the kernel keeps only the first 15 characters of a map's name). */
    readonly name: string,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {}

  static open(path: string): PinnedMap {
    const fd = native.objGet(path);
    const info = native.objInfo(fd);
    if (info.kind !== 'map') {
      native.closeFd(fd);
      throw new Error(`${path}: not a BPF map`);
    }
    return new PinnedMap(path, fd, basename(path), info.keySize!, info.valueSize!, info.maxEntries!);
  }

  lookup(key: Uint8Array): Buffer | undefined {
    this.checkKey(key);
    return native.mapLookup(this.fd, key, this.valueSize) ?? undefined;
  }

  update(key: Uint8Array, value: Uint8Array, flags = UPDATE_ANY): void {
    this.checkKey(key);
    if (value.length !== this.valueSize) throw new Error(`${this.name}: value is ${value.length} bytes, map wants ${this.valueSize}`);
    native.mapUpdate(this.fd, key, value, flags);
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

  /** Entries that vanish between listing and reading are skipped. */
  entries(): [Buffer, Buffer][] {
    const out: [Buffer, Buffer][] = [];
    for (const key of this.keys()) {
      const value = native.mapLookup(this.fd, key, this.valueSize);
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
