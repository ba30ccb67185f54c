/**
 * What the API server would do with a manifest, for standalone mode: parse multi-document YAML,
 * validate each object strictly (unknown fields and missing required fields are errors naming the
 * field), apply the API's defaults, and allocate ClusterIPs.
 */
export * from './kinds.js';
export * from './validate.js';
export * from './defaults.js';
export * from './manifests.js';
export * from './cluster-ip.js';
export * from './object-size.js';
export * from './lb-ipam.js';
