/**
 * The part of platform that command-line tools need, without Nest or the Kubernetes client, so that
 * a `tendril` command starts in a fraction of a second: configuration from the environment and a
 * single-attempt NATS connection.
 */
export { envString, envInt, envBool, natsCredentials, natsTlsConfig, ConfigError, type NatsTlsSettings } from './config.js';
export { connectOnce, explainNatsError } from './nats.js';
