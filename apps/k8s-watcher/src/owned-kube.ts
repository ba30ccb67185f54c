/**
 * Kubernetes mode's side of `tendril-owned`: the leader applies the objects the translator owns in the
 * cluster (the Services and EndpointSlices of Ingress and Gateway load balancers) with server-side
 * apply (field manager OWNED_MARK.fieldManager, force: Tendril is their only writer of these fields),
 * and deletes the objects carrying the owned mark that are no longer in the bucket. It never touches
 * an object without the mark: a Service of the same name made by someone else is reported and left
 * as it is. Owned objects the API server already holds as applied are not applied again; everything
 * is looked at again on every change of the bucket, on becoming leader and every
 * TENDRIL_OWNED_RESYNC_MS (someone may have edited or deleted them).
 *
 * Deleting an Ingress or Gateway needs nothing from here: the ownerReference makes the cluster's
 * garbage collector remove its Service and EndpointSlice, even while Tendril is down.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BUCKETS, isOwnedObject, kubeObjectCodec, objectKey, OWNED_MARK, parseObjectKey, type KubeObject } from '@tendril/contract';
import { KvMirror, Metrics, NatsClient, PLATFORM_CONFIG, type PlatformConfig } from '@tendril/platform';
import { KubeApiError, collectionPath } from '@tendril/platform/kube';
import { KubeConnection } from './kube-source.js';

/** The kinds owned objects may be, and where they live. */
const OWNED_KINDS = [
  { key: 'service', kind: 'Service', group: '', version: 'v1', plural: 'services' },
  { key: 'endpointslice', kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
] as const;

type Json = Record<string, unknown>;

/** Whether `live` already holds everything `desired` sets (maps key by key, lists item by item and of the same length). */
export function holdsApplied(live: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) return Array.isArray(live) && live.length === desired.length && desired.every((item, i) => holdsApplied(live[i], item));
  if (typeof desired === 'object' && desired !== null) {
    if (typeof live !== 'object' || live === null || Array.isArray(live)) return false;
    return Object.entries(desired).every(([key, value]) => holdsApplied((live as Json)[key], value));
  }
  return live === desired;
}

