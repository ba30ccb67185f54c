/** IPv4 and IPv6 prefixes: parsing (strictly, naming what is wrong) and containment. */
import { isIPv4, isIPv6 } from 'node:net';

export interface Prefix {
  family: 4 | 6;
  /** the network address as a big integer (host bits cleared) */
  network: bigint;
  length: number;
  /** canonical text: `198.18.0.0/16`, `2001:db8::/32` */
  text: string;
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  // an embedded IPv4 tail (::ffff:198.18.0.1) becomes two groups
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = ipv4ToBigInt(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...tailGroups];
  return groups.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function bigIntToIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function bigIntToIPv6(value: bigint): string {
  const groups = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // the longest run of zero groups (two or more) becomes ::
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/** The address as a number and its family; undefined when it is not an IP address. */
export function parseAddress(address: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(address)) return { family: 4, value: ipv4ToBigInt(address) };
  if (isIPv6(address) && !address.includes('%')) return { family: 6, value: ipv6ToBigInt(address) };
  return undefined;
}

/**
 * A prefix `address/length`; a bare address is a host prefix (/32, /128), as Cilium's fromCIDR takes it.
 * Host bits set under the mask are refused (as the NetworkPolicy API does), not silently cleared.
 */
export function parsePrefix(text: string): Prefix | string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseAddress(address);
  if (!parsed) return `"${text}" is not an IP prefix`;
  const bits = parsed.family === 4 ? 32 : 128;
  const lengthText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > bits) return `"${text}": prefix length must be 0 to ${bits}`;
  const length = Number(lengthText);
  const hostBits = BigInt(bits - length);
  const network = (parsed.value >> hostBits) << hostBits;
  if (network !== parsed.value) return `"${text}": address has bits set beyond the prefix length (network is ${format(parsed.family, network)}/${length})`;
  return { family: parsed.family, network, length, text: `${format(parsed.family, network)}/${length}` };
}

function format(family: 4 | 6, value: bigint): string {
  return family === 4 ? bigIntToIPv4(value) : bigIntToIPv6(value);
}

/** Whether `inner` lies wholly within `outer` (same family, at least as long, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || inner.length < outer.length) return false;
  const bits = BigInt((outer.family === 4 ? 32 : 128) - outer.length);
  return inner.network >> bits === outer.network >> bits;
}

/** The host prefix of an address (`198.18.0.1/32`), or undefined when it is no IP. */
export function hostPrefix(address: string): Prefix | undefined {
  const parsed = parseAddress(address);
  if (!parsed) return undefined;
  const length = parsed.family === 4 ? 32 : 128;
  return { family: parsed.family, network: parsed.value, length, text: `${format(parsed.family, parsed.value)}/${length}` };
}
