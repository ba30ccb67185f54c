/**
 * The TCP sockets a process listens on, read from /proc the way `ss -ltnp` finds them: the socket
 * inodes among the process's file descriptors, matched against the LISTEN entries (state 0A) of
 * /proc/<pid>/net/tcp and tcp6 (the process's network namespace).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ListeningSocket {
  address: string;
  port: number;
}

/** Listening TCP sockets of one process (IPv4 and IPv6). */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: ListeningSocket[] = [];
  for (const family of ['tcp', 'tcp6'] as const) {
    const lines = readFileSync(`/proc/${pid}/net/${family}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1]!, fields[3]!, fields[9]!];
      if (state !== '0A' || !inodes.has(inode)) continue;
      const [hex, port] = local.split(':');
      out.push({ address: family === 'tcp' ? ipv4(hex!) : ipv6(hex!), port: parseInt(port!, 16) });
    }
  }
  return out;
}

/** /proc/net/tcp writes an IPv4 address as one 32-bit word in host (little-endian) order. */
function ipv4(hex: string): string {
  const bytes = Buffer.from(hex, 'hex').reverse();
  return [...bytes].join('.');
}

/** /proc/net/tcp6: four 32-bit words, each in host (little-endian) order. */
function ipv6(hex: string): string {
  const bytes = Buffer.concat([0, 8, 16, 24].map((at) => Buffer.from(hex.slice(at, at + 8), 'hex').reverse()));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  const text = groups.join(':');
  if (text === '0:0:0:0:0:0:0:0') return '::';
  if (text === '0:0:0:0:0:0:0:1') return '::1';
  if (/^0:0:0:0:0:ffff:/.test(text)) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  return text;
}

/** Whether an address is on loopback (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}
