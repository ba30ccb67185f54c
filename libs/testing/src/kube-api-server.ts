/**
 * A small Kubernetes API server for tests, speaking the real list/watch protocol over HTTP so the real
 * @kubernetes/client-node is exercised, never stubbed. It copies what a real kube-apiserver does, each
 * behaviour commented where it happens:
 * - lists of built-in kinds leave `apiVersion` and `kind` off their items (the list carries them);
 *   custom resources keep them, with the version the request named;
 * - lists honour `limit` and `continue`; a list's resourceVersion is the store's, each item its own;
 * - watches are chunked streams of JSON lines: from resourceVersion "" or "0" every current object
 *   comes first as ADDED, from a later one the history after it is replayed; one older than the
 *   history answers an ERROR event with 410 Expired ("too old resource version"); a watch ends after
 *   `timeoutSeconds`; BOOKMARKs are sent only to watches that asked (`allowWatchBookmarks=true`) and
 *   only by a server with a watch cache (`watchCache`, on by default);
 * - objects are read, created (409 AlreadyExists), replaced and merge-patched, with the status
 *   subresource (status only; the main resource never changes status) and resourceVersion
 *   preconditions (409 Conflict: what two Lease candidates meet); generation moves with the spec;
 * - admission (kube-admission.ts): EndpointSlice addresses in the loopback range and other special
 *   ranges are refused (422 Invalid naming the field); custom resources installed with their CRD
 *   (installCrd) are pruned of fields their schema lacks and defaulted.
 * Not reproduced (assumptions, see also kube-admission.ts): authentication and RBAC (every token may
 * do everything); server-side apply; garbage collection; finalizers; list `resourceVersion` /
 * `resourceVersionMatch` (a list is always the latest state); a watch from a resourceVersion newer
 * than the store's (a real server waits up to a few seconds, then answers 504); the periodic
 * bookmark interval of a real watch cache (about a minute; here `bookmarkIntervalMs`); conversion
 * webhooks (every served version of a kind is the same object under another apiVersion).
 *
 * Test hooks change the world behind the client's back: objects changed directly, watches dropped or
 * silenced, history compacted, a kind served or not (a CRD installed or not), conflicts injected,
 * the whole server stopped and started again on its port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { KubeInvalidError, pruneAndDefault, validateBuiltIn, type StructuralSchema } from './kube-admission.js';
import { matchesLabels, ownerUids, serverSideApply } from './kube-apply.js';

export interface KubeResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** A custom resource (served because a CRD is installed): list items keep apiVersion and kind. */
  custom?: boolean;
  /** The CRD version's openAPIV3Schema: custom resources are pruned and defaulted by it. */
  schema?: StructuralSchema;
}

export interface KubeObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObjectLike;
}

interface OpenWatch {
  type: KubeResourceType;
  namespace?: string;
  response: ServerResponse;
  silenced: boolean;
  bookmarks: boolean;
  timers: NodeJS.Timeout[];
}

/** The kinds of a cluster with Gateway API (v1 and v1alpha2 TLSRoute) and Cilium's CRDs installed. */
export const STANDARD_RESOURCE_TYPES: readonly KubeResourceType[] = [
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', kind: 'IngressClass', namespaced: false },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses', kind: 'GatewayClass', namespaced: false, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways', kind: 'Gateway', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'grpcroutes', kind: 'GRPCRoute', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1alpha2', plural: 'tlsroutes', kind: 'TLSRoute', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'tcproutes', kind: 'TCPRoute', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'udproutes', kind: 'UDPRoute', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'backendtlspolicies', kind: 'BackendTLSPolicy', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'listenersets', kind: 'ListenerSet', namespaced: true, custom: true },
  { group: 'gateway.networking.k8s.io', version: 'v1beta1', plural: 'referencegrants', kind: 'ReferenceGrant', namespaced: true, custom: true },
  { group: 'cilium.io', version: 'v2', plural: 'ciliumenvoyconfigs', kind: 'CiliumEnvoyConfig', namespaced: true, custom: true },
  { group: 'cilium.io', version: 'v2', plural: 'ciliumclusterwideenvoyconfigs', kind: 'CiliumClusterwideEnvoyConfig', namespaced: false, custom: true },
  { group: 'cilium.io', version: 'v2', plural: 'ciliumnetworkpolicies', kind: 'CiliumNetworkPolicy', namespaced: true, custom: true },
  { group: 'cilium.io', version: 'v2', plural: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy', namespaced: false, custom: true },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
];

