/**
 * Standalone mode's side of `tendril-owned`: with no API server, the objects the translator owns in
 * the cluster (the Services and EndpointSlices of Ingress and Gateway load balancers) go straight
 * into `tendril-objects`, made what an API server and the cluster's controllers would make of them,
 * so that both modes feed the translator the same shapes:
 * - defaults and a cluster IP from TENDRIL_SERVICE_CIDR, as the manifest folder's Services get them;
 * - LB-IPAM: a LoadBalancer Service gets status.loadBalancer.ingress from TENDRIL_INGRESS_CIDR (Ingress
 *   load balancers) or TENDRIL_GATEWAY_CIDR (Gateways), kept while valid, as Cilium's LB-IPAM would;
 * - uid, generation, creationTimestamp and resourceVersion, as the manifest folder's objects get them.
 * Keys in `tendril-objects` that carry the owned mark (OWNED_MARK) and are no longer in `tendril-owned`
 * are deleted; the manifest folder's source leaves keys with the mark alone.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BUCKETS, canonicalJson, isOwnedObject, kubeObjectCodec, parseObjectKey, type KubeObject } from '@tendril/contract';
import { allocateClusterIPs, applyDefaults, assignLoadBalancerIPs, lbIpamRequest, standaloneUid, type LbIpamRequest, type ManifestObject } from '@tendril/kube';
import { KvMirror, Metrics, NatsClient, PLATFORM_CONFIG, writeAll, type PlatformConfig } from '@tendril/platform';
import { WATCHER_CONFIG, type WatcherConfig } from './config.js';

export interface StandaloneOwnedSettings {
  cluster: string;
  serviceCidr: string;
  ingressCidr: string;
  gatewayCidr: string;
}

/**
 * What `tendril-objects` should hold for the owned objects `owned` (their `tendril-owned` keys and
 * values), given what it holds now (`current`, every key of the bucket): each owned object as an API
 * server with LB-IPAM would store it. `now` stamps objects seen for the first time.
 */
export function standaloneOwnedObjects(owned: Iterable<[string, KubeObject]>, current: (key: string) => KubeObject | undefined, services: Iterable<[string, KubeObject]>, settings: StandaloneOwnedSettings, now: string): Map<string, KubeObject> {
  const prefix = `${settings.cluster}.`;
  const wanted = [...owned].filter(([key]) => key.startsWith(prefix)).map(([key, object]): [string, KubeObject] => [key, applyDefaults(structuredClone(object), true)]);
  const wantedKeys = new Set(wanted.map(([key]) => key));
  // Cluster IPs: kept from what the bucket holds, else picked past every other Service's.
  const forAllocation: ManifestObject[] = [];
  for (const [key, object] of services) if (!wantedKeys.has(key)) forAllocation.push({ key, ref: parseObjectKey(key), object: structuredClone(object), source: '' });
  const requests: LbIpamRequest[] = [];
  for (const [key, object] of wanted) {
    if (object.kind !== 'Service') continue;
    const spec = object['spec'] as Record<string, unknown>;
    const held = current(key);
    const heldSpec = (held?.['spec'] ?? {}) as Record<string, unknown>;
    if (typeof heldSpec['clusterIP'] === 'string' && heldSpec['clusterIP'] !== '') {
      spec['clusterIP'] = heldSpec['clusterIP'];
      spec['clusterIPs'] = heldSpec['clusterIPs'] ?? [heldSpec['clusterIP']];
    }
    forAllocation.push({ key, ref: parseObjectKey(key), object, source: '' });
    const pool = object.metadata.labels?.['io.cilium.gateway/owning-gateway'] ? settings.gatewayCidr : settings.ingressCidr;
    const request = lbIpamRequest({ ...object, ...(held?.['status'] ? { status: held['status'] } : {}) }, pool);
    if (request) requests.push(request);
  }
  allocateClusterIPs(forAllocation, settings.serviceCidr);
  const addresses = assignLoadBalancerIPs(requests);
  const out = new Map<string, KubeObject>();
  for (const [key, object] of wanted) {
    let value = object;
    if (object.kind === 'Service' && (object['spec'] as { type?: string }).type === 'LoadBalancer') {
      const address = addresses.get(`${object.metadata.namespace}/${object.metadata.name}`);
      value = { ...object, status: { loadBalancer: address ? { ingress: [{ ip: address }] } : {} } };
    }
    out.set(key, stamp(key, value, current(key), now));
  }
  return out;
}

