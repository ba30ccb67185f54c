/** One entry of the config history: what one publish of the translator changed, and why it looked so. */
import { GenerationDigest, canonicalJson, contentHash, type KubeObject } from '@tendril/contract';
import type { TranslationError, TranslationOutput } from '@tendril/translation';

export interface GenerationRecord {
  /** The `tendril-xds` generation after this publish. */
  generation: number;
  /** ISO 8601, when the publish finished. */
  publishedAt: string;
  /** InputDigest of every input object (key and the sha256 of its canonical JSON): equal inputs, equal digests. */
  inputDigest: string;
  /** Objects translated. */
  objects: number;
  /** Outputs per type after this publish: listener, route, cluster, endpoint, secret, lb, status. */
  counts: Record<string, number>;
  /** `<xds type> <name>`, `lb <namespace>/<name>` or `status <object key>`; each sorted. */
  added: string[];
  changed: string[];
  removed: string[];
  errors: TranslationError[];
}

/**
 * Each object's hash, by identity: the KV mirror replaces an object only when its entry changes (the
 * translation memo relies on the same), so a publish hashes only the objects that changed.
 */
const objectHashes = new WeakMap<KubeObject, string>();

function objectHash(object: KubeObject): string {
  let hash = objectHashes.get(object);
  if (hash === undefined) objectHashes.set(object, (hash = contentHash(new TextEncoder().encode(canonicalJson(object)))));
  return hash;
}

/**
 * Digest of the translation's input (generationDigest() over each object's key and hash, independent
 * of the order objects come in), kept up to date as objects change: a publish costs in proportion to
 * the change.
 */
export class InputDigest {
  private readonly digest = new GenerationDigest();

  /** One object changed: `previous` (if any) was replaced by `value` (undefined: deleted). */
  change(key: string, previous: KubeObject | undefined, value: KubeObject | undefined): void {
    if (previous !== undefined) this.digest.remove(key, objectHash(previous));
    if (value !== undefined) this.digest.add(key, objectHash(value));
  }

  get hex(): string {
    return this.digest.hex;
  }
}

/**
 * xDS resources per type, by output array, with the serial of the output counted: a patched translation
 * (TranslationOutput.patch) changes the array in place, so its counts are reused only for a patch of
 * exactly that output that replaced items alone (same length, nothing removed).
 */
const xdsCounts = new WeakMap<object, { serial: number | undefined; counts: Record<string, number> }>();

export function countsOf(output: TranslationOutput): Record<string, number> {
  const known = xdsCounts.get(output.xds);
  const reusable = output.patch !== undefined && known !== undefined && output.patch.base === known.serial && output.patch.removed.xds.length === 0 && known.counts['total'] === output.xds.length;
  let xds = reusable ? known.counts : undefined;
  if (!xds) {
    xds = { listener: 0, route: 0, cluster: 0, endpoint: 0, secret: 0 };
    for (const item of output.xds) xds[item.type] = (xds[item.type] ?? 0) + 1;
    xds = { ...xds, total: output.xds.length };
  }
  xdsCounts.set(output.xds, { serial: output.serial, counts: xds });
  const { total: _total, ...counts } = xds;
  return { ...counts, lb: output.lb.length, status: output.statuses.length };
}
