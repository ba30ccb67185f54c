/**
 * Kubernetes mode: list+watch every kind the mesh needs and mirror it into KV `tendril-objects`.
 * Every replica keeps warm caches; only the Lease holder writes. Writes are diffs against what the
 * bucket holds (canonical JSON), so a restart or a failover rewrites nothing unchanged, and each
 * (re)list reconciles exactly: keys of objects that no longer exist are deleted.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Gauge } from 'prom-client';
import { BUCKETS, canonicalJson, kubeObjectCodec, objectKey, objectKeyFilter, withoutManagedFields, type KubeObject } from '@tendril/contract';
import {
  KubeApiError,
  KubeClient,
  KvMirror,
  LeaseElector,
  Metrics,
  NatsClient,
  PLATFORM_CONFIG,
  Readiness,
  ResilientInformer,
  collectionPath,
  loadKubeConfig,
  type LoadedKubeConfig,
  type PlatformConfig,
  type ReadinessCheck,
} from '@tendril/platform';
import { WATCHER_CONFIG, type WatcherConfig } from './config.js';
import { isMirroredObject } from '@tendril/kube';
import { API_KINDS, type ApiKind } from './kube-kinds.js';

/** The API connection and the Lease, shared by the source and the status writer. */
@Injectable()
export class KubeConnection implements OnModuleDestroy {
  readonly loaded: LoadedKubeConfig;
  readonly client: KubeClient;
  readonly elector: LeaseElector;
  private readonly role: ReadinessCheck;

  constructor(
    @Inject(PLATFORM_CONFIG) platform: PlatformConfig,
    @Inject(WATCHER_CONFIG) config: WatcherConfig,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
  ) {
    const logger = new Logger('kubernetes');
    this.loaded = loadKubeConfig();
    this.client = new KubeClient(this.loaded.config);
    logger.log(`kubernetes mode: ${this.loaded.source} configuration, API server ${this.loaded.server}`);
    const namespace = config.leaseNamespace ?? this.loaded.namespace;
    this.elector = new LeaseElector(this.client, {
      namespace,
      name: config.leaseName,
      identity: platform.instance,
      leaseDurationMs: config.leaseTiming.durationMs,
      renewDeadlineMs: config.leaseTiming.renewDeadlineMs,
      retryPeriodMs: config.leaseTiming.retryMs,
      logger: new Logger('lease'),
    });
    // a standby is ready (its caches are warm); the check's detail says which role this replica has
    this.role = readiness.register('leader-election', `campaigning for Lease ${namespace}/${config.leaseName}`);
    const describe = () =>
      this.elector.isLeader ? `leader (Lease ${namespace}/${config.leaseName}, ${platform.instance})` : `standby (leader: ${this.elector.holder || 'none yet'})`;
    this.elector.onChange(() => this.role.pass(describe()));
    const timer = setInterval(() => this.role.pass(describe()), 1000);
    timer.unref();
    metrics.figure('leader', 'Whether this replica holds the Lease and writes (1) or stands by (0)', () => (this.elector.isLeader ? 1 : 0));
  }

  async onModuleDestroy(): Promise<void> {
    await this.elector.stop();
  }
}

interface KindWatch {
  kind: ApiKind;
  version?: string;
  informer?: ResilientInformer;
  state: 'resolving' | 'synced' | 'not-installed' | 'failing';
  detail: string;
  retry?: NodeJS.Timeout;
}

type Op = { key: string; object?: KubeObject };

/** What a watch cache needs of an object nobody reads: its identity and resourceVersion (no data, no annotations). */
function identityOnly(object: KubernetesObject): KubernetesObject {
  const { name, namespace, uid, resourceVersion } = object.metadata ?? {};
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace, uid, resourceVersion } };
}

const QUEUE_COMPACT_AT = 50_000;

