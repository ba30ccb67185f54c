/**
 * backendRefs -> clusters. A backend is a Service port (group "" or core, kind Service) whose cluster
 * the services feature built (`<namespace>/<service>:<port>`); in another namespace only when a
 * ReferenceGrant there allows it. gRPC needs HTTP/2 upstream: a GRPCRoute backend whose Service port
 * does not already say so (appProtocol grpc, h2c, kubernetes.io/h2c) gets an HTTP/2 twin of its
 * cluster with the same endpoints. Each failure carries the ResolvedRefs reason the spec gives it.
 */
import type { ClusterEndpointsIR, ClusterIR, MeshIR } from '@tendril/model';
import type { ReferenceGrantView } from '../../kube/gateway-api.js';
import { GATEWAY_GROUP } from '../../kube/gateway-api.js';
import type { BackendRefView, RouteKind } from '../../kube/routes.js';
import type { ServiceView } from '../../kube/service.js';
import { INVALID_BACKEND_CLUSTER, serviceClusterName, serviceHttp2ClusterName } from '../../names.js';
import { pushTo, type NamedLookup } from './collections.js';
import type { BackendTlsTable } from './backend-tls.js';

export type ResolvedRefsReason = 'RefNotPermitted' | 'InvalidKind' | 'BackendNotFound' | 'UnsupportedProtocol';

export type BackendResult = { ok: true; clusterName: string } | { ok: false; reason: ResolvedRefsReason; message: string };

export class BackendResolver {
  private readonly clusters: Map<string, ClusterIR>;
  /** Clusters this resolver made (HTTP/2 twins, the invalid-backend cluster): they exist while a route needs them. */
  readonly made = new Set<string>();
  private readonly grantsByNamespace = new Map<string, ReferenceGrantView[]>();
  /** BackendTLSPolicies in force (backend-tls.ts): their Services' ports are reached over TLS. */
  backendTls?: BackendTlsTable;

  constructor(
    private ir: MeshIR,
    private readonly services: NamedLookup<ServiceView>,
    grants: ReferenceGrantView[],
    /** TranslationContext.endpointsOf: the twin copies its cluster's endpoints. */
    private readonly endpointsOf: (clusterName: string) => ClusterEndpointsIR | undefined,
  ) {
    this.clusters = new Map(ir.clusters.map((cluster) => [cluster.name, cluster]));
    for (const grant of grants) pushTo(this.grantsByNamespace, grant.namespace, grant);
  }

  /**
   * Runs `run` with the clusters a resolution adds (an HTTP/2 twin, the invalid-backend cluster) going
   * to `ir` instead: patch/ resolves an edited route against the last pass's resolver and must see
   * whether it needs a cluster that pass did not make.
   */
  withIr<T>(ir: MeshIR, run: () => T): T {
    const kept = this.ir;
    this.ir = ir;
    try {
      return run();
    } finally {
      this.ir = kept;
    }
  }

  /** Whether a ReferenceGrant in `to.namespace` lets `from` refer to the object. */
  permitted(from: { group: string; kind: string; namespace: string }, to: { group: string; kind: string; namespace: string; name: string }): boolean {
    if (from.namespace === to.namespace) return true;
    const core = (group: string) => (group === 'core' ? '' : group);
    return (this.grantsByNamespace.get(to.namespace) ?? []).some(
      (grant) =>
        grant.from.some((f) => core(f.group) === core(from.group) && f.kind === from.kind && f.namespace === from.namespace) &&
        grant.to.some((t) => core(t.group) === core(to.group) && t.kind === to.kind && (t.name === undefined || t.name === to.name)),
    );
  }

