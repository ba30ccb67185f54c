/**
 * Kubernetes mode: the desired status the translator puts in KV `tendril-status` is written to the
 * status subresource of GatewayClass, Gateway, ListenerSet, the routes (HTTP, GRPC, TLS, TCP, UDP),
 * BackendTLSPolicy and Ingress — by the
 * Lease holder only, only when it differs, never touching spec. Route parents and conditions that
 * belong to other controllers are kept; a 409 Conflict is retried on a freshly read object.
 *
 * "Differs" is judged as the API server stores status, not as we send it: the server prunes fields
 * the installed CRD version does not know (a newer status field on an older Gateway API release)
 * and applies defaults, so what we wrote may never read back equal. The status a write returned is
 * kept per object; when the object still holds exactly that, and we would send exactly what we sent
 * then, there is nothing to write (else every change would rewrite it forever).
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BUCKETS, canonicalJson, objectStatusCodec, parseObjectKey, type ObjectStatus } from '@tendril/contract';
import { KvMirror, Metrics, NatsClient, PLATFORM_CONFIG, type PlatformConfig } from '@tendril/platform';
import { KubeApiError, collectionPath } from '@tendril/platform/kube';
import { WATCHER_CONFIG, type WatcherConfig } from './config.js';
import { KubeConnection, KubeSource } from './kube-source.js';
import { STATUS_KINDS } from './kube-kinds.js';

type Json = Record<string, unknown>;

@Injectable()
export class StatusWriter implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('status-writer');
  private readonly mirror: KvMirror<ObjectStatus>;
  private readonly pending = new Set<string>();
  private working?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;
  private written = 0;
  private conflicts = 0;
  /** Per key: the status we last sent, and the status the server stored from it (both canonical JSON). */
  private readonly stored = new Map<string, { sent: string; kept: string }>();

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(WATCHER_CONFIG) private readonly config: WatcherConfig,
    @Inject(NatsClient) nats: NatsClient,
    @Inject(KubeConnection) private readonly connection: KubeConnection,
    @Inject(KubeSource) private readonly source: KubeSource,
    @Inject(Metrics) metrics: Metrics,
  ) {
    this.mirror = new KvMirror(nats, { bucket: BUCKETS.status, decode: (_key, bytes) => objectStatusCodec.decode(bytes), logger: this.logger });
    this.mirror.onChange((changes) => {
      for (const change of changes) {
        if (change.op === 'put') this.request(change.key);
        else this.stored.delete(change.key);
      }
    });
    this.connection.elector.onChange((leading) => {
      if (leading) for (const key of this.mirror.keys()) this.request(key);
    });
    metrics.figure('status_writes', 'Status subresource writes since start', () => this.written);
    metrics.figure('status_conflicts', 'Status writes that met 409 Conflict and were retried', () => this.conflicts);
  }

  onApplicationBootstrap(): void {
    void this.mirror.start().catch((error: Error) => this.logger.warn(`status writer stopped: ${error.message}`));
  }

  private request(key: string): void {
    if (!key.startsWith(`${this.platform.cluster}.`)) return;
    const kind = key.split('.')[1] ?? '';
    if (!STATUS_KINDS.has(kind)) return;
    this.pending.add(key);
    this.working ??= this.work().finally(() => (this.working = undefined));
  }

  private async work(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      if (!this.connection.elector.isLeader) {
        this.pending.clear(); // the leader writes; on becoming leader every key is requested again
        return;
      }
      const [key] = this.pending;
      this.pending.delete(key!);
      try {
        await this.write(key!);
      } catch (error) {
        this.logger.warn(`status of ${key}: ${(error as Error).message}; retrying`);
        this.retryTimer = setTimeout(() => this.request(key!), 2000);
      }
    }
  }

  private async write(key: string): Promise<void> {
    const desired = this.mirror.get(key);
    if (!desired) return;
    const ref = parseObjectKey(key);
    const kind = this.source.versionOf(ref.kind);
    if (!kind.version) throw new Error(`${kind.kind} is not served (yet)`);
    const path = `${collectionPath(kind.group, kind.version, kind.plural, kind.namespaced ? ref.namespace : undefined)}/${encodeURIComponent(ref.name)}`;
    const who = `${ref.namespace ? `${ref.namespace}/` : ''}${kind.kind}/${ref.name}`;
    for (let attempt = 1; ; attempt++) {
      let current: Json;
      try {
        current = await this.connection.client.request<Json>('GET', path);
      } catch (error) {
        if (error instanceof KubeApiError && error.statusCode === 404) {
          this.stored.delete(key);
          return; // gone: nothing to write
        }
        throw error;
      }
      const before = (current['status'] as Json | undefined) ?? {};
      const after = mergeStatus(ref.kind, before, desired.status, this.config.gatewayController, new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
      if (canonicalJson(after) === canonicalJson(before)) return;
      const last = this.stored.get(key);
      if (last && last.sent === canonicalJson(after) && last.kept === canonicalJson(before)) return; // the server keeps what it kept of it last time
      const resourceVersion = (current['metadata'] as Json)['resourceVersion'];
      try {
        const patch = mergePatchBetween(before, after);
        const updated = await this.connection.client.request<Json>('PATCH', `${path}/status`, { metadata: { resourceVersion }, status: patch }, 'application/merge-patch+json');
        this.stored.set(key, { sent: canonicalJson(after), kept: canonicalJson((updated?.['status'] as Json | undefined) ?? {}) });
        this.written++;
        this.logger.log(`${who}: status written`);
        return;
      } catch (error) {
        if (!(error instanceof KubeApiError) || error.statusCode !== 409 || attempt >= this.config.statusConflictRetries) throw error;
        this.conflicts++;
        this.logger.log(`${who}: status conflict (attempt ${attempt}); retrying on a fresh read`);
      }
    }
  }

  onModuleDestroy(): Promise<void> | void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.mirror.stop();
    return this.working;
  }
}

