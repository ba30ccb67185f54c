/**
 * tc programs on network interfaces, attached with tcx links (kernel 6.6+) pinned in bpffs: a
 * pinned link keeps its program attached after the agent exits or is killed, and a new agent swaps
 * its programs in with bpf_link_update, so no packet ever passes without one. The interfaces may
 * live in another network namespace (netnsPath), which the calling thread enters for the attach only.
 */
import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { native } from './native.js';

export interface TcAttachment {
  program: string;
  device: string;
  direction: 'ingress' | 'egress';
  /** Whether a previous program was swapped out in place. */
  replaced: boolean;
  linkPin: string;
}

export interface TcInstallOptions {
  objectPath: string;
  /** bpffs directory: maps by name (shared with the other objects) and links (link_tc_<device>_<direction>). */
  pinRoot: string;
  /** Network namespace of the devices ('' or undefined: this process's). */
  netnsPath?: string;
  devices: readonly string[];
  /** Program name for each direction (a section "tc" program in the object). */
  programs: { ingress?: string; egress?: string };
  /** Called once the maps are pinned and before anything is attached. */
  beforeAttach?: () => void;
}

const LINK_PREFIX = 'link_tc_';

export function tcLinkPin(pinRoot: string, device: string, direction: 'ingress' | 'egress'): string {
  return join(pinRoot, `${LINK_PREFIX}${device}_${direction}`);
}

export function installTcPrograms(options: TcInstallOptions): TcAttachment[] {
  if (!existsSync(options.objectPath)) throw new Error(`BPF object ${options.objectPath} not found (build it with: npx nx run bpf:build)`);
  mkdirSync(options.pinRoot, { recursive: true });
  const loaded = native.loadObject(options.objectPath, options.pinRoot);
  const out: TcAttachment[] = [];
  try {
    options.beforeAttach?.();
    for (const direction of ['ingress', 'egress'] as const) {
      const name = options.programs[direction];
      if (!name) continue;
      const program = loaded.find((candidate) => candidate.name === name);
      if (!program) throw new Error(`${options.objectPath} has no program ${name}`);
      for (const device of options.devices) {
        const linkPin = tcLinkPin(options.pinRoot, device, direction);
        try {
          const result = native.tcxAttach(program.fd, options.netnsPath ?? '', device, direction === 'egress', linkPin);
          out.push({ program: name, device, direction, replaced: result.replaced === 1, linkPin });
        } catch (error) {
          throw new Error(`attaching ${name} to ${device} ${direction}${options.netnsPath ? ` in ${options.netnsPath}` : ''}: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    for (const program of loaded) native.closeFd(program.fd);
  }
  return out;
}

/** Detaches every tc program pinned under pinRoot (or those of the given devices) and removes the pins. */
export function uninstallTcPrograms(pinRoot: string, devices?: readonly string[]): string[] {
  if (!existsSync(pinRoot)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(pinRoot)) {
    if (!entry.startsWith(LINK_PREFIX)) continue;
    if (devices && !devices.some((device) => entry === `${LINK_PREFIX}${device}_ingress` || entry === `${LINK_PREFIX}${device}_egress`)) continue;
    try {
      native.tcxDetach(join(pinRoot, entry));
    } catch {
      unlinkSync(join(pinRoot, entry));
    }
    removed.push(entry.slice(LINK_PREFIX.length));
  }
  return removed;
}

/** The IPv4 addresses of the interfaces of a network namespace ('' : this process's). */
export function namespaceAddresses(netnsPath = ''): { name: string; address: string }[] {
  return native.netnsAddresses(netnsPath);
}

/** A listening TCP socket made in a network namespace, for net.Server#listen({ fd }). */
export function listenInNamespace(netnsPath: string, address: string, port: number): number {
  return native.listenInNetns(netnsPath, address, port);
}
