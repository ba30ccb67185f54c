/** Bucket and subject names, and the names under which services register on NATS. */
import { nodeToken } from './keys.js';

export const BUCKETS = {
  objects: 'tendril-objects',
  /**
   * The Kubernetes Secrets the mesh reads (TLS Secrets), keyed like `tendril-objects`: k8s-watcher ->
   * translator, nobody else. Kept apart so that read rights on objects never include key material.
   */
  secrets: 'tendril-secrets',
  status: 'tendril-status',
  xds: 'tendril-xds',
  /**
   * The SDS Secret resources (type `secret`), keyed like `tendril-xds`: translator -> xds-server,
   * nobody else. The generation marker in `tendril-xds` covers them (its digest and count are over
   * the resources of both buckets), so no generation is served before its secrets are read.
   */
  sds: 'tendril-sds',
  lb: 'tendril-lb',
  proxies: 'tendril-proxies',
  /**
   * Objects the control plane owns in the cluster (the Services and EndpointSlices of Ingress and
   * Gateway load balancers), keyed like `tendril-objects`: translator -> k8s-watcher, which applies
   * them to the API server (Kubernetes mode) or puts them into `tendril-objects` (standalone).
   */
  owned: 'tendril-owned',
  /**
   * Numeric security identities, allocated by compare-and-set so that every replica and restart
   * agrees: `id.<number>` and `labels.<sha256 of the label set>` (messages/policy.ts). translator only.
   */
  identities: 'tendril-identities',
  /** Compiled network policy: identities, the address table, per-identity rules, errors. translator -> datapath, cli. */
  policy: 'tendril-policy',
  /**
   * The certificate authority of workload identities: `ca.active` and, during a rotation's overlap,
   * `ca.previous` (certificate and private key). translator only: no other user may read it.
   */
  ca: 'tendril-ca',
  /** One key per service that runs a single active replica: `<service>` -> leaseCodec (holder, ttl). */
  leases: 'tendril-leases',
} as const;
export type BucketName = (typeof BUCKETS)[keyof typeof BUCKETS];

/**
 * The bucket an object key (`<cluster>.<kind>.<namespace>.<name>`, or one of its chunks) lives in:
 * Secrets in `tendril-secrets`, every other kind in `tendril-objects`. The key is the same in both.
 */
export function objectBucketOf(key: string): typeof BUCKETS.objects | typeof BUCKETS.secrets {
  return key.split('.', 2)[1] === 'secret' ? BUCKETS.secrets : BUCKETS.objects;
}

/**
 * The bucket an xDS key (`<type>.<name>`, or one of its chunks) lives in: SDS Secrets in `tendril-sds`,
 * every other type and the generation marker in `tendril-xds`. The key is the same in both.
 */
export function xdsBucketOf(key: string): typeof BUCKETS.xds | typeof BUCKETS.sds {
  return key.split('.', 1)[0] === 'secret' ? BUCKETS.sds : BUCKETS.xds;
}

/**
 * How objects in `tendril-owned` are marked, in the cluster and in `tendril-objects`: the label
 * `app.kubernetes.io/managed-by: tendril` on every one (the k8s-watcher deletes only objects with it;
 * the standalone manifest source leaves keys with it alone), and the server-side apply field manager.
 */
export const OWNED_MARK = {
  label: 'app.kubernetes.io/managed-by',
  value: 'tendril',
  fieldManager: 'tendril',
} as const;

/** Cilium LB-IPAM's annotation asking for given load-balancer addresses (a Gateway's spec.addresses on its owned Service). */
export const LB_IPAM_IPS_ANNOTATION = 'lbipam.cilium.io/ips';

/** Whether an object carries the owned mark (OWNED_MARK). */
export function isOwnedObject(object: { metadata?: { labels?: Record<string, string> } } | undefined): boolean {
  return object?.metadata?.labels?.[OWNED_MARK.label] === OWNED_MARK.value;
}

export const SERVICES = ['k8s-watcher', 'translator', 'xds-server', 'datapath', 'metrics'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const SUBJECTS = {
  /** ACK/NACK and connect/disconnect events of one proxy: xds-server -> metrics, translator */
  xdsProxy: (nodeId: string) => `tendril.xds.proxy.${nodeToken(nodeId)}`,
  xdsProxyAll: 'tendril.xds.proxy.>',
  /** L4 flow events of one node: datapath -> metrics */
  flows: (node: string) => `tendril.flows.${nodeToken(node)}`,
  flowsAll: 'tendril.flows.>',
  /** Periodic figures of one service instance: every service -> metrics */
  stats: (service: ServiceName) => `tendril.stats.${service}`,
  statsAll: 'tendril.stats.>',
  /** NATS micro endpoints: `tendril.<service>.<verb>` */
  endpoint: (service: ServiceName, verb: string) => `tendril.${service}.${verb}`,
  /**
   * Asked of the active replica only, of a service with one active replica (the lease holder answers;
   * standbys pass endpoint requests on to it): `tendril.<service>.active.<verb>`
   */
  active: (service: ServiceName, verb: string) => `tendril.${service}.active.${verb}`,
  /**
   * Answered by one replica of a lease-holding service for as long as its NATS connection lives
   * (subscribed before it ever takes the lease): a standby asks the holder the lease names, and no
   * responder means the holder is gone. `tendril.<service>.active.lease-holder.<instance, base64url>`
   */
  leaseHolder: (service: string, instance: string) => `tendril.${service}.active.lease-holder.${nodeToken(instance)}`,
  /** An endpoint of one node's instance (the datapath's maps on that node): `tendril.<service>.<verb>.<node>` */
  nodeEndpoint: (service: ServiceName, verb: string, node: string) => `tendril.${service}.${verb}.${nodeToken(node)}`,
} as const;

/** Name of a service's NATS micro registration (`nats micro ls`). */
export function microServiceName(service: ServiceName): string {
  return `tendril-${service}`;
}

/** Default HTTP ports (health, readiness, metrics, APIs), gRPC ports. */
export const PORTS = {
  'k8s-watcher': 9871,
  translator: 9872,
  'xds-server': 9873,
  datapath: 9874,
  metrics: 9875,
  xdsGrpc: 18000,
  accessLogGrpc: 18001,
  natsClient: 4222,
  natsMonitoring: 8222,
} as const;