/** What an API server adds (as the manifest folder's source stamps objects): uid, generation, creationTimestamp, resourceVersion. */
function stamp(key: string, object: KubeObject, held: KubeObject | undefined, now: string): KubeObject {
  const specHash = hash(withoutMeta(object));
  const previousGeneration = held?.metadata.generation ?? 0;
  const generation = held && hash(withoutMeta(held)) === specHash ? Math.max(previousGeneration, 1) : previousGeneration + 1;
  const creationTimestamp = held?.metadata.creationTimestamp ?? now;
  const stamped: KubeObject = { ...object, metadata: { ...object.metadata, uid: standaloneUid(key), generation, creationTimestamp } };
  stamped.metadata.resourceVersion = hash(stamped).slice(0, 16);
  return stamped;
}

function withoutMeta(object: KubeObject): unknown {
  const { metadata, status: _status, ...rest } = object as KubeObject & { status?: unknown };
  return { ...rest, labels: metadata.labels, annotations: metadata.annotations };
}

function hash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

@Injectable()
export class StandaloneOwned implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('standalone-owned');
  private readonly owned: KvMirror<KubeObject>;
  private readonly objects: KvMirror<KubeObject>;
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private written = 0;

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(WATCHER_CONFIG) private readonly config: WatcherConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Metrics) metrics: Metrics,
  ) {
    // with objects_seen (the folder's), what the translator should hold of tendril-objects once caught up
    metrics.figure('owned_objects', 'Owned objects (load balancer Services and EndpointSlices) written into tendril-objects', () => this.written);
    const decode = (_key: string, bytes: Uint8Array) => kubeObjectCodec.decode(bytes);
    this.owned = new KvMirror(nats, { bucket: BUCKETS.owned, decode, logger: this.logger, onWaiting: (reason) => this.waiting(reason) });
    this.objects = new KvMirror(nats, { bucket: BUCKETS.objects, create: true, decode, logger: this.logger });
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`owned objects: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    await this.objects.start();
    this.objects.onChange((changes) => {
      // our own objects changed or went (by us, or by someone else): look again
      if (changes.some((change) => isOwnedObject(change.value) || isOwnedObject(change.previous) || this.owned.get(change.key))) this.schedule();
    });
    this.owned.onChange(() => this.schedule());
    await this.owned.start();
    this.schedule();
  }

  private waitingLogged = false;

  /** Said once: the bucket appears with the translator's first publish. */
  private waiting(reason: string): void {
    if (!this.waitingLogged) this.logger.log(`waiting for bucket ${BUCKETS.owned} (the translator creates it): ${reason}`);
    this.waitingLogged = true;
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.running.then(() => this.reconcile()).catch((error: Error) => {
        this.logger.warn(`writing owned objects failed: ${error.message}; retrying`);
        setTimeout(() => this.schedule(), 1000).unref();
      });
    }, 20);
  }

  private async reconcile(): Promise<void> {
    if (this.stopped || !this.owned.isInitiallySynced) return;
    const services = this.objects.values().filter(([key]) => key.startsWith(`${this.platform.cluster}.service.`));
    const settings = { cluster: this.platform.cluster, serviceCidr: this.config.serviceCidr, ingressCidr: this.config.ingressCidr, gatewayCidr: this.config.gatewayCidr };
    const desired = standaloneOwnedObjects(this.owned.values(), (key) => this.objects.get(key), services, settings, new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
    // through the chunking writer, with a window of writes in flight, as the manifest folder's source writes
    const kv = await this.nats.values(BUCKETS.objects, (key) => this.objects.chunkedHead(key));
    const puts = [...desired].filter(([key, object]) => {
      const held = this.objects.get(key);
      return !held || canonicalJson(held) !== canonicalJson(object);
    });
    const prefix = `${this.platform.cluster}.`;
    const deletes = this.objects.values().filter(([key, object]) => key.startsWith(prefix) && isOwnedObject(object) && !desired.has(key));
    await writeAll(puts, ([key, object]) => kv.put(key, kubeObjectCodec.encode(object)));
    await writeAll(deletes, ([key]) => kv.delete(key));
    this.written = desired.size;
    if (puts.length + deletes.length) this.logger.log(`owned objects: ${puts.length} put, ${deletes.length} deleted in ${BUCKETS.objects}`);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.owned.stop();
    this.objects.stop();
  }
}