export interface KubeApiServerOptions {
  /** Port to listen on (0: a free one); a fixed port lets a test start the server after its client. */
  port?: number;
  types?: readonly KubeResourceType[];
  /** How often an open watch that asked for bookmarks gets one. */
  bookmarkIntervalMs?: number;
  /**
   * Whether the server runs with a watch cache (a real kube-apiserver's default, `--watch-cache`):
   * without one, watches are served from etcd and get no BOOKMARKs even when they ask.
   */
  watchCache?: boolean;
  /** Events kept for watches to resume from; older resourceVersions get 410 Gone. */
  historyLimit?: number;
  /** How long after a delete (or a create) the garbage collector looks for dependents whose owners are gone (kube-apply.ts). */
  gcDelayMs?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  authorization?: string;
}

const STATUS_KINDS: Record<number, string> = { 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 500: 'InternalError', 422: 'Invalid' };

export class KubeApiServer {
  readonly server: Server;
  private readonly served = new Map<string, KubeResourceType>();
  private readonly store = new Map<string, Map<string, KubeObjectLike>>();
  private history: WatchEvent[] = [];
  private oldestResumable = 0;
  private revision = 1;
  private readonly watches = new Set<OpenWatch>();
  private heldWatches: (() => void)[] = [];
  private holdingWatches = false;
  private pendingConflicts = 0;
  /** Server-side apply: each manager's last applied configuration, by manager and object. */
  private readonly applied = new Map<string, Record<string, unknown>>();
  private gcTimer?: NodeJS.Timeout;
  private failing = 0;
  readonly requests: RequestRecord[] = [];
  port = 0;

