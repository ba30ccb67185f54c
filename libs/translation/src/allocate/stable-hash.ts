/**
 * Stable picks from a range by name: every name gets a slot from a hash of itself, and collisions are
 * resolved by probing upward in name order. Adding a name never moves another unless they collide.
 */
import { compare } from '../problems.js';

/** FNV-1a, 32 bit: small, pure and the same everywhere. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Slot in [0, size) for each name, or none when the range is full; `taken` slots are skipped. */
export function allocateSlots(names: Iterable<string>, size: number, taken: Set<number> = new Set()): Map<string, number> {
  const used = new Set(taken);
  const out = new Map<string, number>();
  for (const name of [...new Set(names)].sort(compare)) {
    if (used.size >= size) break;
    let slot = fnv1a(name) % size;
    while (used.has(slot)) slot = (slot + 1) % size;
    used.add(slot);
    out.set(name, slot);
  }
  return out;
}

/** `a.b.c.d/len` -> first address as a number and the number of addresses, or undefined. */
export function parseIPv4Cidr(cidr: string): { base: number; size: number } | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const length = Number(match[5]);
  if (octets.some((o) => o > 255) || length < 8 || length > 30) return undefined;
  const address = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const size = 2 ** (32 - length);
  return { base: address - (address % size), size };
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

/**
 * A stable address from `cidr` for each id (skipping the network address, as an IPAM would); an id
 * left out of the map found no free address. Undefined when `cidr` is not an IPv4 CIDR.
 */
export function allocateAddresses(ids: readonly string[], cidr: string): Map<string, string> | undefined {
  const range = parseIPv4Cidr(cidr);
  if (!range) return undefined;
  const slots = allocateSlots(ids, range.size - 2);
  const out = new Map<string, string>();
  for (const [id, slot] of slots) out.set(id, formatIPv4(range.base + 1 + slot));
  return out;
}
