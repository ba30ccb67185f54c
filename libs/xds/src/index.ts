/**
 * The xDS serving core, free of NATS, Nest and gRPC: immutable resource snapshots (by type, with
 * content hashes and node selectors) and the state-of-the-world and delta (incremental) xDS stream state machines that decide
 * what to send, when, and in which order.
 */
export * from './snapshot.js';
export * from './ads-stream.js';
export * from './delta-stream.js';
export * from './rejected.js';
