/**
 * The intermediate representation (IR) between Kubernetes objects and what Tendril serves: plain,
 * documented data (clusters, endpoints, L4 services, listeners, routes and TLS secrets) and validate(), which reports every problem at once.
 */
export * from './source.js';
export * from './address.js';
export * from './cluster.js';
export * from './endpoints.js';
export * from './l4-service.js';
export * from './l7.js';
export * from './envoy-config.js';
export * from './ir.js';
export * from './validate.js';
