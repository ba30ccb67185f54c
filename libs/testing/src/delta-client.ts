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
import { XdsTestStream, type XdsTestStreamOptions } from './xds-test-stream.js';

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

export interface DeltaTestClientOptions extends XdsTestStreamOptions {
  /** A per-type service instead of ADS. */
  service?: TypedDiscoveryService;
  /** Hold ACKs until release() (to watch what the server does meanwhile). */
  holdAcks?: boolean;
  /** Skip decoding resources (benchmarks): resources then carry name and version only. */
  decode?: boolean;
}

export class DeltaTestClient extends XdsTestStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse, DeltaTestResponse> {
  /** What the client holds, by type URL then name: the version. */
  readonly held = new Map<string, Map<string, string>>();
  private readonly nackNext = new Map<string, string>();
  private readonly heldBack: DeltaTestResponse[] = [];
  private readonly started = new Set<string>();

  constructor(
    address: string,
    private readonly options: DeltaTestClientOptions,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    super(
      address,
      options.service?.delta ?? aggregatedDiscoveryService.DeltaAggregatedResources,
      options.service?.service ?? 'AggregatedDiscoveryService',
      options,
      channelOptions,
      'delta ',
    );
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

  protected receive(response: DeltaDiscoveryResponse): DeltaTestResponse {
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
    return decoded;
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
