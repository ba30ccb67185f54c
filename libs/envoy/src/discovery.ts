/**
 * The ADS wire messages (envoy.service.discovery.v3) and the gRPC method descriptions of
 * AggregatedDiscoveryService and the per-type discovery services (LDS, RDS, CDS, EDS, SDS), ready for
 * @grpc/grpc-js's server.addService and makeGenericClientConstructor.
 */
import type protobuf from 'protobufjs';
import { lookupMessage } from './protos.js';
import type { AnyMessage } from './resources.js';
import { ENVOY_TYPE_URLS, type XdsType } from './types.js';
import {
  decodeDeltaDiscoveryRequestWire,
  decodeDiscoveryRequestWire,
  encodeAnyWire,
  encodeDeltaDiscoveryResponseWire,
  encodeDeltaResourceWire,
  encodeDiscoveryResponseWire,
} from './wire.js';

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

// Requests are encoded with the .proto definitions (clients, tests) and read by hand (wire.ts): a
// server reads one per ACK, and needs only the fields it acts on.
export const discoveryRequestCodec: MessageCodec<DiscoveryRequest> = {
  encode: wireCodec<DiscoveryRequest>('envoy.service.discovery.v3.DiscoveryRequest').encode,
  decode: decodeDiscoveryRequestWire,
};
// Responses are encoded by hand (wire.ts): the server's hot path, and no message definitions needed.
export const discoveryResponseCodec: MessageCodec<DiscoveryResponse> = {
  encode: (message) =>
    encodeDiscoveryResponseWire(
      { versionInfo: message.versionInfo, typeUrl: message.typeUrl, nonce: message.nonce, controlPlaneIdentifier: message.controlPlane?.identifier },
      message.resources.map((any) => encodeAnyWire(any.typeUrl, any.value)),
    ),
  decode: wireCodec<DiscoveryResponse>('envoy.service.discovery.v3.DiscoveryResponse').decode,
};
export const deltaDiscoveryRequestCodec: MessageCodec<DeltaDiscoveryRequest> = {
  encode: wireCodec<DeltaDiscoveryRequest>('envoy.service.discovery.v3.DeltaDiscoveryRequest').encode,
  decode: decodeDeltaDiscoveryRequestWire,
};
export const deltaDiscoveryResponseCodec: MessageCodec<DeltaDiscoveryResponse> = {
  encode: (message) =>
    encodeDeltaDiscoveryResponseWire(
      {
        systemVersionInfo: message.systemVersionInfo,
        typeUrl: message.typeUrl,
        nonce: message.nonce,
        removedResources: message.removedResources,
        controlPlaneIdentifier: message.controlPlane?.identifier,
      },
      message.resources.map((resource) => encodeDeltaResourceWire(resource.name, resource.version, resource.resource)),
    ),
  decode: wireCodec<DeltaDiscoveryResponse>('envoy.service.discovery.v3.DeltaDiscoveryResponse').decode,
};

/** Shape of a grpc-js MethodDefinition, without importing grpc here. */
export interface StreamMethod<Req, Res> {
  path: string;
  originalName: string;
  requestStream: true;
  responseStream: true;
  requestSerialize: (value: Req) => Buffer;
  requestDeserialize: (bytes: Buffer) => Req;
  /** Takes the message, or its bytes already encoded. */
  responseSerialize: (value: Res | Uint8Array) => Buffer;
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
    // a response may come encoded already (the server shares each resource's bytes between streams)
    responseSerialize: (value) => toBuffer(value instanceof Uint8Array ? value : response.encode(value)),
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
