/**
 * The NATS contract of Tendril: every bucket, subject, key scheme and message schema, with encoders,
 * decoders and runtime validation. A service that reads or writes NATS does it through this library.
 */
export * from './errors.js';
export * from './codec.js';
export * from './keys.js';
export * from './names.js';
export * from './messages/kube-object.js';
export * from './messages/object-status.js';
export * from './messages/xds-resource.js';
export * from './messages/lb-service.js';
export * from './messages/proxy-state.js';
export * from './messages/flow.js';
export * from './messages/service-stats.js';
export * from './messages/service-info.js';
export * from './permissions.js';
export * from './large-values.js';
export * from './messages/config-history.js';
export * from './messages/lease.js';
export * from './messages/policy.js';
export * from './policy-view.js';
