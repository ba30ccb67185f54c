/**
 * The datapath's pure logic: codecs mirroring bpf/lib/lb.h struct by struct, what an LbService
 * becomes in the kernel maps, stable service ids, and the ordered, incremental map operations that
 * move the kernel from one set of services to the next. No I/O: the agent executes the plans.
 */
export * from './maps.js';
export * from './compile.js';
export * from './maglev.js';
export * from './service-ids.js';
export * from './lb-table.js';
export * from './flows.js';
export * from './policy-maps.js';
