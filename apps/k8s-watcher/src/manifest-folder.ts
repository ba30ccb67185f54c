/**
 * The manifest folder as a cache of files: each file's accepted objects and refusals, kept until the
 * file changes. Only the paths a change names are read again (a directory path is listed again, and
 * only its new or changed files are read), so one edit costs the same in a folder of 10 files or of
 * 10,000. No NATS here: `refresh()` says which object keys may have changed, `claim()` what a key holds.
 *
 * Like `kubectl apply -R -f`, symbolic links to files and directories are followed; a link that leads
 * back to a folder above it is refused as a loop, a dangling one as broken. The same object in two files
 * (or twice in one) is refused in every place until only one is left, and meanwhile keeps what it last
 * had: a duplicate is never settled by file names. A document refused after it was accepted keeps its
 * last accepted objects, as an API server keeps an object whose update it refused.
 */
import { readFile, realpath, stat, lstat } from 'node:fs/promises';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_MANIFEST_LIMITS, parseManifestFile, type ManifestError, type ManifestLimits, type ManifestObject, type ParsedManifests } from '@tendril/kube';

const MANIFEST = /\.(ya?ml|json)$/i;
/** Files larger than this are parsed in a worker thread of their own (parse-worker.ts). */
const WORKER_THRESHOLD_BYTES = 1024 * 1024;
/** Heap a parse worker may use: a file needing more is refused, the watcher stays up. */
const WORKER_HEAP_MB = 1024;
/** A file whose presence makes standalone mode skip its folder and the folders below (examples/cluster/: manifests for a real cluster). */
export const IGNORE_MARKER = '.tendril-ignore';
/**
 * Files up to this size are read with blocking calls: for a small file the five round trips of the
 * promise API through the thread pool (open, stat, read, close, realpath) cost far more than the
 * reads, and a cold start reads thousands of them. Larger files are read without blocking.
 */
const SYNC_READ_BYTES = 256 * 1024;
/** Longest the event loop is held by blocking reads before the next batch waits a turn. */
const SYNC_SLICE_MS = 10;
const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface FileEntry {
  path: string;
  source: string;
  /** The file the path resolves to through links: two paths to one file are one file, not duplicates. */
  real: string;
  /** The path itself is a symbolic link (its target's changes are watched through the link). */
  link: boolean;
  signature: string;
  objects: ManifestObject[];
  /** The file's refusals and notes (duplicates are worked out across files, in problems()). */
  errors: ManifestError[];
}

export interface Claim {
  object: ManifestObject;
  path: string;
}

export interface RefreshResult {
  /** Keys whose claims may have changed. */
  touched: Set<string>;
  /** Set when the folder itself could not be listed: nothing was changed. */
  failure?: string;
}

export class ManifestFolder {
  private readonly files = new Map<string, FileEntry>();
  /** Problems of paths that are not files read: unreadable folders, link loops, broken links. */
  private readonly pathProblems = new Map<string, ManifestError>();
  private readonly claims = new Map<string, Claim[]>();
  /** Every folder listed (under the root, links to folders included), the root too: what a watcher watches. */
  private readonly directories = new Set<string>();
  private problemsCache?: ManifestError[];

  constructor(
    readonly root: string,
    private readonly cluster: string,
    private readonly limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS,
  ) {}

  get fileCount(): number {
    return this.files.size;
  }

  get objectCount(): number {
    return this.claims.size;
  }

  /** Every key some file claims. */
  keys(): IterableIterator<string> {
    return this.claims.keys();
  }

  /** The one object a key holds, `duplicate` when several places hold it, or undefined when none does. */
  claim(key: string): ManifestObject | 'duplicate' | undefined {
    const claims = this.claims.get(key);
    if (!claims || claims.length === 0) return undefined;
    return isUnique(claims, this.files) ? claims[0]!.object : 'duplicate';
  }

  /**
   * What a watcher of the folder must watch to hear of every change: each folder listed (a change of
   * its entries) and each file that is a symbolic link (its target may live anywhere).
   */
  watchedPaths(): Map<string, 'folder' | 'link'> {
    const out = new Map<string, 'folder' | 'link'>();
    for (const dir of this.directories) out.set(dir, 'folder');
    for (const entry of this.files.values()) if (entry.link) out.set(entry.path, 'link');
    return out;
  }

  /** Where a key comes from, for errors that arise later (a write NATS refused). */
  sourceOf(key: string): string | undefined {
    return this.claims.get(key)?.[0]?.object.source;
  }

