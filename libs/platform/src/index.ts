/**
 * Platform: the I/O adapters every service shares, and the only place that opens a connection:
 * NATS (connection, buckets, mirrors, micro registration, stats), configuration from the environment,
 * readiness, Prometheus metrics, logging, and the Nest module and bootstrap that wire them.
 */
export * from './config.js';
export * from './logger.js';
export * from './readiness.js';
export * from './metrics.js';
export * from './nats.js';
export * from './kv-mirror.js';
export * from './merged-mirror.js';
export * from './write-window.js';
export * from './kv-values.js';
export * from './js-publisher.js';
export * from './micro.js';
export * from './stats-publisher.js';
export * from './nest/platform.module.js';
export * from './nest/bootstrap.js';
// the Kubernetes API adapter is its own entry point (@tendril/platform/kube): only the watcher loads it
export { type KubeConfigSource, kubernetesDetected } from './kube/detect.js';
export * from './lease.js';
export * from './identity-allocator.js';
export * from './grpc-shutdown.js';
export * from './tls-files.js';
export * from './database.js';
