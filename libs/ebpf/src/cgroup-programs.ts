/**
 * Loading an object and attaching its cgroup programs so that they outlive the agent: maps are
 * pinned by name under the pin root (a restarted agent adopts them with their contents), programs
 * are pinned as prog_<attach type>_<name>, and attached with the legacy BPF_PROG_ATTACH, which the cgroup keeps
 * after the process exits (a bpf_link would die with our fd). A new agent swaps its programs in with
 * BPF_F_REPLACE, so there is no moment without one.
 */
import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { native, type BpfError } from './native.js';

export interface AttachedProgram {
  name: string;
  section: string;
  attachType: number;
  id: number;
  pinPath: string;
  /** Whether an older copy was swapped out atomically (true) or this is a fresh attachment. */
  replaced: boolean;
}

export interface InstallOptions {
  objectPath: string;
  /** bpffs directory for maps (by name) and programs (prog_<name>). */
  pinRoot: string;
  /** cgroup v2 directory the programs apply to (and to every cgroup below it). */
  cgroupPath: string;
  /**
   * Called once the maps are pinned (new ones created, existing ones adopted) and before any program
   * is attached: the moment to fill a newly created map, so the programs never run against it empty.
   */
  beforeAttach?: () => void;
}

const PROGRAM_PREFIX = 'prog_';
const PROGRAM_PIN = /^prog_(\d+)_(.+)$/;
const ENOENT = 2;

export function mountBpffs(path = '/sys/fs/bpf'): boolean {
  mkdirSync(path, { recursive: true });
  return native.mountBpffs(path);
}

export function installPrograms(options: InstallOptions): AttachedProgram[] {
  const { objectPath, pinRoot, cgroupPath } = options;
  if (!existsSync(objectPath)) throw new Error(`BPF object ${objectPath} not found (build it with: npx nx run bpf:build)`);
  mkdirSync(pinRoot, { recursive: true });
  const programs = native.loadObject(objectPath, pinRoot);
  const attached: AttachedProgram[] = [];
  try {
    options.beforeAttach?.();
    for (const program of programs) {
      const pinPath = join(pinRoot, `${PROGRAM_PREFIX}${program.attachType}_${program.name}`);
      const previous = openPinned(pinPath);
      let replaced = false;
      try {
        if (previous !== undefined) {
          try {
            native.progAttach(program.fd, cgroupPath, program.attachType, previous);
            replaced = true;
          } catch {
            // the old copy is not attached here (another cgroup, or detached): attach afresh
          }
        }
        if (!replaced) native.progAttach(program.fd, cgroupPath, program.attachType, -1);
      } catch (error) {
        throw new Error(`${program.section} (${program.name}) on ${cgroupPath}: ${(error as Error).message}`);
      } finally {
        if (previous !== undefined) native.closeFd(previous);
      }
      if (existsSync(pinPath)) unlinkSync(pinPath);
      native.objPin(program.fd, pinPath);
      const { id } = native.objInfo(program.fd);
      attached.push({ name: program.name, section: program.section, attachType: program.attachType, id, pinPath, replaced });
    }
  } finally {
    for (const program of programs) native.closeFd(program.fd);
  }
  return attached;
}

/** Whether every given program is attached to the cgroup right now. */
export function programsAttached(cgroupPath: string, programs: readonly Pick<AttachedProgram, 'id' | 'attachType'>[]): boolean {
  return programs.every((program) => native.progQuery(cgroupPath, program.attachType).includes(program.id));
}

export function cgroupProgramIds(cgroupPath: string, attachType: number): number[] {
  return native.progQuery(cgroupPath, attachType);
}

/**
 * Detaches the pinned programs under pinRoot from the cgroup and removes their pins. Maps stay
 * pinned (remove the directory to drop them). Removing the cgroup detaches as well.
 */
export function uninstallPrograms(pinRoot: string, cgroupPath: string): string[] {
  const removed: string[] = [];
  if (!existsSync(pinRoot)) return removed;
  for (const entry of readdirSync(pinRoot)) {
    const match = PROGRAM_PIN.exec(entry);
    if (!match) continue;
    const attachType = Number(match[1]);
    const name = match[2]!;
    const pinPath = join(pinRoot, entry);
    const fd = openPinned(pinPath);
    if (fd !== undefined) {
      try {
        native.progDetach(fd, cgroupPath, attachType);
      } catch (error) {
        if ((error as BpfError).errno !== ENOENT) throw error;
      } finally {
        native.closeFd(fd);
      }
    }
    unlinkSync(pinPath);
    removed.push(name);
  }
  return removed;
}

function openPinned(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  return native.objGet(path);
}
