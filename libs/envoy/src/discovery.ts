/**
 * The ADS wire messages (envoy.service.discovery.v3) and the gRPC method descriptions of
 * AggregatedDiscoveryService and the per-type discovery services (LDS, RDS, CDS, EDS, SDS), ready for
 * @grpc/grpc-js's server.addService and makeGenericClientConstructor.
 */
import type protobuf from 'protobufjs';
import { lookupMessage } from './protos.js';
import type { AnyMessage } from './resources.js';
import { ENVOY_TYPE_URLS, type XdsType } from './types.js';

export interface XdsNode {
  id: string;
  cluster: string;
  userAgentName?: string;
  userAgentVersion?: string;
  metadata?: unknown;
  locality?: { region?: string; zone?: string; subZone?: string } | null;
}

export interface RpcStatus {
  code: number;
  message: string;
}

export interface DiscoveryRequest {
  versionInfo: string;
  node?: XdsNode | null;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail?: RpcStatus | null;
}

export interface DiscoveryResponse {
  versionInfo: string;
  resources: AnyMessage[];
  typeUrl: string;
  nonce: string;
  controlPlane?: { identifier: string };
}

export interface DeltaDiscoveryRequest {
  node?: XdsNode | null;
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail?: RpcStatus | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource?: AnyMessage;
}

export interface DeltaDiscoveryResponse {
  systemVersionInfo: string;
  resources: DeltaResource[];
  typeUrl: string;
  removedResources: string[];
  nonce: string;
  controlPlane?: { identifier: string };
}

export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

function wireCodec<T>(messageName: string): MessageCodec<T> {
  let type: protobuf.Type | undefined;
  const resolve = () => (type ??= lookupMessage(messageName));
  return {
    encode: (message) => resolve().encode(message as object).finish(),
    decode: (bytes) =>
      resolve().toObject(resolve().decode(bytes), { longs: String, enums: String, defaults: true, arrays: true, objects: true }) as T,
  };
}

export const discoveryRequestCodec = wireCodec<DiscoveryRequest>('envoy.service.discovery.v3.DiscoveryRequest');
export const discoveryResponseCodec = wireCodec<DiscoveryResponse>('envoy.service.discovery.v3.DiscoveryResponse');
export const deltaDiscoveryRequestCodec = wireCodec<DeltaDiscoveryRequest>('envoy.service.discovery.v3.DeltaDiscoveryRequest');
export const deltaDiscoveryResponseCodec = wireCodec<DeltaDiscoveryResponse>('envoy.service.discovery.v3.DeltaDiscoveryResponse');

/** Shape of a grpc-js MethodDefinition, without importing grpc here. */
export interface StreamMethod<Req, Res> {
  path: string;
  originalName: string;
  requestStream: true;
  responseStream: true;
  requestSerialize: (value: Req) => Buffer;
  requestDeserialize: (bytes: Buffer) => Req;
  responseSerialize: (value: Res) => Buffer;
  responseDeserialize: (bytes: Buffer) => Res;
}

/** A unary method (the Fetch* RPCs), same shape with both stream flags false. */
export interface UnaryMethod<Req, Res> extends Omit<StreamMethod<Req, Res>, 'requestStream' | 'responseStream'> {
  requestStream: false;
  responseStream: false;
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function streamMethod<Req, Res>(name: string, request: MessageCodec<Req>, response: MessageCodec<Res>, service = 'envoy.service.discovery.v3.AggregatedDiscoveryService'): StreamMethod<Req, Res> {
  return {
    path: `/${service}/${name}`,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
    requestStream: true,
    responseStream: true,
    requestSerialize: (value) => toBuffer(request.encode(value)),
    requestDeserialize: (bytes) => request.decode(bytes),
    responseSerialize: (value) => toBuffer(response.encode(value)),
    responseDeserialize: (bytes) => response.decode(bytes),
  };
}

/** envoy.service.discovery.v3.AggregatedDiscoveryService as a grpc-js service definition. */
export const aggregatedDiscoveryService = {
  StreamAggregatedResources: streamMethod('StreamAggregatedResources', discoveryRequestCodec, discoveryResponseCodec),
  DeltaAggregatedResources: streamMethod('DeltaAggregatedResources', deltaDiscoveryRequestCodec, deltaDiscoveryResponseCodec),
};

/** A per-type discovery service: its state-of-the-world and delta streams and its unary Fetch. */
export interface TypedDiscoveryService {
  /** Full gRPC service name, e.g. envoy.service.cluster.v3.ClusterDiscoveryService. */
  service: string;
  /** Type URL of the one resource type it serves. */
  typeUrl: string;
  stream: StreamMethod<DiscoveryRequest, DiscoveryResponse>;
  delta: StreamMethod<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  fetch: UnaryMethod<DiscoveryRequest, DiscoveryResponse>;
}

function typedService(xdsType: XdsType, service: string, plural: string): TypedDiscoveryService {
  return {
    service,
    typeUrl: ENVOY_TYPE_URLS[xdsType],
    stream: streamMethod(`Stream${plural}`, discoveryRequestCodec, discoveryResponseCodec, service),
    delta: streamMethod(`Delta${plural}`, deltaDiscoveryRequestCodec, deltaDiscoveryResponseCodec, service),
    fetch: { ...streamMethod(`Fetch${plural}`, discoveryRequestCodec, discoveryResponseCodec, service), requestStream: false, responseStream: false },
  };
}

/** The per-type xDS services (LDS, RDS, CDS, EDS, SDS), by resource type. */
export const typedDiscoveryServices: Record<XdsType, TypedDiscoveryService> = {
  listener: typedService('listener', 'envoy.service.listener.v3.ListenerDiscoveryService', 'Listeners'),
  route: typedService('route', 'envoy.service.route.v3.RouteDiscoveryService', 'Routes'),
  cluster: typedService('cluster', 'envoy.service.cluster.v3.ClusterDiscoveryService', 'Clusters'),
  endpoint: typedService('endpoint', 'envoy.service.endpoint.v3.EndpointDiscoveryService', 'Endpoints'),
  secret: typedService('secret', 'envoy.service.secret.v3.SecretDiscoveryService', 'Secrets'),
};
