/** The Kubernetes API adapter: configuration, JSON requests, resilient informers, Lease election. */
export * from './client.js';
export * from './informer.js';
export * from './lease.js';