  constructor(private readonly options: KubeApiServerOptions = {}) {
    this.port = options.port ?? 0;
    for (const type of options.types ?? STANDARD_RESOURCE_TYPES) this.serve(type);
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: Error) => this.reply(response, request, 500, status(500, error.message)));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      // a restart after close() comes back on the same port, as an API server behind a fixed address
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.dropWatches();
    for (const release of this.heldWatches.splice(0)) release();
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A kubeconfig (YAML) for this server, as a file `KUBECONFIG` may name. */
  kubeconfig(token = 'test-token'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      // client-node refuses plain HTTP unless TLS verification is off; this server speaks HTTP on loopback
      'clusters: [{name: test, cluster: {server: "' + this.url + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: test, user: {token: ' + token + '}}]',
      'contexts: [{name: test, context: {cluster: test, user: test, namespace: default}}]',
      'current-context: test',
      '',
    ].join('\n');
  }

  // --- test hooks -------------------------------------------------------------------------------

  /** Installs a kind (a CRD being applied); its list and watch answer from now on. */
  serve(type: KubeResourceType): void {
    this.served.set(typeKey(type.group, type.version, type.plural), type);
    if (!this.store.has(storeKey(type))) this.store.set(storeKey(type), new Map());
  }

  /**
   * Applies a CustomResourceDefinition (apiextensions.k8s.io/v1, as a manifest): each served version
   * answers from now on with the version's schema (pruning and defaulting); versions no longer served
   * answer 404. Objects of the kind are kept across versions.
   */
  installCrd(crd: { spec: { group: string; names: { kind: string; plural: string }; scope: string; versions: { name: string; served: boolean; schema?: { openAPIV3Schema?: StructuralSchema } }[] } }): void {
    const { group, names, scope, versions } = crd.spec;
    for (const [key, type] of this.served) if (type.group === group && type.kind === names.kind) this.served.delete(key);
    for (const version of versions) {
      if (!version.served) continue;
      const schema = version.schema?.openAPIV3Schema;
      this.serve({ group, version: version.name, plural: names.plural, kind: names.kind, namespaced: scope === 'Namespaced', custom: true, ...(schema ? { schema } : {}) });
    }
  }

  /** Removes a kind from discovery: its list and watch answer 404, as for a CRD not installed. */
  unserve(kind: string): void {
    for (const [key, type] of this.served) if (type.kind === kind) this.served.delete(key);
    // a real server ends the open watches of a kind whose CRD goes away
    for (const watch of [...this.watches]) if (watch.type.kind === kind) this.endWatch(watch, false);
  }

  /**
   * Creates an object as another client would: admission applies (422 Invalid is thrown as
   * KubeInvalidError). `raw` stores it as given, as data written before a rule existed or straight to
   * etcd: what a client must survive reading.
   */
  create(object: KubeObjectLike, options: { raw?: boolean } = {}): KubeObjectLike {
    const type = this.typeOf(object);
    const objects = this.store.get(storeKey(type))!;
    const id = objectId(object.metadata.namespace, object.metadata.name);
    if (objects.has(id)) throw new Error(`${id} exists`);
    const stored = this.stamp(type, this.admit(type, structuredClone(object), options.raw), undefined);
    objects.set(id, stored);
    this.record('ADDED', type, stored);
    if (ownerUids(stored).length) this.scheduleGarbageCollection(); // an owner that does not exist: collected
    return structuredClone(stored);
  }

  /** Replaces an object as another client would; generation moves when anything but status and metadata does. */
  update(object: KubeObjectLike, options: { raw?: boolean } = {}): KubeObjectLike {
    const type = this.typeOf(object);
    const objects = this.store.get(storeKey(type))!;
    const id = objectId(object.metadata.namespace, object.metadata.name);
    const current = objects.get(id);
    if (!current) throw new Error(`${id} does not exist`);
    const admitted = this.admit(type, structuredClone(object), options.raw);
    // a real server does not store a write that changes nothing (after admission): no new
    // resourceVersion, no watch event (a status the server prunes back to what it holds is such a write)
    if (sameContent(admitted, current)) return structuredClone(current);
    const stored = this.stamp(type, admitted, current);
    objects.set(id, stored);
    this.record('MODIFIED', type, stored);
    return structuredClone(stored);
  }

  remove(kind: string, namespace: string | undefined, name: string): void {
    const type = [...this.served.values(), ...STANDARD_RESOURCE_TYPES].find((t) => t.kind === kind);
    if (!type) throw new Error(`unknown kind ${kind}`);
    const objects = this.store.get(storeKey(type));
    const current = objects?.get(objectId(namespace, name));
    if (!current) return;
    objects!.delete(objectId(namespace, name));
    this.revision++;
    const gone = { ...current, metadata: { ...current.metadata, resourceVersion: String(this.revision) } };
    this.record('DELETED', type, gone);
    for (const key of [...this.applied.keys()]) if (key.endsWith(`|${storeKey(type)}|${objectId(namespace, name)}`)) this.applied.delete(key);
    this.scheduleGarbageCollection();
  }

  /** Every stored object of a kind (copies), as a list would return them. */
  listObjects(kind: string): KubeObjectLike[] {
    const type = [...this.served.values(), ...STANDARD_RESOURCE_TYPES].find((t) => t.kind === kind);
    return type ? [...(this.store.get(storeKey(type))?.values() ?? [])].map((object) => structuredClone(object)) : [];
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObjectLike | undefined {
    const type = [...this.served.values(), ...STANDARD_RESOURCE_TYPES].find((t) => t.kind === kind);
    const found = type && this.store.get(storeKey(type))?.get(objectId(namespace, name));
    return found && structuredClone(found);
  }

  /** Forgets the event history: a watch resuming from any earlier resourceVersion gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.oldestResumable = this.revision;
  }

  /** Ends every open watch stream abruptly (a dropped connection mid-stream). */
  dropWatches(): number {
    const count = this.watches.size;
    for (const watch of [...this.watches]) this.endWatch(watch, true);
    return count;
  }

  /**
   * Open watches stay connected but receive nothing more, not even bookmarks or their end at
   * timeoutSeconds (a half-open connection: whatever the server sends never arrives).
   */
  silenceWatches(): void {
    for (const watch of this.watches) watch.silenced = true;
  }

  /** New watch requests get no answer until releaseWatches() (the server unreachable for watches). */
  holdWatches(): void {
    this.holdingWatches = true;
  }

  releaseWatches(): void {
    this.holdingWatches = false;
    for (const release of this.heldWatches.splice(0)) release();
  }

  /** The next `count` writes to a status subresource meet a concurrent writer: the object moves, 409. */
  injectStatusConflicts(count: number): void {
    this.pendingConflicts += count;
  }

  /** The next `count` requests of any kind answer 500. */
  failRequests(count: number): void {
    this.failing += count;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    if (this.failing > 0) {
      this.failing--;
      return this.reply(response, request, 500, status(500, 'injected failure'));
    }
    const route = this.route(url.pathname);
    if (!route) return this.reply(response, request, 404, status(404, `the server could not find the requested resource (${url.pathname})`));
    const { type, namespace, name, subresource } = route;
    const objects = this.store.get(storeKey(type))!;
    if (method === 'GET' && !name) {
      const watching = url.searchParams.get('watch');
      if (watching === 'true' || watching === '1') return this.watch(request, response, type, namespace, url.searchParams);
      return this.list(request, response, type, namespace, url.searchParams);
    }
    const body = method === 'GET' || method === 'DELETE' ? undefined : ((await readJson(request)) as KubeObjectLike);
    if (method === 'POST' && !name) {
      if (!body?.metadata?.name) return this.reply(response, request, 422, status(422, 'metadata.name is required'));
      body.metadata.namespace = type.namespaced ? namespace : undefined;
      if (objects.has(objectId(body.metadata.namespace, body.metadata.name))) {
        return this.reply(response, request, 409, status(409, `${type.plural} "${body.metadata.name}" already exists`, 'AlreadyExists'));
      }
      return this.admitted(request, response, 201, () => this.create({ ...body, apiVersion: apiVersionOf(type), kind: type.kind }));
    }
    if (!name) return this.reply(response, request, 405, status(405, 'method not allowed'));
    const id = objectId(namespace, name);
    const current = objects.get(id);
    if (method === 'PATCH' && !subresource && (request.headers['content-type'] ?? '').includes('apply-patch')) return this.apply(request, response, type, namespace, name, current, body!, url.searchParams);
    if (!current) return this.reply(response, request, 404, status(404, `${type.plural} "${name}" not found`));
    if (method === 'GET') return this.reply(response, request, 200, served(type, current));
    if (method === 'DELETE') {
      this.remove(type.kind, namespace, name);
      return this.reply(response, request, 200, status(200, 'deleted', 'Success'));
    }
    if (method !== 'PUT' && method !== 'PATCH') return this.reply(response, request, 405, status(405, 'method not allowed'));
    let next: KubeObjectLike;
    if (method === 'PUT') next = body!;
    else {
      const contentType = request.headers['content-type'] ?? '';
      if (!contentType.includes('merge-patch')) return this.reply(response, request, 415, status(415, `unsupported patch type ${contentType}`));
      next = mergePatch(structuredClone(current), body) as KubeObjectLike;
    }
    const precondition = (method === 'PUT' ? body?.metadata?.resourceVersion : (body?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion) ?? undefined;
    if (subresource === 'status' && this.pendingConflicts > 0) {
      this.pendingConflicts--;
      // another writer gets there first: the object moves on, this write is stale
      this.update({ ...current, metadata: { ...current.metadata, annotations: { ...(current.metadata['annotations'] as object), 'test/concurrent-writer': String(this.revision) } } });
      return this.reply(response, request, 409, status(409, `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`));
    }
    if (precondition !== undefined && precondition !== current.metadata.resourceVersion) {
      return this.reply(response, request, 409, status(409, `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`));
    }
    // the status subresource changes status only; the main resource never changes status
    const merged: KubeObjectLike =
      subresource === 'status' ? { ...current, status: next['status'] } : { ...next, metadata: { ...next.metadata, name, namespace: current.metadata.namespace }, status: current['status'] };
    if (merged['status'] === undefined) delete merged['status'];
    return this.admitted(request, response, 200, () => this.update({ ...merged, apiVersion: apiVersionOf(type), kind: type.kind }));
  }

  /** A write through admission: 422 Invalid with the refused fields, else the stored object as this version serves it. */
  private admitted(request: IncomingMessage, response: ServerResponse, code: number, write: () => KubeObjectLike): void {
    let stored: KubeObjectLike;
    try {
      stored = write();
    } catch (error) {
      if (error instanceof KubeInvalidError) return this.reply(response, request, 422, error.status());
      throw error;
    }
    const type = this.typeOf(stored);
    return this.reply(response, request, code, served(type, stored));
  }

  private list(request: IncomingMessage, response: ServerResponse, type: KubeResourceType, namespace: string | undefined, params: URLSearchParams): void {
    const fieldSelector = params.get('fieldSelector') ?? undefined;
    const objects = this.store.get(storeKey(type))!;
    let items = [...objects.values()].filter((o) => (!namespace || o.metadata.namespace === namespace) && matchesFields(o, fieldSelector) && matchesLabels(o, params.get('labelSelector')));
    items.sort((a, b) => objectId(a.metadata.namespace, a.metadata.name).localeCompare(objectId(b.metadata.namespace, b.metadata.name)));
    // limit and continue: a page, and a token to the next (here the last id served; a real server's token is opaque)
    const after = params.get('continue');
    if (after) items = items.filter((o) => objectId(o.metadata.namespace, o.metadata.name) > Buffer.from(after, 'base64url').toString());
    const limit = Number(params.get('limit') ?? '0');
    const metadata: Record<string, string> = { resourceVersion: this.resourceVersion };
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      const last = items[items.length - 1]!;
      metadata['continue'] = Buffer.from(objectId(last.metadata.namespace, last.metadata.name)).toString('base64url');
    }
    // a real server leaves TypeMeta off the items of a built-in kind's list: the list's own apiVersion
    // and kind say what they are; custom resources keep theirs
    const shown = items.map((item) => {
      const out = served(type, item);
      if (type.custom) return out;
      const { apiVersion: _apiVersion, kind: _kind, ...rest } = out;
      return rest as KubeObjectLike;
    });
    return this.reply(response, request, 200, { apiVersion: apiVersionOf(type), kind: `${type.kind}List`, metadata, items: shown });
  }

  /** Server-side apply (kube-apply.ts says what is reproduced and what is not). */
  private apply(request: IncomingMessage, response: ServerResponse, type: KubeResourceType, namespace: string | undefined, name: string, current: KubeObjectLike | undefined, body: KubeObjectLike, params: URLSearchParams): void {
    const manager = params.get('fieldManager');
    if (!manager) return this.reply(response, request, 422, status(422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'));
    if (body.kind !== type.kind || body.apiVersion !== apiVersionOf(type)) return this.reply(response, request, 400, status(400, `the API version in the data (${body.apiVersion}) and kind (${body.kind}) do not match ${apiVersionOf(type)} ${type.kind}`, 'BadRequest'));
    const appliedKey = `${manager}|${storeKey(type)}|${objectId(namespace, name)}`;
    const next = serverSideApply(current as Record<string, unknown> | undefined, body as Record<string, unknown>, current ? this.applied.get(appliedKey) : undefined) as KubeObjectLike;
    next.metadata = { ...next.metadata, name, ...(type.namespaced ? { namespace } : {}) };
    this.applied.set(appliedKey, structuredClone(body) as Record<string, unknown>);
    if (!current) return this.admitted(request, response, 201, () => this.create({ ...next, apiVersion: apiVersionOf(type), kind: type.kind }));
    if (JSON.stringify(next) === JSON.stringify(current)) return this.reply(response, request, 200, served(type, current)); // a no-op apply changes nothing, not even resourceVersion
    return this.admitted(request, response, 200, () => this.update({ ...next, apiVersion: apiVersionOf(type), kind: type.kind }));
  }

  /** What the garbage collector does some time after an owner goes: dependents all of whose owners are gone go too. */
  private scheduleGarbageCollection(): void {
    if (this.gcTimer) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      const uids = new Set<string>();
      for (const objects of this.store.values()) for (const object of objects.values()) uids.add(object.metadata['uid'] as string);
      for (const objects of this.store.values()) {
        for (const object of [...objects.values()]) {
          const owners = ownerUids(object);
          if (owners.length && owners.every((uid) => !uids.has(uid))) this.remove(String(object.kind), object.metadata.namespace, object.metadata.name);
        }
      }
    }, this.options.gcDelayMs ?? 100);
    this.gcTimer.unref();
  }

  private watch(request: IncomingMessage, response: ServerResponse, type: KubeResourceType, namespace: string | undefined, params: URLSearchParams): void {
    const begin = () => {
      if (response.destroyed) return;
      const from = params.get('resourceVersion') ?? '';
      // bookmarks come from the watch cache, and only to watches that ask for them
      const bookmarks = params.get('allowWatchBookmarks') === 'true' && this.options.watchCache !== false;
      const watch: OpenWatch = { type, namespace, response, silenced: false, bookmarks, timers: [] };
      response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      this.requests.push({ method: 'WATCH', path: request.url ?? '', status: 200, authorization: request.headers.authorization });
      const send = (event: object) => response.write(`${JSON.stringify(event)}\n`);
      if (from === '' || from === '0') {
        for (const object of this.store.get(storeKey(type))!.values()) if (!namespace || object.metadata.namespace === namespace) send({ type: 'ADDED', object: served(type, object) });
      } else {
        const since = Number(from);
        if (!Number.isInteger(since) || since < this.oldestResumable) {
          send({ type: 'ERROR', object: status(410, `too old resource version: ${from} (${this.oldestResumable})`) });
          response.end();
          return;
        }
        for (const event of this.history) {
          if (event.rv > since && sameType(event.object, type) && (!namespace || event.object.metadata.namespace === namespace)) send({ type: event.type, object: served(type, event.object) });
        }
      }
      this.watches.add(watch);
      response.on('close', () => this.endWatch(watch, false));
      const timeout = Number(params.get('timeoutSeconds') ?? '0');
      if (timeout > 0) watch.timers.push(setTimeout(() => !watch.silenced && this.endWatch(watch, false), timeout * 1000));
      if (watch.bookmarks) {
        watch.timers.push(
          setInterval(() => {
            if (!watch.silenced) send({ type: 'BOOKMARK', object: { apiVersion: apiVersionOf(type), kind: type.kind, metadata: { resourceVersion: this.resourceVersion } } });
          }, this.options.bookmarkIntervalMs ?? 1000),
        );
      }
    };
    if (this.holdingWatches) this.heldWatches.push(begin);
    else begin();
  }

  private endWatch(watch: OpenWatch, abrupt: boolean): void {
    if (!this.watches.delete(watch)) return;
    for (const timer of watch.timers) clearTimeout(timer);
    if (abrupt) watch.response.destroy();
    else watch.response.end();
  }

  private reply(response: ServerResponse, request: IncomingMessage, code: number, body: unknown): void {
    this.requests.push({ method: request.method ?? 'GET', path: request.url ?? '', status: code, authorization: request.headers.authorization });
    response.writeHead(code, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  private route(path: string): { type: KubeResourceType; namespace?: string; name?: string; subresource?: string } | undefined {
    const parts = path.split('/').filter(Boolean);
    let group: string;
    let rest: string[];
    if (parts[0] === 'api') [group, rest] = ['', parts.slice(1)];
    else if (parts[0] === 'apis' && parts.length >= 2) [group, rest] = [parts[1]!, parts.slice(2)];
    else return undefined;
    const [version, ...tail] = rest;
    let namespace: string | undefined;
    if (tail[0] === 'namespaces' && tail.length >= 3) {
      namespace = tail[1];
      tail.splice(0, 2);
    }
    const [plural, name, subresource] = tail;
    const type = version && plural ? this.served.get(typeKey(group, version, plural)) : undefined;
    if (!type || (namespace && !type.namespaced) || (subresource && subresource !== 'status')) return undefined;
    return { type, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) };
  }

  private typeOf(object: KubeObjectLike): KubeResourceType {
    const type = [...this.served.values(), ...STANDARD_RESOURCE_TYPES].find((t) => t.kind === object.kind && apiVersionOf(t) === object.apiVersion);
    if (!type) throw new Error(`kind ${object.apiVersion}/${object.kind} not known to the test API server`);
    if (!this.store.has(storeKey(type))) this.store.set(storeKey(type), new Map());
    return type;
  }

  /** Admission before storage: validation of built-in kinds, pruning and defaulting of custom resources. */
  private admit(type: KubeResourceType, object: KubeObjectLike, raw = false): KubeObjectLike {
    if (raw) return object;
    const causes = validateBuiltIn(type.group, type.kind, object);
    if (causes.length > 0) throw new KubeInvalidError(type.kind, type.group, object.metadata.name, causes);
    if (type.custom && type.schema) pruneAndDefault(object, type.schema);
    return object;
  }

  private stamp(type: KubeResourceType, object: KubeObjectLike, current: KubeObjectLike | undefined): KubeObjectLike {
    this.revision++;
    const { status: _status, metadata: _metadata, ...spec } = object;
    const { status: _old, metadata: _oldMetadata, ...oldSpec } = current ?? ({ metadata: { name: "" } } as KubeObjectLike);
    const specChanged = !current || JSON.stringify(spec) !== JSON.stringify(oldSpec);
    const generation = ((current?.metadata['generation'] as number | undefined) ?? 0) + (specChanged ? 1 : 0);
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    object.metadata = {
      ...object.metadata,
      ...(type.namespaced ? { namespace: object.metadata.namespace ?? 'default' } : {}),
      uid: (current?.metadata['uid'] as string | undefined) ?? randomUUID(),
      resourceVersion: String(this.revision),
      generation,
      creationTimestamp: (current?.metadata['creationTimestamp'] as string | undefined) ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    if (!type.namespaced) delete object.metadata.namespace;
    return object;
  }

  private record(kind: WatchEvent['type'], type: KubeResourceType, object: KubeObjectLike): void {
    const event: WatchEvent = { rv: this.revision, type: kind, object: structuredClone(object) };
    this.history.push(event);
    const limit = this.options.historyLimit ?? 100_000;
    if (this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      this.oldestResumable = dropped[dropped.length - 1]!.rv;
    }
    for (const watch of this.watches) {
      if (watch.silenced || storeKey(watch.type) !== storeKey(type)) continue;
      if (watch.namespace && object.metadata.namespace !== watch.namespace) continue;
      watch.response.write(`${JSON.stringify({ type: kind, object: served(watch.type, event.object) })}\n`);
    }
  }
}

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  return new KubeApiServer(options).start();
}

function typeKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

/** Objects of a kind are stored once whatever version serves them. */
function storeKey(type: KubeResourceType): string {
  return `${type.group}/${type.plural}`;
}

function apiVersionOf(type: KubeResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** An object as the version a request named serves it: every served version is the same object under its own apiVersion. */
function served(type: KubeResourceType, object: KubeObjectLike): KubeObjectLike {
  return object.apiVersion === apiVersionOf(type) ? object : { ...object, apiVersion: apiVersionOf(type) };
}

/** Equal but for what the server sets itself (resourceVersion, uid, generation, creationTimestamp, managedFields). */
function sameContent(next: KubeObjectLike, current: KubeObjectLike): boolean {
  const content = (object: KubeObjectLike) => {
    const { resourceVersion: _rv, uid: _uid, generation: _generation, creationTimestamp: _created, managedFields: _managed, ...metadata } = object.metadata;
    const { apiVersion: _apiVersion, ...rest } = object;
    return sortedJson({ ...rest, metadata });
  };
  return content(next) === content(current);
}

function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );
}

function sameType(object: KubeObjectLike, type: KubeResourceType): boolean {
  return object.kind === type.kind && (object.apiVersion ?? '').split('/').length === (type.group ? 2 : 1) && (object.apiVersion ?? '').startsWith(type.group);
}

function objectId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function status(code: number, message: string, reason = STATUS_KINDS[code] ?? 'Unknown'): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, code };
}

/** `field=value` selectors joined by commas, on dotted paths (`type=kubernetes.io/tls`, `metadata.name=x`). */
function matchesFields(object: KubeObjectLike, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const negate = term.includes('!=');
    const [path, value] = term.split(negate ? '!=' : /==?/) as [string, string];
    let current: unknown = object;
    for (const part of path.split('.')) current = (current as Record<string, unknown> | undefined)?.[part];
    return negate ? String(current) !== value : String(current) === value;
  });
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}
