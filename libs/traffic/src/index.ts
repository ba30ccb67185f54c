/**
 * Mesh traffic, as pure data: Envoy access log entries turned into observations (who called whom, how
 * it went), bounded label sets for Prometheus, the recent-flow ring, the live service map, and the
 * sync status of each proxy. No I/O: the metrics app feeds it and serves what it returns.
 */
export * from './labels.js';
export * from './directory.js';
export * from './access-log.js';
export * from './flow-ring.js';
export * from './service-map.js';
export * from './proxy-status.js';
