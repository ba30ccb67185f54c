/**
 * Standalone mode: the manifest folder is the API server. Every change under the folder re-reads it
 * and mirrors the result into KV `tendril-objects`: new and changed objects are put, objects whose
 * file or document went away are deleted, unchanged ones are left alone. Bad documents are logged
 * with their file, object and field, and everything else keeps flowing.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { watch, type FSWatcher } from 'chokidar';
import { BUCKETS, canonicalJson, kubeObjectCodec, type KubeObject } from '@tendril/contract';
import { standaloneUid, type ManifestError } from '@tendril/kube';
import { KvMirror, Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { WATCHER_CONFIG, type WatcherConfig } from './config.js';
import { scanFolder } from './manifest-folder.js';

@Injectable()
export class StandaloneSource implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('standalone');
  private readonly synced: ReadinessCheck;
  private readonly mirror: KvMirror<KubeObject>;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private rescanQueued = false;
  private stopped = false;
  private errors: ManifestError[] = [];
  private loggedErrors = new Set<string>();
  private objectsSeen = 0;
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
    this.mirror = new KvMirror(nats, { bucket: BUCKETS.objects, create: true, decode: (_key, bytes) => kubeObjectCodec.decode(bytes), logger: this.logger });
    metrics.figure('objects_seen', 'Objects accepted from the manifest folder in the last read', () => this.objectsSeen);
    metrics.figure('manifest_errors', 'Documents refused in the last read of the manifest folder', () => this.errors.length);
    metrics.figure('objects_written', 'Puts and deletes written to tendril-objects since start', () => this.objectsWritten);
    micro.endpoint('errors', () => new TextEncoder().encode(JSON.stringify(this.errors)));
  }

  get manifestErrors(): ManifestError[] {
    return this.errors;
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`standalone source failed to start: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    this.logger.log(`standalone mode: mirroring manifests under ${this.config.manifests}`);
    this.watcher = watch(this.config.manifests, { ignoreInitial: true, awaitWriteFinish: false });
    this.watcher.on('all', () => this.schedule());
    this.watcher.on('error', (error) => this.logger.warn(`watching ${this.config.manifests}: ${String(error)}`));
    await this.mirror.start();
    this.schedule(0);
  }

  private schedule(delay = this.config.debounceMs): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.requestRescan();
    }, delay);
  }

  /** One scan at a time; changes during a scan queue exactly one more. */
  private requestRescan(): void {
    if (this.rescanQueued) return;
    this.rescanQueued = true;
    this.running = this.running.then(async () => {
      this.rescanQueued = false;
      if (this.stopped) return;
      try {
        await this.rescan();
      } catch (error) {
        this.logger.error(`reading ${this.config.manifests} failed: ${(error as Error).message}; retrying`);
        setTimeout(() => this.schedule(0), 1000).unref();
      }
    });
  }

  private async rescan(): Promise<void> {
    const scan = await scanFolder(this.config.manifests, this.platform.cluster, this.config.serviceCidr);
    this.reportErrors(scan.errors);
    const desired = new Map<string, KubeObject>();
    for (const { key, object } of scan.objects) desired.set(key, this.stamp(key, object));
    const kv = await this.nats.bucket(BUCKETS.objects);
    let puts = 0;
    let deletes = 0;
    for (const [key, object] of [...desired].sort(([a], [b]) => a.localeCompare(b))) {
      const current = this.mirror.get(key);
      if (current && canonicalJson(current) === canonicalJson(object)) continue;
      await kv.put(key, kubeObjectCodec.encode(object));
      puts++;
    }
    const prefix = `${this.platform.cluster}.`;
    for (const key of this.mirror.keys()) {
      if (key.startsWith(prefix) && !desired.has(key)) {
        await kv.delete(key);
        deletes++;
      }
    }
    this.objectsSeen = desired.size;
    this.objectsWritten += puts + deletes;
    if (puts + deletes > 0 || !this.synced.ok) {
      this.logger.log(`${scan.files} files, ${desired.size} objects: ${puts} put, ${deletes} deleted, ${scan.errors.length} refused`);
    }
    this.synced.pass(`${desired.size} objects from ${this.config.manifests}`);
  }

  /**
   * What an API server adds: a uid, a creationTimestamp, a generation that moves when the spec
   * changes, a resourceVersion that moves with any change. Kept stable across restarts by reading them back from the bucket.
   */
  private stamp(key: string, object: KubeObject): KubeObject {
    const current = this.mirror.get(key);
    const specHash = hash(withoutMeta(object));
    const previousSpecHash = current ? hash(withoutMeta(current)) : undefined;
    const previousGeneration = current?.metadata.generation ?? 0;
    const generation = previousSpecHash === specHash ? Math.max(previousGeneration, 1) : previousGeneration + 1;
    // the first time an object is seen, kept across edits and restarts as an API server keeps it
    const creationTimestamp = current?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const stamped: KubeObject = { ...object, metadata: { ...object.metadata, uid: standaloneUid(key), generation, creationTimestamp } };
    stamped.metadata.resourceVersion = hash(stamped).slice(0, 16);
    return stamped;
  }

  private reportErrors(errors: ManifestError[]): void {
    this.errors = errors;
    const now = new Set<string>();
    for (const error of errors) {
      const line = `${error.source}: ${error.object ? `${error.object}: ` : ''}${error.message}`;
      now.add(line);
      if (!this.loggedErrors.has(line)) this.logger.warn(`refused ${line}`);
    }
    this.loggedErrors = now;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    await this.running;
    this.mirror.stop();
  }
}

function withoutMeta(object: KubeObject): unknown {
  const { metadata, status: _status, ...rest } = object as KubeObject & { status?: unknown };
  return { ...rest, labels: metadata.labels, annotations: metadata.annotations };
}

function hash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
