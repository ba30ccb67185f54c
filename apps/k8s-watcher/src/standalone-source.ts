/**
 * Standalone mode: the manifest folder is the API server. The folder is read once at start; after
 * that each change the file watcher reports reads only the paths it names (manifest-folder.ts) and
 * writes only the keys whose objects changed, through a bounded window of pipelined KV writes.
 * Objects no file holds any more are deleted, except those another part of Tendril owns (labelled
 * `app.kubernetes.io/managed-by: tendril`), which only a file holding the same object replaces.
 * Refused documents, ignored ones and refused writes are listed by `tendril.k8s-watcher.errors`,
 * each logged once; nothing a file holds stops another file's changes. Secrets go to
 * `tendril-secrets` (read by the translator alone), every other kind to `tendril-objects`; Secrets an
 * older version left in `tendril-objects` are deleted from it on the first read of the folder.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BUCKETS, ValueTooLargeError, canonicalJson, contentHash, kubeObjectCodec, objectBucketOf, type KubeObject } from '@tendril/contract';
import { ClusterIpAllocator, standaloneUid, type ManifestError, type ManifestObject } from '@tendril/kube';
import { KvMirror, Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { WATCHER_CONFIG, type WatcherConfig } from './config.js';
import { FolderWatcher } from './folder-watcher.js';
import { IGNORE_MARKER, ManifestFolder } from './manifest-folder.js';
import { WindowedKvWriter } from './kv-writer.js';

/** Objects other parts of Tendril write into tendril-objects carry this label; the folder never deletes them. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_TENDRIL = 'tendril';

/** What the source needs to know of a value in the bucket (the mirror keeps this, not the objects). */
interface Stored {
  hash: string;
  specHash: string;
  generation: number;
  creationTimestamp?: string;
  clusterIP?: string;
  managedByTendril: boolean;
  /** contentHash of the bytes this process put (its own writes only). */
  bytesHash?: string;
}

