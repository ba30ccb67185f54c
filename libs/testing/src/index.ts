/**
 * Test support shared by every project: a real nats-server per test, free ports, polling with
 * deadlines that say what they waited for. Test-only: never imported by production code.
 */
export * from './ports.js';
export * from './nats-server.js';
export * from './ads-client.js';
export * from './delta-client.js';
export * from './kube-api-server.js';
export * from './tls.js';
