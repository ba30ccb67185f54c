/**
 * Envoy's access log service (envoy.service.accesslog.v3.AccessLogService): the StreamAccessLogsMessage
 * codec and the gRPC method description of StreamAccessLogs (client streaming), ready for grpc-js's
 * server.addService and makeGenericClientConstructor. The .proto is loaded on first use.
 */
import type protobuf from 'protobufjs';
import { loadProtoFiles, lookupMessage } from './protos.js';
import type { MessageCodec, StreamMethod, XdsNode } from './discovery.js';

export const ACCESS_LOG_PROTO = 'envoy/service/accesslog/v3/als.proto';

/** core.v3.Address as proto3 JSON-ish objects (only the socket form is read). */
export interface AccessLogAddress {
  socketAddress?: { address?: string; portValue?: number } | null;
  pipe?: { path?: string } | null;
}

export interface AccessLogDuration {
  seconds?: string | number;
  nanos?: number;
}

export interface AccessLogCommon {
  sampleRate?: number;
  downstreamRemoteAddress?: AccessLogAddress | null;
  downstreamLocalAddress?: AccessLogAddress | null;
  upstreamRemoteAddress?: AccessLogAddress | null;
  upstreamCluster?: string;
  routeName?: string;
  startTime?: AccessLogDuration | null;
  duration?: AccessLogDuration | null;
  timeToLastDownstreamTxByte?: AccessLogDuration | null;
  responseFlags?: Record<string, unknown> | null;
  intermediateLogEntry?: boolean;
  accessLogType?: string;
}

export interface HttpAccessLogEntry {
  commonProperties?: AccessLogCommon | null;
  protocolVersion?: string;
  request?: { requestMethod?: string; scheme?: string; authority?: string; path?: string; requestId?: string } | null;
  response?: { responseCode?: { value?: number } | null; responseBodyBytes?: string | number; responseCodeDetails?: string } | null;
}

export interface TcpAccessLogEntry {
  commonProperties?: AccessLogCommon | null;
  connectionProperties?: { receivedBytes?: string | number; sentBytes?: string | number } | null;
}

export interface StreamAccessLogsMessage {
  identifier?: { node?: XdsNode | null; logName?: string } | null;
  httpLogs?: { logEntry: HttpAccessLogEntry[] } | null;
  tcpLogs?: { logEntry: TcpAccessLogEntry[] } | null;
}

function accessLogType(): protobuf.Type {
  loadProtoFiles(ACCESS_LOG_PROTO);
  return lookupMessage('envoy.service.accesslog.v3.StreamAccessLogsMessage');
}

/** StreamAccessLogsMessage: encode from the shape above, decode to it (int64 as strings, enums by name). */
export const streamAccessLogsMessageCodec: MessageCodec<StreamAccessLogsMessage> = {
  encode: (message) => {
    const type = accessLogType();
    return type.encode(type.fromObject(message as Record<string, unknown>)).finish();
  },
  decode: (bytes) => {
    const type = accessLogType();
    return type.toObject(type.decode(bytes), { longs: String, enums: String, arrays: true }) as StreamAccessLogsMessage;
  },
};

/** A client-streaming method (StreamAccessLogs): the shape of StreamMethod with responseStream false. */
export interface ClientStreamMethod<Req, Res> extends Omit<StreamMethod<Req, Res>, 'responseStream'> {
  responseStream: false;
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * envoy.service.accesslog.v3.AccessLogService. The server side receives raw bytes (requestDeserialize is
 * the identity): a message that does not decode is the server's to count and drop, not a reason for
 * grpc-js to fail the whole stream. Clients send StreamAccessLogsMessage objects.
 */
export const accessLogService: { StreamAccessLogs: ClientStreamMethod<StreamAccessLogsMessage | Buffer, Record<string, never>> } = {
  StreamAccessLogs: {
    path: '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
    originalName: 'streamAccessLogs',
    requestStream: true,
    responseStream: false,
    requestSerialize: (value) => (Buffer.isBuffer(value) ? value : toBuffer(streamAccessLogsMessageCodec.encode(value))),
    requestDeserialize: (bytes) => bytes,
    // StreamAccessLogsResponse has no fields: its encoding is empty.
    responseSerialize: () => Buffer.alloc(0),
    responseDeserialize: () => ({}),
  },
};