/**
 * The status to write: the current one with our parts replaced. Route `parents` and policy
 * `ancestors` entries of other controllers stay; conditions keep their lastTransitionTime while their status does not change.
 */
export function mergeStatus(kind: string, current: Json, desired: Json, controller: string, now: string): Json {
  if (kind === 'ingress') return { ...current, loadBalancer: desired['loadBalancer'] ?? {} };
  const out: Json = { ...current, ...desired };
  if (Array.isArray(desired['conditions'])) out['conditions'] = mergeConditions(current['conditions'], desired['conditions'] as Json[], now);
  if (Array.isArray(desired['listeners'])) {
    // Gateway listeners: the desired list replaces the current one; each listener's conditions keep their transition times.
    const previous = Array.isArray(current['listeners']) ? (current['listeners'] as Json[]) : [];
    out['listeners'] = (desired['listeners'] as Json[]).map((listener) => {
      const before = previous.find((p) => p['name'] === listener['name']);
      return { ...listener, conditions: mergeConditions(before?.['conditions'], (listener['conditions'] as Json[] | undefined) ?? [], now) };
    });
  }
  // route parents and policy ancestors: a map keyed by the reference and the controller (the spec's words)
  for (const [list, ref] of [['parents', 'parentRef'], ['ancestors', 'ancestorRef']] as const) {
    if (!Array.isArray(desired[list])) continue;
    const previous = Array.isArray(current[list]) ? (current[list] as Json[]) : [];
    const ours = (desired[list] as Json[]).map((parent) => {
      const before = previous.find((p) => p['controllerName'] === (parent['controllerName'] ?? controller) && canonicalJson(p[ref] ?? {}) === canonicalJson(parent[ref] ?? {}));
      return { ...parent, controllerName: parent['controllerName'] ?? controller, conditions: mergeConditions(before?.['conditions'], (parent['conditions'] as Json[] | undefined) ?? [], now) };
    });
    const ourControllers = new Set<unknown>([controller, ...ours.map((p) => p['controllerName'])]);
    out[list] = [...previous.filter((p) => !ourControllers.has(p['controllerName'])), ...ours];
  }
  return out;
}

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`: a merge patch merges objects field by
 * field, so a field `to` no longer has must be named with null, at every depth (an Ingress whose
 * load balancer lost its address: `{loadBalancer: {ingress: null}}`, not `{loadBalancer: {}}`).
 */
export function mergePatchBetween(from: Json, to: Json): Json {
  const patch: Json = {};
  for (const field of Object.keys(from)) if (!(field in to)) patch[field] = null;
  for (const [field, value] of Object.entries(to)) {
    const previous = from[field];
    if (isPlainObject(value) && isPlainObject(previous)) {
      const inner = mergePatchBetween(previous, value);
      if (Object.keys(inner).length > 0) patch[field] = inner;
    } else if (canonicalJson(value) !== canonicalJson(previous)) patch[field] = isPlainObject(value) ? withoutNulls(value) : value;
  }
  return patch;
}

function isPlainObject(value: unknown): value is Json {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** A merge patch cannot set null inside a new object (null means delete): such fields are left out. */
function withoutNulls(value: Json): Json {
  return Object.fromEntries(Object.entries(value).filter(([, inner]) => inner !== null).map(([field, inner]) => [field, isPlainObject(inner) ? withoutNulls(inner) : inner]));
}

function mergeConditions(current: unknown, desired: Json[], now: string): Json[] {
  const previous = Array.isArray(current) ? (current as Json[]) : [];
  const types = new Set(desired.map((c) => c['type']));
  const merged = desired.map((condition) => {
    const before = previous.find((c) => c['type'] === condition['type']);
    const lastTransitionTime = before && before['status'] === condition['status'] ? before['lastTransitionTime'] : (condition['lastTransitionTime'] ?? now);
    return { ...condition, lastTransitionTime: lastTransitionTime ?? now };
  });
  return [...previous.filter((c) => !types.has(c['type'])), ...merged];
}
