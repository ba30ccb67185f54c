/**
 * The xDS serving core, free of NATS, Nest and gRPC: immutable resource snapshots (by type, with
 * content hashes and node selectors) and the state-of-the-world ADS stream state machine that decides
 * what to send, when, and in which order.
 */
export * from './snapshot.js';
export * from './ads-stream.js';