  /** Refusals (`error`) and notes (`ignored`) of every file and path, duplicates included, sorted by source. */
  problems(): ManifestError[] {
    if (this.problemsCache) return this.problemsCache;
    const out: ManifestError[] = [...this.pathProblems.values()];
    for (const entry of this.files.values()) out.push(...entry.errors);
    for (const [key, claims] of this.claims) {
      if (isUnique(claims, this.files)) continue;
      for (const claim of claims) {
        const others = claims.filter((other) => other !== claim).map((other) => other.object.source);
        out.push({
          source: claim.object.source,
          file: this.files.get(claim.path)?.source ?? claim.object.source,
          document: Number(claim.object.source.slice(claim.object.source.lastIndexOf('#') + 1)) || undefined,
          object: describeKey(key, claim.object),
          severity: 'error',
          message: `duplicate: the same object is also in ${[...new Set(others)].sort().join(', ')}; refused in every place until only one is left (the last accepted version stays)`,
        });
      }
    }
    this.problemsCache = out.sort((a, b) => compare(a.source, b.source) || compare(a.object ?? '', b.object ?? ''));
    return this.problemsCache;
  }

  /**
   * Reads again what the given absolute paths (a file or directory under the root, or the root) hold
   * now. A path that is gone drops every file under it.
   */
  async refresh(paths: Iterable<string>): Promise<RefreshResult> {
    const touched = new Set<string>();
    for (const path of minimalPaths(paths, this.root)) {
      if (path === this.root) {
        try {
          await this.refreshDirectory(path, touched, true);
        } catch (error) {
          return { touched, failure: `cannot list ${this.root}: ${(error as Error).message}` };
        }
      } else {
        // whatever throws is this path's refusal, never the refresh's
        await this.refreshPath(path, touched).catch((error: Error) => this.problem(path, `cannot read: ${error.message}`));
      }
    }
    if (touched.size > 0) this.problemsCache = undefined;
    return { touched };
  }

  /** Whether `path` is in (or is) a folder below the root that holds IGNORE_MARKER. */
  private async markedIgnored(path: string): Promise<boolean> {
    for (let folder = path; folder !== this.root && isUnder(folder, this.root) && dirname(folder) !== folder; folder = dirname(folder)) {
      if (await stat(join(folder, IGNORE_MARKER)).then(() => true, () => false)) return true;
    }
    return false;
  }

