/**
 * eBPF I/O adapter: a small native addon over libbpf. Loads objects with maps pinned by name,
 * attaches cgroup programs so they outlive the process, and reads and writes pinned maps with
 * Buffers. It knows nothing about Tendril's map layouts (libs/datapath does).
 */
export { PinnedMap, UPDATE_ANY, UPDATE_EXIST, UPDATE_NO_EXIST } from './map.js';
export {
  installPrograms,
  uninstallPrograms,
  programsAttached,
  cgroupProgramIds,
  mountBpffs,
  type AttachedProgram,
  type InstallOptions,
} from './cgroup-programs.js';
export { installTcPrograms, uninstallTcPrograms, namespaceAddresses, listenInNamespace, tcLinkPin, type TcAttachment, type TcInstallOptions } from './tc-programs.js';
export { PinnedRingBuffer } from './ring-buffer.js';
export type { BpfError } from './native.js';
