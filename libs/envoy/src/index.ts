/**
 * Envoy's xDS API for Tendril: its .proto files (from @grpc/grpc-js-xds) loaded with protobufjs,
 * resources converted between proto3 JSON and deterministic protobuf bytes, protoc-gen-validate rules
 * checked before a proxy sees a resource, and the wire messages and gRPC method descriptions of ADS and
 * of the access log service.
 */
export { ENVOY_TYPE_URLS, TYPE_URL_PREFIX, messageNameOf, typeUrlOf, type XdsType } from './types.js';
export { PROTO_FILES, envoyRoot, includeDirs, loadProtoFiles, lookupMessage } from './protos.js';
export { ResourceJsonError } from './json.js';
export {
  type AnyMessage,
  decodeMessage,
  decodeResource,
  encodeMessage,
  encodeResource,
  packAny,
  unpackAny,
  validateMessage,
  validateResource,
} from './resources.js';
export * from './discovery.js';
export * from './wire.js';
export * from './accesslog.js';
export { sdsSecretNames } from './sds-refs.js';
export { NODE_PROXY_CLUSTER, nodeBootstrap, parseBootstrapAddress, type BootstrapAddress, type BootstrapOptions } from './bootstrap.js';