@Injectable()
export class KubeSource implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('kube-source');
  private readonly synced: ReadinessCheck;
  /** True once this replica leads and has read what the bucket holds: only then does it write. */
  private writing = false;
  private readonly kinds: KindWatch[];
  /** What the bucket holds, as canonical JSON, for the keys of this cluster. */
  private readonly written = new Map<string, string>();
  private queue: Op[] = [];
  private compactAt = QUEUE_COMPACT_AT;
  private flushing?: Promise<void>;
  private stopped = false;
  private objectsWritten = 0;
  private readonly events;
  private readonly gauges: { relists: Gauge<'kind'>; restarts: Gauge<'kind'>; age: Gauge<'kind'> };

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(WATCHER_CONFIG) private readonly config: WatcherConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(KubeConnection) private readonly connection: KubeConnection,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
  ) {
    this.synced = readiness.register('initial-sync', 'kinds not listed yet');
    this.kinds = API_KINDS.map((kind) => ({ kind, state: 'resolving', detail: 'not listed yet' }));
    this.events = metrics.counter('tendril_watch_events_total', 'Watch events received, by kind and type (BOOKMARK included)', ['kind', 'type']);
    this.gauges = {
      relists: metrics.gauge('tendril_watch_relists', 'Lists after the first (410 Gone, lost place), by kind', ['kind']),
      restarts: metrics.gauge('tendril_watch_restarts', 'Watches reopened after a drop, timeout, stall or error, by kind', ['kind']),
      age: metrics.gauge('tendril_watch_last_event_age_seconds', 'Seconds since the last watch event or bookmark, by kind', ['kind']),
    };
    metrics.figure('objects_written', 'Puts and deletes written to tendril-objects since start', () => this.objectsWritten);
    metrics.figure('objects_seen', 'Objects held in the watch caches', () => this.kinds.reduce((sum, k) => sum + (k.informer?.objects().length ?? 0), 0));
    metrics.figure('kinds_not_installed', 'Kinds the API server does not serve (CRD missing)', () => this.kinds.filter((k) => k.state === 'not-installed').length);
    const timer = setInterval(() => this.updateGauges(), 1000);
    timer.unref();
    this.connection.elector.onChange((leading) => {
      this.writing = false;
      if (leading) void this.takeOver();
    });
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`kubernetes source failed to start: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    await this.nats.bucket(BUCKETS.objects);
    this.connection.elector.start();
    for (const watch of this.kinds) void this.resolve(watch);
  }

  /** Finds the first version of the kind the server serves, then starts its informer. */
  private async resolve(watch: KindWatch): Promise<void> {
    if (this.stopped) return;
    const { kind } = watch;
    let failure: string | undefined;
    for (const version of kind.versions) {
      try {
        await this.connection.client.request('GET', `${collectionPath(kind.group, version, kind.plural)}?limit=1`);
        watch.version = version;
        this.startInformer(watch);
        return;
      } catch (error) {
        if (error instanceof KubeApiError && error.statusCode === 404) continue;
        failure = (error as Error).message;
        break;
      }
    }
    const retryMs = failure ? 2000 : this.config.crdRetryMs;
    this.setState(watch, failure ? 'failing' : 'not-installed', failure ?? `not served in ${kind.versions.join(', ')}; retrying every ${retryMs} ms`);
    if (!failure) this.reconcile(watch); // no CRD, no objects
    watch.retry = setTimeout(() => void this.resolve(watch), retryMs);
  }

  private startInformer(watch: KindWatch): void {
    const { kind } = watch;
    const name = kind.key;
    watch.informer = new ResilientInformer(
      this.connection.client,
      {
        path: collectionPath(kind.group, watch.version!, kind.plural),
        name: kind.kind,
        ...(kind.fieldSelector ? { fieldSelector: kind.fieldSelector } : {}),
        // objects of a filtered kind (ConfigMaps) that are not mirrored stay in the cache as their identity only
        ...(kind.mirrors ? { transform: (object: KubernetesObject) => (isMirroredObject(kind, object as Record<string, unknown>) ? object : identityOnly(object)) } : {}),
        watchTimeoutSeconds: this.config.watchTimeoutSeconds,
        stallMs: this.config.watchStallMs,
        notFoundRetryMs: this.config.crdRetryMs,
        logger: this.logger,
      },
      {
        upsert: (object) => this.upsert(kind, object),
        delete: (object) => this.enqueue({ key: this.keyOf(kind, object) }),
        listed: (_objects, relist) => {
          if (relist) this.logger.log(`${kind.kind}: relisted`);
          this.reconcile(watch);
        },
        event: (type) => this.events.inc({ kind: name, type }),
        stateChanged: (state, detail) => this.setState(watch, state === 'starting' ? 'resolving' : state, detail),
      },
    );
    watch.informer.start();
  }

  private keyOf(kind: ApiKind, object: KubernetesObject): string {
    return objectKey({ cluster: this.platform.cluster, kind: kind.key, ...(kind.namespaced ? { namespace: object.metadata?.namespace ?? 'default' } : {}), name: object.metadata?.name ?? '' });
  }

  private upsert(kind: ApiKind, object: KubernetesObject): void {
    // the field selector already filters; this guards a server that ignores it (and never logs the data)
    if (kind.key === 'secret' && (object as { type?: string }).type !== 'kubernetes.io/tls') return;
    // an object that stops qualifying (a ConfigMap that lost ca.crt) leaves the bucket; flush skips keys never written
    if (!isMirroredObject(kind, object as Record<string, unknown>)) return this.enqueue({ key: this.keyOf(kind, object) });
    const clean = withoutManagedFields(object as KubeObject);
    this.enqueue({ key: this.keyOf(kind, object), object: clean });
  }

  private enqueue(op: Op): void {
    if (!this.writing || this.stopped) return;
    this.queue.push(op);
    if (this.queue.length > this.compactAt) this.compactQueue();
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /**
   * Memory stays bounded while NATS is slow or away: past QUEUE_COMPACT_AT queued changes, only the
   * last change of each key is kept (in the order of those last changes), so the queue never holds
   * more than one entry per object.
   */
  private compactQueue(): void {
    const last = new Map<string, number>();
    this.queue.forEach((op, index) => last.set(op.key, index));
    const before = this.queue.length;
    this.queue = this.queue.filter((op, index) => last.get(op.key) === index);
    // distinct keys cannot be compacted: wait for the queue to double before trying again
    this.compactAt = Math.max(QUEUE_COMPACT_AT, this.queue.length * 2);
    if (this.queue.length < before) this.logger.warn(`write queue compacted from ${before} to ${this.queue.length} changes (NATS slower than the API server)`);
  }

  /** Writes queued changes in order, many in flight at once (one connection keeps them in order). */
  private async flush(): Promise<void> {
    const kv = await this.nats.bucket(BUCKETS.objects);
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, 512);
      const pending: Promise<unknown>[] = [];
      for (const { key, object } of batch) {
        if (object) {
          const text = canonicalJson(object);
          if (this.written.get(key) === text) continue;
          this.written.set(key, text);
          pending.push(kv.put(key, kubeObjectCodec.encode(object)));
        } else {
          if (!this.written.has(key)) continue;
          this.written.delete(key);
          pending.push(kv.delete(key));
        }
      }
      const results = await Promise.allSettled(pending);
      this.objectsWritten += results.length;
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) {
        // the bucket's view is uncertain now: forget it and reconcile everything once NATS answers
        this.logger.warn(`writing tendril-objects failed: ${(failed.reason as Error).message}; reconciling again`);
        this.queue = [];
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (this.connection.elector.isLeader) void this.takeOver();
      }
    }
  }

  /**
   * On becoming leader (and after a failed write): read what the bucket holds now (the previous
   * leader kept writing while this replica stood by), then make it match the caches exactly.
   */
  private async takeOver(): Promise<void> {
    this.writing = false;
    this.queue = [];
    const snapshot = new KvMirror<unknown>(this.nats, { bucket: BUCKETS.objects, create: true, decode: (_key, bytes) => JSON.parse(new TextDecoder().decode(bytes)), logger: this.logger });
    try {
      await snapshot.start();
      await snapshot.synced;
      this.written.clear();
      const prefix = `${this.platform.cluster}.`;
      for (const [key, object] of snapshot.values()) if (key.startsWith(prefix)) this.written.set(key, canonicalJson(object));
    } finally {
      snapshot.stop();
    }
    if (!this.connection.elector.isLeader || this.stopped) return;
    this.writing = true;
    this.logger.log(`leading: ${this.written.size} keys in ${BUCKETS.objects}; reconciling`);
    this.reconcileAll();
  }

  /** Makes the bucket's keys of one kind exactly the informer's objects. */
  private reconcile(watch: KindWatch): void {
    if (!this.writing) return;
    const objects = watch.state === 'not-installed' ? [] : (watch.informer?.objects() ?? []);
    const desired = new Set<string>();
    for (const object of objects) {
      if (watch.kind.key === 'secret' && (object as { type?: string }).type !== 'kubernetes.io/tls') continue;
      if (!isMirroredObject(watch.kind, object as Record<string, unknown>)) continue;
      desired.add(this.keyOf(watch.kind, object));
      this.upsert(watch.kind, object);
    }
    const prefix = objectKeyFilter(watch.kind.key, this.platform.cluster).slice(0, -1);
    for (const key of this.written.keys()) if (key.startsWith(prefix) && !desired.has(key)) this.enqueue({ key });
  }

  private reconcileAll(): void {
    for (const watch of this.kinds) if (watch.state === 'synced' || watch.state === 'not-installed') this.reconcile(watch);
    void this.checkSynced();
  }

  private setState(watch: KindWatch, state: KindWatch['state'], detail: string): void {
    watch.state = state;
    watch.detail = detail;
    void this.checkSynced();
  }

  private async checkSynced(): Promise<void> {
    const pending = this.kinds.filter((k) => k.state === 'resolving' || k.state === 'failing');
    if (pending.length > 0) {
      const byDetail = new Map<string, string[]>();
      for (const k of pending) byDetail.set(k.detail, [...(byDetail.get(k.detail) ?? []), k.kind.kind]);
      this.synced.fail(`waiting for ${[...byDetail].map(([detail, kinds]) => `${kinds.join(', ')} (${detail})`).join('; ')}`);
      return;
    }
    if (!this.connection.elector.holder || (this.connection.elector.isLeader && !this.writing)) {
      this.synced.fail(this.connection.elector.isLeader ? 'leading; reading the bucket' : 'every kind listed; waiting for the Lease election');
      return;
    }
    await this.flushing;
    if (this.kinds.some((k) => k.state === 'resolving' || k.state === 'failing')) return;
    const missing = this.kinds.filter((k) => k.state === 'not-installed').map((k) => k.kind.kind);
    const count = this.kinds.reduce((sum, k) => sum + (k.informer?.objects().length ?? 0), 0);
    this.synced.pass(`${count} objects from ${this.kinds.length - missing.length} kinds${missing.length ? `; not installed (retrying): ${missing.join(', ')}` : ''}`);
  }

  private updateGauges(): void {
    const now = Date.now();
    for (const watch of this.kinds) {
      const informer = watch.informer;
      if (!informer) continue;
      this.gauges.relists.set({ kind: watch.kind.key }, informer.relists);
      this.gauges.restarts.set({ kind: watch.kind.key }, informer.restarts);
      if (informer.lastEventAt) this.gauges.age.set({ kind: watch.kind.key }, (now - informer.lastEventAt) / 1000);
    }
    // a synced kind flips to pending only by restart; refresh the readiness detail now and then
    void this.checkSynced();
  }

  /** The live cache of one kind (for the status writer's version lookup). */
  versionOf(key: string): ApiKind & { version?: string } {
    const watch = this.kinds.find((k) => k.kind.key === key);
    return { ...watch!.kind, ...(watch?.version ? { version: watch.version } : {}) };
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const watch of this.kinds) {
      if (watch.retry) clearTimeout(watch.retry);
      watch.informer?.stop();
    }
    await this.flushing;
  }
}
