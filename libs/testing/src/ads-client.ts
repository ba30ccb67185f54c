/**
 * A state-of-the-world ADS client for tests: connects to an xDS server like a proxy would, subscribes
 * per type (by name or wildcard), decodes responses to proto3 JSON, ACKs them automatically or NACKs
 * on demand, and lets a test wait for a response that satisfies a predicate.
 */
import * as grpc from '@grpc/grpc-js';
import { type DiscoveryRequest, type DiscoveryResponse, type TypedDiscoveryService, aggregatedDiscoveryService, unpackAny } from '@tendril/envoy';
import { XdsTestStream, type XdsTestStreamOptions } from './xds-test-stream.js';

export interface AdsTestResponse {
  typeUrl: string;
  versionInfo: string;
  nonce: string;
  /** Each resource as proto3 JSON with its "@type". */
  resources: Record<string, unknown>[];
  /** Whether the client ACKed (true) or NACKed (false) it. */
  acked: boolean;
}

export interface AdsTestClientOptions extends XdsTestStreamOptions {
  /** A per-type service (StreamClusters, ...) instead of ADS. */
  service?: TypedDiscoveryService;
  /** Skip decoding resources (benchmarks). */
  decode?: boolean;
}

export class AdsTestClient extends XdsTestStream<DiscoveryRequest, DiscoveryResponse, AdsTestResponse> {
  private readonly names = new Map<string, string[]>();
  private readonly acked = new Map<string, string>();
  private readonly nackNext = new Map<string, string>();

  constructor(
    address: string,
    private readonly options: AdsTestClientOptions,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    super(
      address,
      options.service?.stream ?? aggregatedDiscoveryService.StreamAggregatedResources,
      options.service?.service ?? 'AggregatedDiscoveryService',
      options,
      channelOptions,
      '',
    );
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

  protected receive(response: DiscoveryResponse): AdsTestResponse {
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
    return decoded;
  }
}
