/**
 * Kubernetes mode: list+watch every kind the mesh needs and mirror it into KV `tendril-objects`
 * (Secrets into `tendril-secrets`, which only the translator reads).
 * Every replica keeps warm caches; only the Lease holder writes. Writes are diffs against what the
 * bucket holds (canonical JSON), so a restart or a failover rewrites nothing unchanged, and each
 * (re)list reconciles exactly: keys of objects that no longer exist are deleted. Each object is
 * decoded and written on its own: one that does not decode or whose write fails is named (log,
 * metric, `tendril.k8s-watcher.errors`, readiness) and retried with backoff, and blocks no other.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Gauge } from 'prom-client';
import { BUCKETS, canonicalJson, kubeObjectCodec, objectBucketOf, objectKey, objectKeyFilter, parseObjectKey, withoutManagedFields, type KubeObject } from '@tendril/contract';
import { KvMirror, Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { KubeApiError, KubeClient, LeaseElector, ResilientInformer, collectionPath, describeError, loadKubeConfig, type LoadedKubeConfig } from '@tendril/platform/kube';
import { WATCHER_CONFIG, type WatcherConfig } from './config.js';
import { isMirroredObject, mirroredForm } from '@tendril/kube';
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
    // and who leads, by the identity the leader wrote into the Lease
    const lease = `Lease ${namespace}/${config.leaseName}`;
    this.role = readiness.register('leader-election', `campaigning for ${lease}`);
    const describe = (): string => {
      const { elector } = this;
      if (elector.isLeader) return `leader: this replica (${platform.instance}) holds ${lease}`;
      if (!elector.holder) return elector.lastError ? `standby: ${lease} not readable (${elector.lastError})` : `standby: no leader yet (${lease} free)`;
      if (elector.holder === platform.instance) return `standby: stepped down, ${lease} could not be renewed${elector.lastError ? ` (${elector.lastError})` : ''}`;
      return `standby: the leader is ${elector.holder} (${lease})`;
    };
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

/** A change to write: an object's encoded value (a put), or none (a delete). */
interface Op {
  key: string;
  /** `namespace/Kind/name`, for log lines and the errors endpoint. */
  who: string;
  text?: string;
  bytes?: Uint8Array;
}

/** Why an object is not (or not as it is now) in the bucket: refused (it does not decode) or its write failed. */
export interface ObjectProblem {
  key: string;
  object: string;
  reason: 'Refused' | 'WriteFailed';
  message: string;
  /** ISO time of the first failure of this kind for this key. */
  since: string;
  attempts: number;
  /** Date.now() of the next attempt. */
  retryAt: number;
}

/** What a watch cache needs of an object nobody reads: its identity and resourceVersion (no data, no annotations). */
function identityOnly(object: KubernetesObject): KubernetesObject {
  const { name, namespace, uid, resourceVersion } = object.metadata ?? {};
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace, uid, resourceVersion } };
}

/** Puts in flight at once: enough to keep NATS busy, few enough that a slow bucket does not pile up promises. */
const WRITE_WINDOW = 256;
const RETRY_INITIAL_MS = 1000;
const RETRY_MAX_MS = 60_000;
const QUEUE_COMPACT_AT = 50_000;