  resolve(kind: RouteKind, routeNamespace: string, backend: BackendRefView): BackendResult {
    const namespace = backend.namespace ?? routeNamespace;
    const id = `${namespace}/${backend.name}`;
    if (!((backend.group === '' || backend.group === 'core') && backend.kind === 'Service')) {
      return { ok: false, reason: 'InvalidKind', message: `${backend.at}: ${backend.group || 'core'}/${backend.kind} is not a supported backend kind (only Service)` };
    }
    if (!this.permitted({ group: GATEWAY_GROUP, kind, namespace: routeNamespace }, { group: '', kind: 'Service', namespace, name: backend.name })) {
      return { ok: false, reason: 'RefNotPermitted', message: `${backend.at}: Service ${id} is in another namespace and no ReferenceGrant there allows it` };
    }
    const service = this.services.get(id);
    if (!service) return { ok: false, reason: 'BackendNotFound', message: `${backend.at}: Service ${id} not found` };
    if (backend.port === undefined) return { ok: false, reason: 'BackendNotFound', message: `${backend.at}.port: required for a Service backend` };
    const port = service.ports.find((candidate) => candidate.port === backend.port);
    if (!port) return { ok: false, reason: 'BackendNotFound', message: `${backend.at}.port: Service ${id} has no port ${backend.port}` };
    if (port.protocol !== 'TCP') return { ok: false, reason: 'UnsupportedProtocol', message: `${backend.at}.port: port ${backend.port} of Service ${id} is ${port.protocol}, not TCP` };
    const clusterName = serviceClusterName(namespace, backend.name, backend.port);
    const cluster = this.clusters.get(clusterName);
    if (!cluster) return { ok: false, reason: 'BackendNotFound', message: `${backend.at}: Service ${id} has no endpoints cluster (ExternalName Services are not supported)` };
    const name = kind !== 'GRPCRoute' || cluster.protocol !== 'HTTP1' ? clusterName : this.http2Twin(cluster, namespace, backend.name, backend.port);
    const policy = kind === 'TLSRoute' ? undefined : this.backendTls?.forPort(id, port.name);
    if (!policy) return { ok: true, clusterName: name };
    // a policy that cannot be enforced fails the connections rather than sending them in plaintext
    return { ok: true, clusterName: policy.tls ? this.tlsTwin(this.clusters.get(name)!, clusterName, policy.tls) : this.invalidCluster() };
  }

  /** The TLS twin of a cluster (same endpoints, those of the Service port's cluster `endpointsFrom`), made once. */
  private tlsTwin(cluster: ClusterIR, endpointsFrom: string, tls: NonNullable<ClusterIR['upstreamTls']>): string {
    const name = `${cluster.name}/tls`;
    if (this.clusters.has(name)) return name;
    const twin: ClusterIR = { ...cluster, name, upstreamTls: { ...tls } };
    this.clusters.set(name, twin);
    this.made.add(name);
    this.ir.clusters.push(twin);
    const endpoints = this.endpointsOf(endpointsFrom);
    this.ir.endpoints.push({ clusterName: name, endpoints: endpoints ? [...endpoints.endpoints] : [], source: cluster.source });
    return name;
  }

  /** The HTTP/2 twin of an HTTP/1 cluster (same endpoints), made once. */
  private http2Twin(cluster: ClusterIR, namespace: string, service: string, port: number): string {
    const name = serviceHttp2ClusterName(namespace, service, port);
    if (this.clusters.has(name)) return name;
    const twin: ClusterIR = { ...cluster, name, protocol: 'HTTP2' };
    this.clusters.set(name, twin);
    this.made.add(name);
    this.ir.clusters.push(twin);
    const endpoints = this.endpointsOf(cluster.name);
    this.ir.endpoints.push({ clusterName: name, endpoints: endpoints ? [...endpoints.endpoints] : [], source: cluster.source });
    return name;
  }

  /** The cluster without endpoints that invalid shares of a weighted route go to, made once. */
  invalidCluster(): string {
    if (!this.clusters.has(INVALID_BACKEND_CLUSTER)) {
      const source = { kind: 'GatewayClass', name: 'tendril' };
      const cluster: ClusterIR = { name: INVALID_BACKEND_CLUSTER, discovery: 'EDS', connectTimeoutMs: 5000, lbPolicy: 'ROUND_ROBIN', protocol: 'HTTP1', source };
      this.clusters.set(cluster.name, cluster);
      this.made.add(cluster.name);
      this.ir.clusters.push(cluster);
      this.ir.endpoints.push({ clusterName: cluster.name, endpoints: [], source });
    }
    return INVALID_BACKEND_CLUSTER;
  }
}
