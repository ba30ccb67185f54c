/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016): each backend has a preference order over
 * the table's entries (a permutation from two hashes of its name); backends take turns claiming
 * their next free preferred entry until the table is full. Removing one of N backends changes
 * about 1/N of the entries (the ones it held), and a backend's entries depend on its name, not on
 * its position, so the table is the same on every node.
 *
 * Weights: in each round a backend claims as many entries as its weight (divided by the common
 * divisor), so entries are shared in proportion to the weights.
 */

/** Cilium's default; must be prime so every skip visits every entry. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 16381;

export interface MaglevBackend {
  /** Stable name of the backend (`address:port/protocol`): its preference order depends on this only. */
  name: string;
  weight: number;
}

export function isPrime(value: number): boolean {
  if (!Number.isInteger(value) || value < 2) return false;
  for (let divisor = 2; divisor * divisor <= value; divisor++) if (value % divisor === 0) return false;
  return true;
}

/** 32-bit FNV-1a with a seed, over the name's UTF-16 code units. */
function hash(name: string, seed: number): number {
  let value = (0x811c9dc5 ^ seed) >>> 0;
  for (let index = 0; index < name.length; index++) {
    value ^= name.charCodeAt(index);
    value = Math.imul(value, 0x01000193) >>> 0;
  }
  // final avalanche (murmur3 fmix32): FNV alone leaves similar names with similar offsets
  value ^= value >>> 16;
  value = Math.imul(value, 0x85ebca6b) >>> 0;
  value ^= value >>> 13;
  value = Math.imul(value, 0xc2b2ae35) >>> 0;
  return (value ^ (value >>> 16)) >>> 0;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The lookup table: entry -> index into `backends`. Deterministic for a given set of names and
 * weights, whatever their order in the input. Backends of weight 0 take no entry; none left: [].
 */
export function maglevTable(backends: readonly MaglevBackend[], size = DEFAULT_MAGLEV_TABLE_SIZE): number[] {
  if (!isPrime(size)) throw new Error(`Maglev table size ${size} is not a prime`);
  const order = backends
    .map((backend, index) => ({ ...backend, index }))
    .filter((backend) => backend.weight > 0)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (order.length === 0) return [];
  if (order.length > size) throw new Error(`${order.length} backends do not fit a Maglev table of ${size}`);
  const divisor = order.reduce((acc, backend) => gcd(acc, backend.weight), 0);
  const turns = order.map((backend) => backend.weight / divisor);
  const offsets = order.map((backend) => hash(backend.name, 0) % size);
  const skips = order.map((backend) => (hash(backend.name, 0x5bd1e995) % (size - 1)) + 1);
  const next = new Array<number>(order.length).fill(0);
  const table = new Array<number>(size).fill(-1);
  let filled = 0;
  while (filled < size) {
    for (let backend = 0; backend < order.length && filled < size; backend++) {
      for (let turn = 0; turn < turns[backend]! && filled < size; turn++) {
        let entry: number;
        do {
          entry = (offsets[backend]! + next[backend]! * skips[backend]!) % size;
          next[backend]!++;
        } while (table[entry] !== -1);
        table[entry] = order[backend]!.index;
        filled++;
      }
    }
  }
  return table;
}