@Injectable()
export class StandaloneSource implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('standalone');
  private readonly synced: ReadinessCheck;
  /** What `tendril-objects` and `tendril-secrets` hold, by bucket. */
  private readonly mirrors: Record<typeof BUCKETS.objects | typeof BUCKETS.secrets, KvMirror<Stored>>;
  private readonly folder: ManifestFolder;
  private readonly writer: WindowedKvWriter;
  private readonly ips: ClusterIpAllocator;
  /** What this process wrote (undefined: deleted) until the mirror shows the same. */
  private readonly written = new Map<string, Stored | undefined>();
  /** Writes NATS refused, by key: listed with the refusals until the object changes or goes. */
  private readonly writeErrors = new Map<string, ManifestError>();
  private readonly retryKeys = new Set<string>();
  private pendingPaths = new Set<string>();
  private readonly watcher: FolderWatcher;
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private stopped = false;
  private firstScanDone = false;
  private folderFailed = false;
  private errors: ManifestError[] = [];
  private loggedErrors = new Set<string>();
  private objectsWritten = 0;

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(WATCHER_CONFIG) private readonly config: WatcherConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
  ) {
    this.synced = readiness.register('initial-sync', `manifests in ${config.manifests} not published yet`);
    const mirror = (bucket: typeof BUCKETS.objects | typeof BUCKETS.secrets) => {
      // the echo of this process's own put is not decoded again: its bytes hash to what was written
      const decode = (key: string, bytes: Uint8Array): Stored => {
        const mine = this.written.get(key);
        return mine?.bytesHash !== undefined && mine.bytesHash === contentHash(bytes) ? mine : storedOf(kubeObjectCodec.decode(bytes));
      };
      const held = new KvMirror(nats, { bucket, create: true, decode, logger: this.logger });
      held.onChange((changes) => {
        for (const change of changes) {
          // a Secret left in tendril-objects by an older version is not what this process wrote
          if (objectBucketOf(change.key) !== bucket || !this.written.has(change.key)) continue;
          const mine = this.written.get(change.key);
          if ((change.op === 'delete' && mine === undefined) || (change.op === 'put' && mine?.hash === change.value?.hash)) this.written.delete(change.key);
        }
      });
      return held;
    };
    this.mirrors = { [BUCKETS.objects]: mirror(BUCKETS.objects), [BUCKETS.secrets]: mirror(BUCKETS.secrets) };
    this.folder = new ManifestFolder(config.manifests, platform.cluster, config.limits);
    this.watcher = new FolderWatcher((path) => {
      this.pendingPaths.add(path);
      this.schedule();
    }, new Set([IGNORE_MARKER]));
    // values over max_payload go in chunks; the mirror knows the chunks a replaced value leaves
    this.writer = new WindowedKvWriter((key) => this.valuesOf(objectBucketOf(key)), config.writeWindow);
    this.ips = new ClusterIpAllocator(config.serviceCidr);
    metrics.figure('objects_seen', 'Objects accepted from the manifest folder', () => this.folder.objectCount);
    metrics.figure('manifest_files', 'Manifest files read from the folder', () => this.folder.fileCount);
    metrics.figure('manifest_errors', 'Documents, files and writes refused in the manifest folder', () => this.errors.filter((error) => error.severity !== 'ignored').length);
    metrics.figure('manifest_ignored', 'Documents and files of the manifest folder read but not mirrored (kinds Tendril does not read, empty files)', () => this.errors.filter((error) => error.severity === 'ignored').length);
    metrics.figure('objects_written', 'Puts and deletes written to tendril-objects since start', () => this.objectsWritten);
    micro.endpoint('errors', () => new TextEncoder().encode(JSON.stringify(this.errors)));
  }

  /** The writer of one of the two buckets (the first call tells it the chunked heads its mirror knows). */
  private valuesOf(bucket: typeof BUCKETS.objects | typeof BUCKETS.secrets) {
    return this.nats.values(bucket, (key) => this.mirrors[bucket].chunkedHead(key));
  }

  /** Refusals and notes: every file's, duplicates, and writes NATS refused. */
  get manifestErrors(): ManifestError[] {
    return this.errors;
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`standalone source failed to start: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    this.logger.log(`standalone mode: mirroring manifests under ${this.config.manifests}`);
    this.watch();
    await Promise.all([this.mirrors[BUCKETS.objects].start(), this.mirrors[BUCKETS.secrets].start()]);
    this.pendingPaths.add(this.config.manifests);
    this.schedule(0);
  }

  /**
   * Watches what the folder's last read listed; a folder watched for the first time is listed once
   * more, for what changed in it before its watch began. The root is watched before the first read.
   */
  private watch(): void {
    const paths = this.folder.watchedPaths();
    if (!this.firstScanDone) paths.set(this.config.manifests, 'folder');
    const added = this.watcher.sync(paths);
    if (!this.firstScanDone || added.length === 0) return;
    for (const path of added) this.pendingPaths.add(path);
    this.schedule(0);
  }

  private schedule(delay = this.config.debounceMs): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.requestFlush();
    }, delay);
  }

  /** One flush at a time; changes during a flush queue exactly one more. */
  private requestFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.running = this.running.then(async () => {
      this.flushQueued = false;
      if (this.stopped) return;
      try {
        await this.flush();
      } catch (error) {
        this.logger.error(`applying changes of ${this.config.manifests} failed: ${(error as Error).stack ?? (error as Error).message}; retrying`);
        this.pendingPaths.add(this.config.manifests);
        setTimeout(() => this.schedule(0), 1000).unref();
      }
    });
  }

  private async flush(): Promise<void> {
    const paths = this.pendingPaths;
    this.pendingPaths = new Set();
    const started = performance.now();
    const result = await this.folder.refresh(paths);
    if (result.failure) {
      // nothing can be decided from a folder that cannot be read: keep the bucket as it is
      if (!this.folderFailed) this.logger.error(`${result.failure}; retrying every second, the bucket kept as it is`);
      this.folderFailed = true;
      this.synced.fail(result.failure);
      this.pendingPaths.add(this.config.manifests);
      setTimeout(() => this.schedule(0), 1000).unref();
      return;
    }
    if (this.folderFailed) {
      // the folder is back (perhaps another one at the same path): watch it afresh
      this.folderFailed = false;
      this.logger.log(`${this.config.manifests} can be read again`);
      this.watcher.close();
    }
    const keys = new Set([...result.touched, ...this.retryKeys]);
    this.retryKeys.clear();
    if (!this.firstScanDone) {
      // the first complete read decides about every key in the bucket, also those no file holds any more
      const prefix = `${this.platform.cluster}.`;
      for (const [bucket, mirror] of Object.entries(this.mirrors)) {
        for (const key of mirror.keys()) if (key.startsWith(prefix) && objectBucketOf(key) === bucket) keys.add(key);
      }
    }
    // the folder's refusals are listed before any write of this read lands, so whoever sees a later
    // file's object in the bucket also sees this read's refusals; write failures are added after
    this.reportErrors();
    const counts = { puts: 0, deletes: 0 };
    const queue = [...keys].sort();
    // in slices: the writes of the first keys leave (and their acknowledgements are read) while later keys are worked out
    let slice = performance.now();
    for (let next = 0; next < queue.length; next++) {
      this.reconcile(queue[next]!, counts, queue);
      if (performance.now() - slice > 10) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
    }
    await this.writer.drain();
    // after the Secrets are in their bucket, so a reader of both never misses one
    if (!this.firstScanDone) await this.dropMisplacedSecrets();
    this.reportErrors();
    if (counts.puts + counts.deletes > 0 || !this.firstScanDone) {
      const refused = this.errors.filter((error) => error.severity !== 'ignored').length;
      this.logger.log(
        `${this.folder.fileCount} files, ${this.folder.objectCount} objects: ${counts.puts} put, ${counts.deletes} deleted, ${refused} refused, ${this.errors.length - refused} ignored (${Math.round(performance.now() - started)} ms)`,
      );
    }
    this.firstScanDone = true;
    // what the read listed is watched from now on (a first watch of a folder lists it once more)
    this.watch();
    this.synced.pass(`${this.folder.objectCount} objects from ${this.config.manifests}`);
    if (this.retryKeys.size > 0) setTimeout(() => this.schedule(0), 1000).unref();
  }

  private current(key: string): Stored | undefined {
    return this.written.has(key) ? this.written.get(key) : this.mirrors[objectBucketOf(key)].get(key);
  }

  /**
   * Secrets an older version wrote into tendril-objects (any cluster's: this version never writes one
   * there) are deleted from it; the folder's Secrets are written to tendril-secrets.
   */
  private async dropMisplacedSecrets(): Promise<void> {
    const misplaced = this.mirrors[BUCKETS.objects].keys().filter((key) => objectBucketOf(key) === BUCKETS.secrets);
    if (misplaced.length === 0) return;
    const values = await this.valuesOf(BUCKETS.objects);
    let deleted = 0;
    for (const key of misplaced) {
      try {
        await values.delete(key);
        deleted++;
      } catch (error) {
        this.logger.warn(`deleting Secret ${key} from ${BUCKETS.objects} failed: ${(error as Error).message}; trying again at the next start`);
      }
    }
    this.logger.log(`moved Secrets out of ${BUCKETS.objects}: ${deleted} deleted there (they live in ${BUCKETS.secrets})`);
  }

  /** Brings one key of the bucket in line with what the folder holds for it; more keys may need it (a moved ClusterIP). */
  private reconcile(key: string, counts: { puts: number; deletes: number }, more: string[]): void {
    const claim = this.folder.claim(key);
    // a duplicate keeps what it last had until only one file holds it
    if (claim === 'duplicate') return;
    const current = this.current(key);
    if (claim === undefined) {
      this.ips.release(key);
      this.writeErrors.delete(key);
      if (!current || current.managedByTendril || !key.startsWith(`${this.platform.cluster}.`)) return;
      counts.deletes++;
      this.written.set(key, undefined);
      void this.writer.delete(key).then((outcome) => {
        if (outcome.ok) return void this.objectsWritten++;
        this.written.delete(key);
        this.retry(key, `deleting ${key} failed: ${outcome.error.message}`);
      });
      return;
    }
    const object = this.withClusterIp(claim, current, more);
    const stamped = stamp(key, object, current);
    const stored = storedOf(stamped);
    if (current && current.hash === stored.hash) {
      this.writeErrors.delete(key);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = kubeObjectCodec.encode(stamped);
    } catch (error) {
      this.writeErrors.set(key, { source: claim.source, file: fileOf(claim.source), object: describe(claim), severity: 'error', message: `cannot be encoded: ${(error as Error).message}` });
      return;
    }
    counts.puts++;
    stored.bytesHash = contentHash(bytes);
    this.written.set(key, stored);
    void this.writer.put(key, bytes).then((outcome) => {
      if (outcome.ok) {
        this.objectsWritten++;
        if (this.writeErrors.delete(key)) this.reportErrors();
        return;
      }
      if (this.written.get(key) === stored) this.written.delete(key);
      const message = outcome.error.message;
      if (outcome.error instanceof ValueTooLargeError || /max_payload|maximum payload|MAX_PAYLOAD/i.test(message)) {
        // it would fail the same way until the object changes: refused, not retried
        this.writeErrors.set(key, { source: claim.source, file: fileOf(claim.source), object: describe(claim), severity: 'error', message: `object is ${bytes.length.toLocaleString('en-US')} bytes encoded, over what NATS accepts (${message}); not written` });
        this.reportErrors();
        return;
      }
      this.retry(key, `writing ${key} failed: ${message}`);
    });
  }

  private retry(key: string, why: string): void {
    this.logger.warn(`${why}; retrying`);
    this.retryKeys.add(key);
    setTimeout(() => this.schedule(0), 1000).unref();
  }

  /** A Service gets its ClusterIP here (kept from the bucket when it has one), not in the cached object. */
  private withClusterIp(claim: ManifestObject, current: Stored | undefined, more: string[]): KubeObject {
    const object = claim.object;
    if (object.kind !== 'Service') return object;
    const spec = ((object as Record<string, unknown>)['spec'] ?? {}) as Record<string, unknown>;
    const requested = spec['clusterIP'];
    if (typeof requested === 'string' && requested !== '') {
      if (requested !== 'None') more.push(...this.ips.claim(claim.key, requested));
      return object;
    }
    if (spec['type'] === 'ExternalName') {
      this.ips.release(claim.key);
      return object;
    }
    const ip = this.ips.allocate(claim.key, `${claim.ref.namespace}/${claim.ref.name}`, current?.clusterIP);
    if (!ip) return object;
    return { ...object, spec: { ...spec, clusterIP: ip, clusterIPs: [ip] } } as KubeObject;
  }

  private reportErrors(): void {
    const errors = [...this.folder.problems(), ...this.writeErrors.values()];
    this.errors = errors;
    const now = new Set<string>();
    for (const error of errors) {
      const line = `${error.source}: ${error.object ? `${error.object}: ` : ''}${error.message}`;
      now.add(line);
      if (!this.loggedErrors.has(line)) {
        if (error.severity === 'ignored') this.logger.log(`ignored ${line}`);
        else this.logger.warn(`refused ${line}`);
      }
    }
    this.loggedErrors = now;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher.close();
    await this.running;
    await this.writer.drain();
    for (const mirror of Object.values(this.mirrors)) mirror.stop();
  }
}

function describe(object: ManifestObject): string {
  return object.ref.namespace ? `${object.ref.namespace}/${object.object.kind}/${object.ref.name}` : `${object.object.kind}/${object.ref.name}`;
}

function fileOf(source: string): string {
  const hash = source.lastIndexOf('#');
  return hash < 0 ? source : source.slice(0, hash);
}

/**
 * What an API server adds: a uid, a creationTimestamp, a generation that moves when the spec
 * changes, a resourceVersion that moves with any change. Kept stable across restarts by reading them back from the bucket.
 */
function stamp(key: string, object: KubeObject, current: Stored | undefined): KubeObject {
  const specHash = hash(withoutMeta(object));
  const previousGeneration = current?.generation ?? 0;
  const generation = current?.specHash === specHash ? Math.max(previousGeneration, 1) : previousGeneration + 1;
  // the first time an object is seen, kept across edits and restarts as an API server keeps it
  const creationTimestamp = current?.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const stamped: KubeObject = { ...object, metadata: { ...object.metadata, uid: standaloneUid(key), generation, creationTimestamp } };
  stamped.metadata.resourceVersion = hash(stamped).slice(0, 16);
  return stamped;
}

function storedOf(object: KubeObject): Stored {
  const spec = (object as Record<string, unknown>)['spec'] as Record<string, unknown> | undefined;
  const clusterIP = object.kind === 'Service' && typeof spec?.['clusterIP'] === 'string' ? spec['clusterIP'] : undefined;
  return {
    hash: hash(object),
    specHash: hash(withoutMeta(object)),
    generation: object.metadata.generation ?? 0,
    ...(object.metadata.creationTimestamp ? { creationTimestamp: object.metadata.creationTimestamp } : {}),
    ...(clusterIP ? { clusterIP } : {}),
    managedByTendril: object.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_TENDRIL,
  };
}

function withoutMeta(object: KubeObject): unknown {
  const { metadata, status: _status, ...rest } = object as KubeObject & { status?: unknown };
  return { ...rest, labels: metadata.labels, annotations: metadata.annotations };
}

function hash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
