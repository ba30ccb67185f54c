/**
 * A state-of-the-world ADS client for tests: connects to an xDS server like a proxy would, subscribes
 * per type (by name or wildcard), decodes responses to proto3 JSON, ACKs them automatically or NACKs
 * on demand, and lets a test wait for a response that satisfies a predicate.
 */
import * as grpc from '@grpc/grpc-js';
import { type DiscoveryRequest, type DiscoveryResponse, type TypedDiscoveryService, aggregatedDiscoveryService, unpackAny } from '@tendril/envoy';

export interface AdsTestResponse {
  typeUrl: string;
  versionInfo: string;
  nonce: string;
  /** Each resource as proto3 JSON with its "@type". */
  resources: Record<string, unknown>[];
  /** Whether the client ACKed (true) or NACKed (false) it. */
  acked: boolean;
}

export interface AdsTestClientOptions {
  nodeId: string;
  nodeCluster?: string;
  /** A per-type service (StreamClusters, ...) instead of ADS. */
  service?: TypedDiscoveryService;
  /** Channel credentials (TLS, client certificate); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Skip decoding resources (benchmarks). */
  decode?: boolean;
}

interface Waiter {
  typeUrl: string;
  predicate: (response: AdsTestResponse) => boolean;
  resolve: (response: AdsTestResponse) => void;
}

export class AdsTestClient {
  readonly responses: AdsTestResponse[] = [];
  /** Bytes of every response received (serialized DiscoveryResponse). */
  bytesReceived = 0;
  /** Called on every response (after it is answered). */
  onResponse: ((response: AdsTestResponse) => void) | undefined;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private readonly names = new Map<string, string[]>();
  private readonly acked = new Map<string, string>();
  private readonly nackNext = new Map<string, string>();
  private readonly waiters = new Set<Waiter>();
  private ended: Error | undefined;

  constructor(
    address: string,
    private readonly options: AdsTestClientOptions,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    const method = options.service?.stream ?? aggregatedDiscoveryService.StreamAggregatedResources;
    const counting = {
      ...method,
      responseDeserialize: (bytes: Buffer) => {
        this.bytesReceived += bytes.length;
        return method.responseDeserialize(bytes);
      },
    };
    const Client = grpc.makeGenericClientConstructor({ Stream: counting }, options.service?.service ?? 'AggregatedDiscoveryService');
    this.client = new Client(address, options.credentials ?? grpc.credentials.createInsecure(), channelOptions);
    this.call = (this.client as unknown as { Stream: () => grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).Stream();
    this.call.on('data', (response: DiscoveryResponse) => this.receive(response));
    this.call.on('error', (error: Error) => (this.ended = error));
    this.call.on('end', () => (this.ended ??= new Error('stream ended')));
  }

  /** Subscribes to a type: names, or none for a wildcard; a later call replaces the names. */
  subscribe(typeUrl: string, names: string[] = []): void {
    const first = !this.names.has(typeUrl);
    this.names.set(typeUrl, [...names]);
    const lastNonce = first ? '' : (this.responses.findLast((r) => r.typeUrl === typeUrl)?.nonce ?? '');
    this.send({ typeUrl, resourceNames: names, versionInfo: this.acked.get(typeUrl) ?? '', responseNonce: lastNonce });
  }

  /** The next response of this type is NACKed with this message instead of ACKed. */
  nack(typeUrl: string, message: string): void {
    this.nackNext.set(typeUrl, message);
  }

  /** Resolves with the first response (already received or coming) of the type that matches. */
  waitFor(typeUrl: string, predicate: (response: AdsTestResponse) => boolean = () => true, timeoutMs = 5000): Promise<AdsTestResponse> {
    const seen = this.responses.find((r) => r.typeUrl === typeUrl && predicate(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { typeUrl, predicate, resolve };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const last = this.responses.findLast((r) => r.typeUrl === typeUrl);
        const why = this.ended ? ` (stream: ${this.ended.message})` : '';
        reject(new Error(`no matching ${typeUrl} response within ${timeoutMs} ms${why}; last: ${JSON.stringify(last ?? null)}`));
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

  private send(request: Omit<DiscoveryRequest, 'node'> & { errorDetail?: { code: number; message: string } }): void {
    this.call.write({ ...request, node: { id: this.options.nodeId, cluster: this.options.nodeCluster ?? '' } });
  }

  private receive(response: DiscoveryResponse): void {
    const nack = this.nackNext.get(response.typeUrl);
    this.nackNext.delete(response.typeUrl);
    const decoded: AdsTestResponse = {
      typeUrl: response.typeUrl,
      versionInfo: response.versionInfo,
      nonce: response.nonce,
      resources: (this.options.decode ?? true) ? response.resources.map((any) => unpackAny(any)) : [],
      acked: nack === undefined,
    };
    this.responses.push(decoded);
    const names = this.names.get(response.typeUrl) ?? [];
    if (nack === undefined) {
      this.acked.set(response.typeUrl, response.versionInfo);
      this.send({ typeUrl: response.typeUrl, resourceNames: names, versionInfo: response.versionInfo, responseNonce: response.nonce });
    } else {
      const previous = this.acked.get(response.typeUrl) ?? '';
      this.send({ typeUrl: response.typeUrl, resourceNames: names, versionInfo: previous, responseNonce: response.nonce, errorDetail: { code: 3, message: nack } });
    }
    this.onResponse?.(decoded);
    for (const waiter of [...this.waiters]) {
      if (waiter.typeUrl === response.typeUrl && waiter.predicate(decoded)) {
        this.waiters.delete(waiter);
        waiter.resolve(decoded);
      }
    }
  }
}