@Injectable()
export class KubeOwned implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('owned');
  private readonly owned: KvMirror<KubeObject>;
  private timer?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private applies = 0;
  private deletes = 0;
  private failures = 0;
  /** Objects named like ours that we do not own, by key, reported once each. */
  private readonly foreign = new Set<string>();

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(NatsClient) nats: NatsClient,
    @Inject(KubeConnection) private readonly connection: KubeConnection,
    @Inject(Metrics) metrics: Metrics,
  ) {
    this.owned = new KvMirror(nats, {
      bucket: BUCKETS.owned,
      decode: (_key, bytes) => kubeObjectCodec.decode(bytes),
      logger: this.logger,
      onWaiting: (reason) => this.waiting(reason),
    });
    this.owned.onChange(() => this.schedule());
    this.connection.elector.onChange((leading) => {
      if (leading) this.schedule();
    });
    metrics.figure('owned_applies', 'Owned objects (load-balancer Services, EndpointSlices) applied to the API server since start', () => this.applies);
    metrics.figure('owned_deletes', 'Owned objects deleted from the API server since start (no longer owned)', () => this.deletes);
    metrics.figure('owned_failures', 'Owned objects whose apply or delete failed (retried)', () => this.failures);
  }

  onApplicationBootstrap(): void {
    void this.owned
      .start()
      .then(() => this.schedule())
      .catch((error: Error) => this.logger.warn(`owned objects: ${error.message}`));
    const every = Number(process.env['TENDRIL_OWNED_RESYNC_MS'] ?? 60000);
    this.resync = setInterval(() => this.schedule(), Number.isFinite(every) && every > 0 ? every : 60000);
    this.resync.unref();
  }

  private waitingLogged = false;

  /** Said once: the bucket appears with the translator's first publish. */
  private waiting(reason: string): void {
    if (!this.waitingLogged) this.logger.log(`waiting for bucket ${BUCKETS.owned} (the translator creates it): ${reason}`);
    this.waitingLogged = true;
  }

  private schedule(delay = 20): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.running.then(() => this.reconcile());
    }, delay);
  }

  private async reconcile(): Promise<void> {
    if (this.stopped || !this.owned.isInitiallySynced || !this.connection.elector.isLeader) return;
    const prefix = `${this.platform.cluster}.`;
    const desired = new Map(this.owned.values().filter(([key]) => key.startsWith(prefix)));
    let failed = false;
    const client = this.connection.client;
    const selector = encodeURIComponent(`${OWNED_MARK.label}=${OWNED_MARK.value}`);
    const live = new Map<string, Json>();
    try {
      for (const kind of OWNED_KINDS) {
        const list = await client.request<{ items?: Json[] }>('GET', `${collectionPath(kind.group, kind.version, kind.plural)}?labelSelector=${selector}`);
        for (const item of list.items ?? []) {
          const metadata = item['metadata'] as { name: string; namespace?: string };
          live.set(objectKey({ cluster: this.platform.cluster, kind: kind.key, namespace: metadata.namespace ?? 'default', name: metadata.name }), item);
        }
      }
    } catch (error) {
      this.logger.warn(`listing owned objects failed: ${(error as Error).message}; retrying`);
      this.schedule(2000);
      return;
    }
    for (const [key, object] of desired) {
      if (this.stopped || !this.connection.elector.isLeader) return;
      const ref = parseObjectKey(key);
      const kind = OWNED_KINDS.find((candidate) => candidate.key === ref.kind);
      if (!kind || !ref.namespace) continue;
      const held = live.get(key);
      if (held && holdsApplied(held, object)) continue;
      const path = `${collectionPath(kind.group, kind.version, kind.plural, ref.namespace)}/${encodeURIComponent(ref.name)}`;
      try {
        if (!held) {
          // not listed as ours: someone else's object of that name is left alone
          const other = await client.request<Json>('GET', path).catch((error: unknown) => {
            if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
            throw error;
          });
          if (other && !isOwnedObject(other as KubeObject)) {
            if (!this.foreign.has(key)) this.logger.warn(`${ref.namespace}/${kind.kind}/${ref.name}: exists and is not Tendril's (no label ${OWNED_MARK.label}=${OWNED_MARK.value}); left alone, its load balancer gets no address from it`);
            this.foreign.add(key);
            continue;
          }
        }
        this.foreign.delete(key);
        await client.request('PATCH', `${path}?fieldManager=${OWNED_MARK.fieldManager}&force=true`, object, 'application/apply-patch+yaml');
        this.applies++;
      } catch (error) {
        failed = true;
        this.failures++;
        this.logger.warn(`applying ${ref.namespace}/${kind.kind}/${ref.name} failed: ${(error as Error).message}; retrying`);
      }
    }
    for (const [key, object] of live) {
      if (this.stopped || !this.connection.elector.isLeader) return;
      if (desired.has(key) || !isOwnedObject(object as KubeObject)) continue;
      const ref = parseObjectKey(key);
      const kind = OWNED_KINDS.find((candidate) => candidate.key === ref.kind)!;
      try {
        await client.request('DELETE', `${collectionPath(kind.group, kind.version, kind.plural, ref.namespace)}/${encodeURIComponent(ref.name)}`);
        this.deletes++;
      } catch (error) {
        if (error instanceof KubeApiError && error.statusCode === 404) continue;
        failed = true;
        this.failures++;
        this.logger.warn(`deleting ${ref.namespace}/${kind.kind}/${ref.name} failed: ${(error as Error).message}; retrying`);
      }
    }
    if (failed) this.schedule(2000);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    await this.running;
    this.owned.stop();
  }
}
