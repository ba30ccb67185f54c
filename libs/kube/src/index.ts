/**
 * What the API server would do with a manifest, for standalone mode: parse multi-document YAML,
 * validate each object (built-in kinds strictly; Gateway API kinds as an API server with the Gateway
 * API CRDs does: schema, defaults, pruning, CEL rules), apply the API's defaults, and allocate ClusterIPs.
 */
export * from './kinds.js';
export * from './validate.js';
export * from './defaults.js';
export * from './manifests.js';
export * from './cluster-ip.js';
export * from './object-size.js';
export * from './lb-ipam.js';
export { gatewayApiKind, gatewayApiKinds, GATEWAY_API_CHANNELS, type GatewayApiChannel, type GatewayApiKind } from './gateway-api/index.js';
export { validateStructural, type StructuralResult } from './structural/validator.js';
export type { StructuralSchema, ValidationRule } from './structural/schema.js';