  private async refreshPath(path: string, touched: Set<string>): Promise<void> {
    this.problemsCache = undefined;
    this.pathProblems.delete(path);
    // a path reached through a link loop is not read (the loop itself is refused where it starts)
    const ancestry = await this.ancestry(path).catch(() => undefined);
    if (ancestry?.loop || (await this.markedIgnored(path))) {
      this.dropUnder(path, touched);
      // the folder holding the marker stays watched: the marker going away is a change
      if (!ancestry?.loop && existsSync(join(path, IGNORE_MARKER))) this.directories.add(path);
      return;
    }
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const link = await lstat(path).catch(() => undefined);
      this.dropUnder(path, touched);
      if ((code === 'ENOENT' && !link?.isSymbolicLink()) || code === 'ENOTDIR') return;
      this.problem(path, linkProblem(error as NodeJS.ErrnoException));
      return;
    }
    if (stats.isDirectory()) {
      await this.refreshDirectory(path, touched, false).catch((error: Error) => this.problem(path, `cannot list folder: ${error.message}; its files keep what they last held`));
    } else if (stats.isFile() && MANIFEST.test(path)) {
      await this.readFile(path, stats, touched);
    } else {
      this.dropUnder(path, touched);
    }
  }

  /** Lists a directory again: new files and changed ones (by size, mtime, inode) are read, vanished ones dropped. */
  private async refreshDirectory(dir: string, touched: Set<string>, isRoot: boolean): Promise<void> {
    const found = new Map<string, Stats>();
    const problems = new Map<string, ManifestError>();
    const ancestry = await this.ancestry(dir);
    if (ancestry === undefined) {
      // the root gone is a folder that cannot be read, not an empty one: nothing is deleted for it
      if (isRoot) throw new Error('no such folder');
      this.dropUnder(dir, touched);
      return;
    }
    if (ancestry.loop) {
      this.dropUnder(dir, touched);
      this.problem(dir, `symbolic link loop: it leads back to a folder above it; not followed`);
      return;
    }
    const listed = new Set<string>();
    await this.list(dir, ancestry.chain, found, problems, isRoot, listed);
    for (const folder of [...this.directories]) if (isUnder(folder, dir)) this.directories.delete(folder);
    for (const folder of listed) this.directories.add(folder);
    for (const path of [...this.pathProblems.keys()]) if (isUnder(path, dir)) this.pathProblems.delete(path);
    for (const [path, problem] of problems) this.pathProblems.set(path, problem);
    // files under a folder that could not be listed keep what they held
    const unlisted = [...problems.keys()];
    for (const path of [...this.files.keys()]) {
      if (isUnder(path, dir) && !found.has(path) && !unlisted.some((folder) => isUnder(path, folder))) this.dropFile(path, touched);
    }
    let slice = performance.now();
    for (const [path, stats] of found) {
      if (this.files.get(path)?.signature === signatureOf(stats)) continue;
      await this.readFile(path, stats, touched);
      if (performance.now() - slice > SYNC_SLICE_MS) {
        await yieldTurn();
        slice = performance.now();
      }
    }
    this.problemsCache = undefined;
  }

  /**
   * Real paths of the root and each folder from it down to `path`: the folders a link must not lead
   * back to; `loop` when one of them is reached twice. Undefined when the path is gone.
   */
  private async ancestry(path: string): Promise<{ chain: Set<string>; loop: boolean } | undefined> {
    const chain = new Set<string>();
    const parts = relative(this.root, path).split(sep).filter((part) => part !== '');
    let current = this.root;
    let loop = false;
    try {
      chain.add(await realpath(current));
      for (const part of parts) {
        current = join(current, part);
        const real = await realpath(current);
        if (chain.has(real)) loop = true;
        chain.add(real);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return { chain, loop };
  }

  private async list(dir: string, chain: Set<string>, found: Map<string, Stats>, problems: Map<string, ManifestError>, isRoot: boolean, listed: Set<string>): Promise<void> {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (isRoot) throw error;
      problems.set(dir, this.problemOf(dir, `cannot list folder: ${(error as Error).message}; its files keep what they last held`));
      return;
    }
    // watched even when marked ignored: the marker going away is a change
    listed.add(dir);
    if (!isRoot && entries.some((entry) => entry.name === IGNORE_MARKER)) return;
    let slice = performance.now();
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      if (performance.now() - slice > SYNC_SLICE_MS) {
        await yieldTurn();
        slice = performance.now();
      }
      const path = join(dir, entry.name);
      let stats: Stats;
      try {
        stats = entry.isSymbolicLink() ? statSync(path) : lstatSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !entry.isSymbolicLink()) continue;
        problems.set(path, this.problemOf(path, linkProblem(error as NodeJS.ErrnoException)));
        continue;
      }
      if (stats.isDirectory()) {
        const real = await realpath(path).catch(() => path);
        if (chain.has(real)) {
          problems.set(path, this.problemOf(path, `symbolic link loop: it leads back to ${relative(this.root, real) || '.'} (${real}), a folder above it; not followed`));
          continue;
        }
        await this.list(path, new Set([...chain, real]), found, problems, false, listed);
      } else if (stats.isFile() && MANIFEST.test(entry.name)) {
        found.set(path, stats);
      }
    }
  }

  private async readFile(path: string, stats: Stats, touched: Set<string>): Promise<void> {
    const source = relative(this.root, path);
    const previous = this.files.get(path);
    let entry: FileEntry;
    try {
      const small = stats.size <= SYNC_READ_BYTES;
      const bytes = small ? readFileSync(path) : await readFile(path);
      const link = lstatSync(path).isSymbolicLink();
      const real = small ? realpathOrSelf(path) : await realpath(path).catch(() => path);
      const parsed = bytes.length > WORKER_THRESHOLD_BYTES ? await parseInWorker(bytes, source, this.cluster, this.limits) : parseManifestFile(bytes, source, this.cluster, this.limits);
      const objects = keepLastAccepted(parsed.objects, parsed.errors, previous);
      entry = { path, source, real, link, signature: signatureOf(stats), objects, errors: [...parsed.errors, ...parsed.notes] };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.dropFile(path, touched);
        return;
      }
      // unreadable, or anything that threw while reading it: this file's refusal, nobody else's problem
      entry = {
        path,
        source,
        real: previous?.real ?? path,
        link: previous?.link ?? false,
        signature: '',
        objects: previous?.objects ?? [],
        errors: [{ source, file: source, severity: 'error', message: `cannot read: ${(error as Error).message}${previous?.objects.length ? '; its objects keep what they last held' : ''}` }],
      };
    }
    this.setFile(entry, touched);
  }

  private setFile(entry: FileEntry, touched: Set<string>): void {
    this.unclaim(entry.path, touched);
    this.files.set(entry.path, entry);
    for (const object of entry.objects) {
      const claims = this.claims.get(object.key) ?? [];
      claims.push({ object, path: entry.path });
      this.claims.set(object.key, claims);
      touched.add(object.key);
    }
    this.problemsCache = undefined;
  }

  private dropFile(path: string, touched: Set<string>): void {
    if (!this.files.has(path)) return;
    this.unclaim(path, touched);
    this.files.delete(path);
    this.problemsCache = undefined;
  }

  private dropUnder(path: string, touched: Set<string>): void {
    if (this.files.has(path)) {
      this.dropFile(path, touched);
      return;
    }
    for (const file of [...this.files.keys()]) if (isUnder(file, path)) this.dropFile(file, touched);
    for (const problem of [...this.pathProblems.keys()]) if (isUnder(problem, path)) this.pathProblems.delete(problem);
    for (const folder of [...this.directories]) if (isUnder(folder, path)) this.directories.delete(folder);
    this.problemsCache = undefined;
  }

  private unclaim(path: string, touched: Set<string>): void {
    const entry = this.files.get(path);
    if (!entry) return;
    for (const object of entry.objects) {
      touched.add(object.key);
      const claims = this.claims.get(object.key)?.filter((claim) => claim.path !== path) ?? [];
      if (claims.length === 0) this.claims.delete(object.key);
      else this.claims.set(object.key, claims);
    }
  }

  private problem(path: string, message: string): void {
    this.pathProblems.set(path, this.problemOf(path, message));
    this.problemsCache = undefined;
  }

  private problemOf(path: string, message: string): ManifestError {
    const source = relative(this.root, path) || '.';
    return { source, file: source, severity: 'error', message };
  }
}