@Injectable()
export class KubeSource implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('kube-source');
  private readonly synced: ReadinessCheck;
  /** True once this replica leads and has read what the bucket holds: only then does it write. */
  private writing = false;
  private readonly kinds: KindWatch[];
  /** What the bucket holds, as canonical JSON, for the keys of this cluster: set only once a put succeeded. */
  private readonly written = new Map<string, string>();
  /** The last value sent for keys with a write in flight (null: a delete). */
  private readonly inflight = new Map<string, string | null>();
  /** Sequence of the latest op per key: a failure of an op a newer one replaced is not a problem. */
  private readonly latest = new Map<string, number>();
  private sequence = 0;
  private queue: (Op & { seq: number })[] = [];
  private head = 0;
  private compactAt = QUEUE_COMPACT_AT;
  private active = 0;
  private idle: (() => void)[] = [];
  private readonly problems = new Map<string, ObjectProblem>();
  private stopped = false;
  private objectsWritten = 0;
  private readonly events;
  private readonly failures;
  private readonly gauges: { relists: Gauge<'kind'>; restarts: Gauge<'kind'>; age: Gauge<'kind'> };

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(WATCHER_CONFIG) private readonly config: WatcherConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(KubeConnection) private readonly connection: KubeConnection,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
  ) {
    this.synced = readiness.register('initial-sync', 'kinds not listed yet');
    this.kinds = API_KINDS.map((kind) => ({ kind, state: 'resolving', detail: 'not listed yet' }));
    this.events = metrics.counter('tendril_watch_events_total', 'Watch events received, by kind and type (BOOKMARK included)', ['kind', 'type']);
    this.failures = metrics.counter('tendril_object_errors_total', 'Objects refused (they do not decode) or whose write to tendril-objects failed, by kind and reason', ['kind', 'reason']);
    this.gauges = {
      relists: metrics.gauge('tendril_watch_relists', 'Lists after the first (410 Gone, lost place), by kind', ['kind']),
      restarts: metrics.gauge('tendril_watch_restarts', 'Watches reopened after a drop, timeout, stall or error, by kind', ['kind']),
      age: metrics.gauge('tendril_watch_last_event_age_seconds', 'Seconds since the last watch event or bookmark, by kind', ['kind']),
    };
    metrics.figure('objects_written', 'Puts and deletes written to tendril-objects since start', () => this.objectsWritten);
    metrics.figure('objects_seen', 'Objects held in the watch caches', () => this.kinds.reduce((sum, k) => sum + (k.informer?.objects().length ?? 0), 0));
    metrics.figure('object_errors', 'Objects not in tendril-objects as they are in the API: refused, or their write failed (retrying)', () => this.problems.size);
    metrics.figure('kinds_not_installed', 'Kinds the API server does not serve (CRD missing)', () => this.kinds.filter((k) => k.state === 'not-installed').length);
    // tendril.k8s-watcher.errors: every object not written, with why (as standalone mode lists refused documents)
    micro.endpoint('errors', () => new TextEncoder().encode(JSON.stringify(this.objectErrors())));
    const timer = setInterval(() => {
      this.updateGauges();
      this.retryDue();
    }, 1000);
    timer.unref();
    this.connection.elector.onChange((leading) => {
      this.writing = false;
      // what failed to be written is the leader's to retry: a replica standing by forgets it
      if (!leading) for (const [key, problem] of this.problems) if (problem.reason === 'WriteFailed') this.problems.delete(key);
      if (leading) void this.takeOver();
    });
  }

  /** Objects not written, as the errors endpoint lists them (`source` says where they come from, as for refused manifests). */
  objectErrors(): (ObjectProblem & { source: string })[] {
    return [...this.problems.values()].sort((a, b) => a.key.localeCompare(b.key)).map((problem) => ({ source: 'kubernetes', ...problem }));
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`kubernetes source failed to start: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    await Promise.all([this.nats.bucket(BUCKETS.objects), this.nats.bucket(BUCKETS.secrets)]);
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
        failure = describeError(error);
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
        // a real API server leaves apiVersion and kind off the items of a built-in kind's list
        typeMeta: { apiVersion: kind.group ? `${kind.group}/${watch.version!}` : watch.version!, kind: kind.kind },
        ...(kind.fieldSelector ? { fieldSelector: kind.fieldSelector } : {}),
        // objects of a filtered kind (ConfigMaps) that are not mirrored stay in the cache as their identity only
        ...(kind.mirrors ? { transform: (object: KubernetesObject) => (isMirroredObject(kind, object as Record<string, unknown>) ? object : identityOnly(object)) } : {}),
        watchTimeoutSeconds: this.config.watchTimeoutSeconds,
        stallMarginMs: this.config.watchStallMs,
        notFoundRetryMs: this.config.crdRetryMs,
        logger: this.logger,
      },
      {
        upsert: (object) => this.upsert(kind, object),
        delete: (object) => this.remove(kind, object),
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

  private whoOf(kind: ApiKind, object: KubernetesObject): string {
    return `${kind.namespaced ? `${object.metadata?.namespace ?? 'default'}/` : ''}${kind.kind}/${object.metadata?.name ?? '?'}`;
  }

  /** Decodes one object on its own: one that does not decode is refused and named, and blocks nothing else. */
  private upsert(kind: ApiKind, object: KubernetesObject): void {
    // the field selector already filters; this guards a server that ignores it (and never logs the data)
    if (kind.key === 'secret' && (object as { type?: string }).type !== 'kubernetes.io/tls') return;
    const key = this.keyOf(kind, object);
    const who = this.whoOf(kind, object);
    // an object that stops qualifying (a ConfigMap that lost ca.crt) leaves the bucket; the writer skips keys never written
    if (!isMirroredObject(kind, object as Record<string, unknown>)) return this.enqueue({ key, who });
    // every replica decodes (a standby names refused objects too); only the leader writes
    let bytes: Uint8Array;
    let text: string;
    try {
      const clean = mirroredForm(kind, withoutManagedFields(object as KubeObject));
      bytes = kubeObjectCodec.encode(clean);
      text = canonicalJson(clean);
    } catch (error) {
      // what the bucket holds for the key (an earlier version that decoded) stays: the last good state
      this.latest.set(key, ++this.sequence);
      this.problem(key, who, 'Refused', (error as Error).message);
      return;
    }
    if (!this.writing) {
      if (this.problems.get(key)?.reason === 'Refused') this.problems.delete(key);
      return;
    }
    this.enqueue({ key, who, text, bytes });
  }

  private remove(kind: ApiKind, object: KubernetesObject): void {
    const key = this.keyOf(kind, object);
    if (!this.writing) this.problems.delete(key);
    this.enqueue({ key, who: this.whoOf(kind, object) });
  }

  private enqueue(op: Op): void {
    if (!this.writing || this.stopped) return;
    const seq = ++this.sequence;
    this.latest.set(op.key, seq);
    this.queue.push({ ...op, seq });
    if (this.queue.length - this.head > this.compactAt) this.compactQueue();
    this.pump();
  }

  /**
   * Memory stays bounded while NATS is slow or away: past QUEUE_COMPACT_AT queued changes, only the
   * last change of each key is kept (in the order of those last changes), so the queue never holds
   * more than one entry per object.
   */
  private compactQueue(): void {
    const waiting = this.queue.slice(this.head);
    const last = new Map<string, number>();
    waiting.forEach((op, index) => last.set(op.key, index));
    this.queue = waiting.filter((op, index) => last.get(op.key) === index);
    this.head = 0;
    // distinct keys cannot be compacted: wait for the queue to double before trying again
    this.compactAt = Math.max(QUEUE_COMPACT_AT, this.queue.length * 2);
    if (this.queue.length < waiting.length) this.logger.warn(`write queue compacted from ${waiting.length} to ${this.queue.length} changes (NATS slower than the API server)`);
  }

  /**
   * Writes queued changes in the API server's order with up to WRITE_WINDOW puts in flight (one
   * connection keeps them in order). A key counts as written only once its put succeeded; a write
   * that fails is named and retried on its own, and never stops the others.
   */
  private pump(): void {
    while (this.active < WRITE_WINDOW && this.head < this.queue.length && this.writing && !this.stopped) {
      const op = this.queue[this.head++]!;
      const holds = this.inflight.has(op.key) ? (this.inflight.get(op.key) ?? undefined) : this.written.get(op.key);
      if (holds === op.text) {
        // the bucket has (or is about to have) exactly this: nothing to write, nothing wrong
        if (op.seq === this.latest.get(op.key)) {
          this.problems.delete(op.key);
          if (op.text === undefined && !this.inflight.has(op.key)) this.latest.delete(op.key); // gone for good: forget the key
        }
        continue;
      }
      this.active++;
      this.inflight.set(op.key, op.text ?? null);
      void this.write(op).finally(() => {
        this.active--;
        if (this.inflight.get(op.key) === (op.text ?? null)) this.inflight.delete(op.key);
        this.pump();
      });
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.active === 0 && this.head >= this.queue.length) {
      for (const resolve of this.idle.splice(0)) resolve();
      this.checkSynced();
    }
  }

  private async write(op: Op & { seq: number }): Promise<void> {
    try {
      // values over max_payload go in chunks
      const kv = await this.nats.values(objectBucketOf(op.key));
      if (op.bytes) await kv.put(op.key, op.bytes);
      else await kv.delete(op.key);
    } catch (error) {
      if (op.seq === this.latest.get(op.key)) this.problem(op.key, op.who, 'WriteFailed', `writing ${objectBucketOf(op.key)}: ${(error as Error).message}`);
      return;
    }
    this.objectsWritten++;
    if (op.text !== undefined) this.written.set(op.key, op.text);
    else this.written.delete(op.key);
    if (op.seq !== this.latest.get(op.key)) return;
    this.forget(op.key);
    if (op.text === undefined) this.latest.delete(op.key); // deleted: nothing more to order for this key
  }

  /** Names an object not written (log line once per reason, metric, errors endpoint) and schedules its retry. */
  private problem(key: string, who: string, reason: ObjectProblem['reason'], message: string): void {
    const previous = this.problems.get(key);
    const same = previous?.reason === reason && previous.message === message;
    const attempts = (same ? previous.attempts : 0) + 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** Math.min(attempts - 1, 16));
    this.problems.set(key, { key, object: who, reason, message, since: same ? previous.since : new Date().toISOString(), attempts, retryAt: Date.now() + delay });
    if (!same) {
      this.failures.inc({ kind: key.split('.')[1] ?? '', reason });
      this.logger.warn(`${reason === 'Refused' ? 'refused' : 'could not write'} ${who}: ${message}; retrying with backoff`);
    } else if (attempts % 10 === 0) this.logger.warn(`${who}: still not written after ${attempts} attempts: ${message}`);
    this.checkSynced();
  }

  private forget(key: string): void {
    const problem = this.problems.get(key);
    if (!problem) return;
    this.problems.delete(key);
    this.logger.log(`${problem.object}: written after ${problem.attempts} failed attempt${problem.attempts === 1 ? '' : 's'}`);
  }

  /** Retries, with backoff, objects not written: from the watch cache as it is now (written, refused again, or deleted). */
  private retryDue(): void {
    if (!this.writing || this.stopped) return;
    const now = Date.now();
    for (const problem of [...this.problems.values()]) {
      if (problem.retryAt > now) continue;
      problem.retryAt = Number.POSITIVE_INFINITY; // until this attempt's outcome sets the next one
      const ref = parseObjectKey(problem.key);
      const watch = this.kinds.find((k) => k.kind.key === ref.kind);
      const object = watch?.state === 'not-installed' ? undefined : watch?.informer?.get(ref.name, watch.kind.namespaced ? ref.namespace : undefined);
      if (object && watch) this.upsert(watch.kind, object);
      else this.enqueue({ key: problem.key, who: problem.object });
    }
  }

  /**
   * On becoming leader (and after a failed write): read what the bucket holds now (the previous
   * leader kept writing while this replica stood by), then make it match the caches exactly.
   */
  private async takeOver(): Promise<void> {
    this.writing = false;
    this.queue = [];
    this.head = 0;
    const snapshots = [BUCKETS.objects, BUCKETS.secrets].map((bucket) => ({
      bucket,
      mirror: new KvMirror<unknown>(this.nats, { bucket, create: true, decode: (_key, bytes) => JSON.parse(new TextDecoder().decode(bytes)), logger: this.logger }),
    }));
    const misplaced: string[] = [];
    try {
      await Promise.all(snapshots.map((snapshot) => snapshot.mirror.start()));
      this.written.clear();
      const prefix = `${this.platform.cluster}.`;
      for (const snapshot of snapshots) {
        for (const [key, object] of snapshot.mirror.values()) {
          // a Secret an older version wrote into tendril-objects: deleted there once this replica writes
          if (objectBucketOf(key) !== snapshot.bucket) misplaced.push(key);
          else if (key.startsWith(prefix)) this.written.set(key, canonicalJson(object));
        }
      }
    } catch (error) {
      this.logger.warn(`reading ${BUCKETS.objects} and ${BUCKETS.secrets} to take over failed: ${(error as Error).message}; trying again`);
      setTimeout(() => {
        if (this.connection.elector.isLeader && !this.stopped) void this.takeOver();
      }, 2000).unref();
      return;
    } finally {
      for (const snapshot of snapshots) snapshot.mirror.stop();
    }
    if (!this.connection.elector.isLeader || this.stopped) return;
    this.writing = true;
    this.logger.log(`leading: ${this.written.size} keys in ${BUCKETS.objects} and ${BUCKETS.secrets}; reconciling`);
    this.reconcileAll();
    if (misplaced.length > 0) void this.dropMisplacedSecrets(misplaced);
  }

  /**
   * Deletes the Secrets an older version left in tendril-objects, each once tendril-secrets holds it
   * (or the Secrets are listed and it is gone), so a reader of both buckets never misses one.
   */
  private async dropMisplacedSecrets(keys: string[]): Promise<void> {
    let left = keys;
    let deleted = 0;
    while (left.length > 0) {
      await this.drained();
      if (!this.writing || this.stopped) return;
      const listed = this.kinds.find((watch) => watch.kind.key === 'secret')?.state === 'synced';
      const due = left.filter((key) => this.written.has(key) || (listed && !this.latest.has(key)));
      left = left.filter((key) => !due.includes(key));
      try {
        const values = await this.nats.values(BUCKETS.objects);
        for (const key of due) {
          await values.delete(key);
          deleted++;
        }
      } catch (error) {
        this.logger.warn(`deleting Secrets from ${BUCKETS.objects} failed: ${(error as Error).message}; trying again at the next take-over`);
        return;
      }
      if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000).unref());
    }
    this.logger.log(`moved Secrets out of ${BUCKETS.objects}: ${deleted} deleted there (they live in ${BUCKETS.secrets})`);
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
    for (const key of this.written.keys()) if (key.startsWith(prefix) && !desired.has(key)) this.enqueue({ key, who: key });
    for (const key of this.problems.keys()) if (key.startsWith(prefix) && !desired.has(key)) this.problems.delete(key);
  }

  private reconcileAll(): void {
    for (const watch of this.kinds) if (watch.state === 'synced' || watch.state === 'not-installed') this.reconcile(watch);
    this.checkSynced();
  }

  private setState(watch: KindWatch, state: KindWatch['state'], detail: string): void {
    const removed = state === 'not-installed' && watch.state !== 'not-installed';
    const returned = state === 'synced' && watch.state === 'not-installed';
    watch.state = state;
    watch.detail = detail;
    // a CRD deleted takes its objects with it: their keys leave the bucket, and come back with the CRD
    if (removed || returned) this.reconcile(watch);
    this.checkSynced();
  }

  /**
   * Ready when every kind is listed (or known not installed), and every listed object is in the
   * bucket or refused with a reason; not ready, saying why, while writes are pending or failing and
   * while the API server cannot be reached (the bucket then holds a stale view).
   */
  private checkSynced(): void {
    const pending = this.kinds.filter((k) => k.state === 'resolving' || k.state === 'failing');
    if (pending.length > 0) {
      const byDetail = new Map<string, string[]>();
      for (const k of pending) byDetail.set(k.detail, [...(byDetail.get(k.detail) ?? []), k.kind.kind]);
      this.synced.fail(`waiting for ${[...byDetail].map(([detail, kinds]) => `${kinds.join(', ')} (${detail})`).join('; ')}`);
      return;
    }
    const count = this.kinds.reduce((sum, k) => sum + (k.informer?.objects().length ?? 0), 0);
    const unreachable = this.kinds.filter((k) => k.informer && k.informer.failingSince > 0);
    if (unreachable.length > 0) {
      const since = Math.min(...unreachable.map((k) => k.informer!.failingSince));
      const first = unreachable[0]!.informer!;
      this.synced.fail(
        `API server unreachable since ${new Date(since).toISOString()} (${unreachable.map((k) => k.kind.kind).join(', ')}: ${first.lastError}); ` +
          `stale view: ${BUCKETS.objects} keeps the last state seen (${count} objects)`,
      );
      return;
    }
    if (!this.connection.elector.holder || (this.connection.elector.isLeader && !this.writing)) {
      this.synced.fail(this.connection.elector.isLeader ? 'leading; reading the bucket' : 'every kind listed; waiting for the Lease election');
      return;
    }
    const failed = [...this.problems.values()].filter((p) => p.reason === 'WriteFailed');
    const refused = [...this.problems.values()].filter((p) => p.reason === 'Refused');
    const queued = this.queue.length - this.head + this.active;
    if (this.connection.elector.isLeader && (failed.length > 0 || queued > 0)) {
      const parts = [`${queued} writes pending`];
      if (failed.length > 0) parts.push(`${failed.length} objects not written: ${describeProblems(failed)}`);
      if (refused.length > 0) parts.push(`${refused.length} refused: ${describeProblems(refused)}`);
      this.synced.fail(parts.join('; '));
      return;
    }
    const missing = this.kinds.filter((k) => k.state === 'not-installed').map((k) => k.kind.kind);
    const notes = [`${count} objects from ${this.kinds.length - missing.length} kinds`];
    if (refused.length > 0) notes.push(`${refused.length} refused (see tendril.k8s-watcher.errors): ${describeProblems(refused)}`);
    if (missing.length > 0) notes.push(`not installed (retrying): ${missing.join(', ')}`);
    this.synced.pass(notes.join('; '));
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
    this.checkSynced();
  }

  /** The live cache of one kind (for the status writer's version lookup). */
  versionOf(key: string): ApiKind & { version?: string } {
    const watch = this.kinds.find((k) => k.kind.key === key);
    return { ...watch!.kind, ...(watch?.version ? { version: watch.version } : {}) };
  }

  /** Resolves once nothing is queued or in flight. */
  private drained(): Promise<void> {
    if (this.active === 0 && this.head >= this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async onModuleDestroy(): Promise<void> {
    for (const watch of this.kinds) {
      if (watch.retry) clearTimeout(watch.retry);
      watch.informer?.stop();
    }
    // what is in flight finishes; nothing new starts
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    if (this.active > 0) await this.drained();
  }
}

/** The first few problems, named, with their messages. */
function describeProblems(problems: ObjectProblem[]): string {
  const shown = problems.slice(0, 3).map((p) => `${p.object} (${p.message})`);
  return shown.join(', ') + (problems.length > 3 ? `, and ${problems.length - 3} more` : '');
}
