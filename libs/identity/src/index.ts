/**
 * Workload identities: SPIFFE IDs of service accounts, the certificate authority that signs them
 * (created, loaded from PEM, rotated with an overlap window), short-lived workload certificates and
 * when to renew them, and which identities the Pods on which nodes need. Crypto only, no NATS or
 * files: the translator app keeps the CA and delivers the certificates.
 */
export * from './spiffe.js';
export * from './certificates.js';
export * from './rotation.js';
export * from './workloads.js';
