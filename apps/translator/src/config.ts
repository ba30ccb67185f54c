/** The translator's own settings (the platform reads the shared ones), from the environment. */
import { ConfigError, envBool, envInt, envString } from '@tendril/platform';
import type { TranslationOptions } from '@tendril/translation';

export interface TranslatorConfig {
  /** TENDRIL_DEBOUNCE_MS: quiet time after a change before translating (default 50). */
  debounceMs: number;
  /** TENDRIL_DEBOUNCE_MAX_MS: longest a burst of changes may delay a translation (default 500). */
  debounceMaxMs: number;
  /** TENDRIL_RETRY_MS: wait before publishing again after NATS refused a write (default 1000). */
  retryMs: number;
  /** TENDRIL_CLUSTER_ID: this cluster's id (0-255); numeric identities come from its range (Cilium's layout: id << 16). */
  clusterId: number;
  /** Ingress, Gateway, node-proxy and access-log choices handed to translation (docs/operations.md: TENDRIL_PROXY_PORT, TENDRIL_INGRESS_*, TENDRIL_GATEWAY_*, TENDRIL_ALS_CLUSTER). */
  translation: TranslationOptions;
  /** Workload identities (docs/mtls.md); undefined when TENDRIL_WORKLOAD_IDENTITIES is not true. */
  identities?: IdentityConfig;
}

export interface IdentityConfig {
  /** TENDRIL_TRUST_DOMAIN (default cluster.local). */
  trustDomain: string;
  /** TENDRIL_WORKLOAD_CERT_TTL_MS: lifetime of a workload certificate (default 12 hours). */
  ttlMs: number;
  /** TENDRIL_CA_CERT_FILE and TENDRIL_CA_KEY_FILE: a CA given as PEM files; absent: generated and kept in tendril-ca. */
  caFiles?: { certificate: string; key: string };
}

function readIdentityConfig(): IdentityConfig | undefined {
  if (!envBool('TENDRIL_WORKLOAD_IDENTITIES', false)) return undefined;
  const certificate = envString('TENDRIL_CA_CERT_FILE', '');
  const key = envString('TENDRIL_CA_KEY_FILE', '');
  if ((certificate === '') !== (key === '')) throw new ConfigError('TENDRIL_CA_CERT_FILE and TENDRIL_CA_KEY_FILE: set both or neither');
  const trustDomain = envString('TENDRIL_TRUST_DOMAIN', 'cluster.local');
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) throw new ConfigError(`TENDRIL_TRUST_DOMAIN=${trustDomain}: lower-case letters, digits, ".", "-", "_" only`);
  return { trustDomain, ttlMs: envInt('TENDRIL_WORKLOAD_CERT_TTL_MS', 12 * 3600_000, 600_000, 30 * 24 * 3600_000), ...(certificate ? { caFiles: { certificate, key } } : {}) };
}

export function readTranslatorConfig(): TranslatorConfig {
  const debounceMs = envInt('TENDRIL_DEBOUNCE_MS', 50, 0, 60000);
  const debounceMaxMs = envInt('TENDRIL_DEBOUNCE_MAX_MS', 500, 0, 600000);
  if (debounceMaxMs < debounceMs) throw new ConfigError(`TENDRIL_DEBOUNCE_MAX_MS=${debounceMaxMs} is below TENDRIL_DEBOUNCE_MS=${debounceMs}`);
  const mode = envString('TENDRIL_INGRESS_DEFAULT_LB_MODE', 'dedicated');
  if (mode !== 'dedicated' && mode !== 'shared') throw new ConfigError(`TENDRIL_INGRESS_DEFAULT_LB_MODE=${mode}: expected dedicated or shared`);
  const alsCluster = envString('TENDRIL_ALS_CLUSTER', 'tendril-als');
  const translation: TranslationOptions = {
    ingressClassName: envString('TENDRIL_INGRESS_CLASS', 'cilium'),
    ingressDefaultLbMode: mode,
    ingressSharedNamespace: envString('TENDRIL_INGRESS_SHARED_NAMESPACE', 'kube-system'),
    ingressCidr: envString('TENDRIL_INGRESS_CIDR', '127.101.0.0/16'),
    proxyPort: envInt('TENDRIL_PROXY_PORT', 10000, 1, 65535),
    proxyPortCount: envInt('TENDRIL_PROXY_PORT_COUNT', 1000, 1, 65535),
    alsCluster: alsCluster === 'none' ? '' : alsCluster,
    gatewayClassName: envString('TENDRIL_GATEWAY_CLASS', 'cilium'),
    gatewayClassAssumed: envBool('TENDRIL_GATEWAY_CLASS_ASSUMED', true),
    gatewayControllerName: envString('TENDRIL_GATEWAY_CONTROLLER', 'io.cilium/gateway-controller'),
    gatewayCidr: envString('TENDRIL_GATEWAY_CIDR', '127.102.0.0/16'),
  };
  if (translation.proxyPort + translation.proxyPortCount - 1 > 65535) throw new ConfigError('TENDRIL_PROXY_PORT + TENDRIL_PROXY_PORT_COUNT - 1 is above 65535');
  const identities = readIdentityConfig();
  return { debounceMs, debounceMaxMs, retryMs: envInt('TENDRIL_RETRY_MS', 1000, 10, 600000), clusterId: envInt('TENDRIL_CLUSTER_ID', 0, 0, 255), translation, ...(identities ? { identities } : {}) };
}
