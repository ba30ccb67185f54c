/**
 * Network policy, pure: Kubernetes NetworkPolicy and Cilium's CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy compiled, with the Pods and Namespaces they select, into identities,
 * an address table and per-identity rules (peer identity, protocol, port range, allow or deny); and
 * the verdict those rules give a connection (`traceAddresses`). No I/O: numbers for identities are
 * allocated elsewhere.
 */
export * from './labels.js';
export * from './cidr.js';
export * from './ports.js';
export * from './selector.js';
export * from './rules.js';
export * from './network-policy.js';
export * from './cilium-policy.js';
export * from './compile.js';
export * from './trace.js';
