/**
 * An incremental (delta) xDS client for tests and benchmarks: connects to DeltaAggregatedResources (or
 * a per-type Delta* service) like a proxy would, subscribes and unsubscribes per type, keeps the
 * resources it holds with their versions (so a reconnect can send initial_resource_versions), ACKs
 * automatically or NACKs on demand, can hold its ACKs back, and counts the bytes it received.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type TypedDiscoveryService,
  aggregatedDiscoveryService,
  unpackAny,
} from '@tendril/envoy';

export interface DeltaTestResponse {
  typeUrl: string;
  systemVersionInfo: string;
  nonce: string;
  /** Added or changed resources: name, version and the resource as proto3 JSON with its "@type". */
  resources: { name: string; version: string; resource: Record<string, unknown> }[];
  removedResources: string[];
  /** Whether the client ACKed (true) or NACKed (false) it; undefined while held back. */
  acked: boolean | undefined;
}

export interface DeltaTestClientOptions {
  nodeId: string;
  nodeCluster?: string;
  /** A per-type service instead of ADS. */
  service?: TypedDiscoveryService;
  /** Hold ACKs until release() (to watch what the server does meanwhile). */
  holdAcks?: boolean;
  /** Channel credentials (TLS, client certificate); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Skip decoding resources (benchmarks): resources then carry name and version only. */
  decode?: boolean;
}

interface Waiter {
  typeUrl: string;
  predicate: (response: DeltaTestResponse) => boolean;
  resolve: (response: DeltaTestResponse) => void;
}

export class DeltaTestClient {
  readonly responses: DeltaTestResponse[] = [];
  /** What the client holds, by type URL then name: the version. */
  readonly held = new Map<string, Map<string, string>>();
  /** Bytes of every response received (serialized DeltaDiscoveryResponse). */
  bytesReceived = 0;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  private readonly nackNext = new Map<string, string>();
  private readonly waiters = new Set<Waiter>();
  private readonly heldBack: DeltaTestResponse[] = [];
  private readonly started = new Set<string>();
  private ended: Error | undefined;
  /** Called on every response (after bookkeeping). */
  onResponse: ((response: DeltaTestResponse) => void) | undefined;

  constructor(
    address: string,
    private readonly options: DeltaTestClientOptions,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    const method = options.service?.delta ?? aggregatedDiscoveryService.DeltaAggregatedResources;
    const counting = {
      ...method,
      responseDeserialize: (bytes: Buffer) => {
        this.bytesReceived += bytes.length;
        return method.responseDeserialize(bytes);
      },
    };
    const Client = grpc.makeGenericClientConstructor({ Delta: counting }, options.service?.service ?? 'AggregatedDiscoveryService');
    this.client = new Client(address, options.credentials ?? grpc.credentials.createInsecure(), channelOptions);
    this.call = (this.client as unknown as { Delta: () => grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> }).Delta();
    this.call.on('data', (response: DeltaDiscoveryResponse) => this.receive(response));
    this.call.on('error', (error: Error) => (this.ended = error));
    this.call.on('end', () => (this.ended ??= new Error('stream ended')));
  }

  /**
   * Subscribes to names of a type ("*" or, on the first request, none for LDS/CDS = wildcard). The first
   * request of a type carries initial_resource_versions: what a reconnecting proxy already holds.
   */
  subscribe(typeUrl: string, names: string[] = [], initialResourceVersions: Record<string, string> = {}): void {
    const first = !this.started.has(typeUrl);
    this.started.add(typeUrl);
    if (first) this.held.set(typeUrl, new Map(Object.entries(initialResourceVersions)));
    this.send({ typeUrl, resourceNamesSubscribe: names, resourceNamesUnsubscribe: [], initialResourceVersions: first ? initialResourceVersions : {}, responseNonce: '' });
  }

  unsubscribe(typeUrl: string, names: string[]): void {
    for (const name of names) this.held.get(typeUrl)?.delete(name);
    this.send({ typeUrl, resourceNamesSubscribe: [], resourceNamesUnsubscribe: names, initialResourceVersions: {}, responseNonce: '' });
  }

  /** The versions held of a type, as a reconnect would send them. */
  versions(typeUrl: string): Record<string, string> {
    return Object.fromEntries(this.held.get(typeUrl) ?? []);
  }

  /** The next response of this type is NACKed with this message. */
  nack(typeUrl: string, message: string): void {
    this.nackNext.set(typeUrl, message);
  }

  /** ACKs (or NACKs) the responses held back so far, in order. */
  release(): void {
    for (const response of this.heldBack.splice(0)) this.answer(response);
  }

  get pendingAcks(): number {
    return this.heldBack.length;
  }

  waitFor(typeUrl: string, predicate: (response: DeltaTestResponse) => boolean = () => true, timeoutMs = 5000): Promise<DeltaTestResponse> {
    const seen = this.responses.find((r) => r.typeUrl === typeUrl && predicate(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { typeUrl, predicate, resolve };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const last = this.responses.findLast((r) => r.typeUrl === typeUrl);
        const why = this.ended ? ` (stream: ${this.ended.message})` : '';
        reject(new Error(`no matching delta ${typeUrl} response within ${timeoutMs} ms${why}; last: ${JSON.stringify(last ?? null)}`));
      }, timeoutMs);
      waiter.resolve = (response) => {
        clearTimeout(timer);
        resolve(response);
      };
      this.waiters.add(waiter);
    });
  }

  /** Why the stream ended (a refusal's status), once it has. */
  get streamError(): Error | undefined {
    return this.ended;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private send(request: Omit<DeltaDiscoveryRequest, 'node'>): void {
    this.call.write({ ...request, node: { id: this.options.nodeId, cluster: this.options.nodeCluster ?? '' } });
  }

  private receive(response: DeltaDiscoveryResponse): void {
    const decode = this.options.decode ?? true;
    const decoded: DeltaTestResponse = {
      typeUrl: response.typeUrl,
      systemVersionInfo: response.systemVersionInfo,
      nonce: response.nonce,
      resources: response.resources.map((r) => ({ name: r.name, version: r.version, resource: decode && r.resource ? unpackAny(r.resource) : {} })),
      removedResources: response.removedResources,
      acked: undefined,
    };
    this.responses.push(decoded);
    if (this.options.holdAcks) this.heldBack.push(decoded);
    else this.answer(decoded);
    this.onResponse?.(decoded);
    for (const waiter of [...this.waiters]) {
      if (waiter.typeUrl === decoded.typeUrl && waiter.predicate(decoded)) {
        this.waiters.delete(waiter);
        waiter.resolve(decoded);
      }
    }
  }

  private answer(response: DeltaTestResponse): void {
    const nack = this.nackNext.get(response.typeUrl);
    this.nackNext.delete(response.typeUrl);
    response.acked = nack === undefined;
    const base = { typeUrl: response.typeUrl, resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], initialResourceVersions: {}, responseNonce: response.nonce };
    if (nack !== undefined) return this.send({ ...base, errorDetail: { code: 3, message: nack } });
    let held = this.held.get(response.typeUrl);
    if (!held) this.held.set(response.typeUrl, (held = new Map()));
    for (const resource of response.resources) held.set(resource.name, resource.version);
    for (const name of response.removedResources) held.delete(name);
    this.send(base);
  }
}
