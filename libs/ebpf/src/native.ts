/** The native addon (native/ebpf.c), typed. Loaded with require because it is a .node file. */
import { createRequire } from 'node:module';

export interface NativeProgram {
  name: string;
  section: string;
  attachType: number;
  fd: number;
}

export interface NativeInfo {
  kind: 'map' | 'program';
  id: number;
  name: string;
  type: number;
  keySize?: number;
  valueSize?: number;
  maxEntries?: number;
}

export interface NativeAddon {
  loadObject(path: string, pinRoot: string): NativeProgram[];
  objGet(path: string): number;
  objPin(fd: number, path: string): void;
  objInfo(fd: number): NativeInfo;
  closeFd(fd: number): void;
  progAttach(progFd: number, cgroupPath: string, attachType: number, replaceFd: number): void;
  progDetach(progFd: number, cgroupPath: string, attachType: number): void;
  progQuery(cgroupPath: string, attachType: number): number[];
  mapLookup(fd: number, key: Uint8Array, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDelete(fd: number, key: Uint8Array): boolean;
  mapKeys(fd: number, keySize: number): Buffer[];
  /** Throws on failure with `done`: entries written before it. */
  mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, flags: number): number;
  /** null: the map type has no batch lookup. */
  mapDump(fd: number, keySize: number, valueSize: number): { keys: Buffer; values: Buffer; count: number } | null;
  mountBpffs(path: string): boolean;
  ringOpen(mapFd: number): RingHandle;
  ringConsume(handle: RingHandle, limit: number): Buffer[];
  ringClose(handle: RingHandle): void;
  tcxAttach(progFd: number, netnsPath: string, ifname: string, egress: boolean, linkPin: string): { ifindex?: number; replaced: number };
  tcxDetach(linkPin: string): void;
  netnsAddresses(netnsPath: string): { name: string; address: string }[];
  listenInNetns(netnsPath: string, address: string, port: number): number;
}

/** An opaque native ring buffer reader. */
export type RingHandle = { readonly __ring: unique symbol };

/** An error from the kernel, with its errno (e.g. 2 for ENOENT). */
export interface BpfError extends Error {
  errno?: number;
}

const require = createRequire(import.meta.url);
// dist/native.js -> ../build/Release: node-gyp's output next to dist.
export const native = require('../build/Release/tendril_ebpf.node') as NativeAddon;