function parseInWorker(bytes: Uint8Array, file: string, cluster: string, limits: ManifestLimits): Promise<ParsedManifests> {
  return new Promise((resolve) => {
    const refused = (message: string): ParsedManifests => ({ objects: [], notes: [], skipped: 0, errors: [{ source: file, file, severity: 'error', message }] });
    const worker = new Worker(new URL('./parse-worker.js', import.meta.url), { workerData: { bytes, file, cluster, limits }, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    let settled = false;
    const settle = (result: ParsedManifests) => {
      if (settled) return;
      settled = true;
      resolve(result);
      void worker.terminate();
    };
    worker.once('message', (result: ParsedManifests) => settle(result));
    worker.once('error', (error: Error) => settle(refused(/memory/i.test(error.message) ? `needs more than ${WORKER_HEAP_MB} MiB to read: ${error.message}` : `could not be read: ${error.message}`)));
    worker.once('exit', (code) => settle(refused(`could not be read: the parser stopped (exit code ${code})`)));
  });
}

/**
 * A refused document keeps what it last produced: the objects of the same document index (a document
 * whose object is known keeps only that object), and a file refused as a whole keeps every object.
 */
function keepLastAccepted(objects: ManifestObject[], errors: ManifestError[], previous: FileEntry | undefined): ManifestObject[] {
  const refused = errors.filter((error) => error.severity !== 'ignored');
  if (!previous || refused.length === 0 || previous.objects.length === 0) return objects;
  const have = new Set(objects.map((object) => object.key));
  const kept: ManifestObject[] = [];
  for (const error of refused) {
    for (const object of previous.objects) {
      if (have.has(object.key)) continue;
      const sameDocument = error.document === undefined || object.source === error.source;
      const sameObject = error.object === undefined || error.object === describeKey(object.key, object);
      if (sameDocument && sameObject) {
        kept.push(object);
        have.add(object.key);
        error.message += '; the last accepted version stays';
      }
    }
  }
  return [...objects, ...kept];
}

function describeKey(_key: string, object: ManifestObject): string {
  const { ref } = object;
  return ref.namespace ? `${ref.namespace}/${object.object.kind}/${ref.name}` : `${object.object.kind}/${ref.name}`;
}

/** One claim, or several that are the same document of the same file reached through different links. */
function isUnique(claims: Claim[], files: Map<string, FileEntry>): boolean {
  if (claims.length === 1) return true;
  const first = claims[0]!;
  const place = (claim: Claim) => `${files.get(claim.path)?.real ?? claim.path}#${claim.object.source.slice(claim.object.source.lastIndexOf('#') + 1)}`;
  const firstPlace = place(first);
  return claims.every((claim) => place(claim) === firstPlace);
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

function signatureOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function isUnder(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/** The paths to refresh, without those under another one in the set (and hidden ones left out). */
function minimalPaths(paths: Iterable<string>, root: string): string[] {
  const inside = [...new Set(paths)].filter((path) => isUnder(path, root) && !relative(root, path).split(sep).some((part) => part.startsWith('.')));
  inside.sort((a, b) => a.length - b.length);
  const kept = new Set<string>();
  const out: string[] = [];
  for (const path of inside) {
    let covered = false;
    for (let folder = path; ; folder = dirname(folder)) {
      if (kept.has(folder)) {
        covered = true;
        break;
      }
      if (folder === root || dirname(folder) === folder) break;
    }
    if (covered) continue;
    kept.add(path);
    out.push(path);
  }
  return out;
}

function linkProblem(error: NodeJS.ErrnoException): string {
  if (error.code === 'ELOOP') return 'symbolic link loop: the link resolves to itself';
  if (error.code === 'ENOENT') return 'broken symbolic link: its target does not exist';
  return `cannot read: ${error.message}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
