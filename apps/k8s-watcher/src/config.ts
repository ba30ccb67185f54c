/** The watcher's own settings (the platform's are in libs/platform). */
import { resolve } from 'node:path';
import { DEFAULT_MANIFEST_LIMITS, type GatewayApiChannel, type ManifestLimits } from '@tendril/kube';
import { ConfigError, envInt, envString, kubernetesDetected, readLeaseTiming } from '@tendril/platform';

export type WatcherMode = 'standalone' | 'kubernetes';

export interface WatcherConfig {
  /**
   * TENDRIL_WATCHER_MODE: `standalone`, `kubernetes`, or `auto`: standalone when TENDRIL_MANIFESTS is
   * set, else kubernetes when in a pod or KUBECONFIG is set, else standalone.
   */
  mode: WatcherMode;
  /** TENDRIL_MANIFESTS: the folder of manifests standalone mode mirrors. */
  manifests: string;
  /** TENDRIL_SERVICE_CIDR: where standalone mode allocates ClusterIPs for Services without one. */
  serviceCidr: string;
  /**
   * TENDRIL_INGRESS_CIDR / TENDRIL_GATEWAY_CIDR: the pools standalone mode's LB-IPAM gives the owned
   * LoadBalancer Services of Ingress and Gateway load balancers their addresses from (the translator's
   * defaults: 127.101.0.0/16 and 127.102.0.0/16).
   */
  ingressCidr: string;
  gatewayCidr: string;
  /** TENDRIL_MANIFESTS_DEBOUNCE_MS: quiet time after a file change before re-reading. */
  debounceMs: number;
  /**
   * TENDRIL_MANIFESTS_MAX_FILE_BYTES / TENDRIL_MANIFESTS_MAX_DOCUMENT_BYTES, and the fixed YAML alias and
   * nesting limits; TENDRIL_GATEWAY_API_CHANNEL: the Gateway API CRDs' channel standalone validation plays.
   */
  limits: ManifestLimits;
  /** TENDRIL_WATCHER_WRITE_WINDOW: KV writes in flight at once (pipelined, unacknowledged). */
  writeWindow: number;
  /** TENDRIL_LEASE_NAME / TENDRIL_LEASE_NAMESPACE: the Lease the watchers of a cluster elect their leader with. */
  leaseName: string;
  leaseNamespace?: string;
  /** TENDRIL_LEASE_DURATION_MS / TENDRIL_LEASE_RENEW_DEADLINE_MS / TENDRIL_LEASE_RETRY_MS, read (and checked) as the translator's KV lease reads them. */
  leaseTiming: ReturnType<typeof readLeaseTiming>;
  /** TENDRIL_WATCH_TIMEOUT_S: server-side end of each watch request (timeoutSeconds; it is then reopened). */
  watchTimeoutSeconds: number;
  /** TENDRIL_WATCH_STALL_MS: a watch with no byte for the watch timeout plus this long is dead (a half-open connection). */
  watchStallMs: number;
  /** TENDRIL_CRD_RETRY_MS: how often a kind the API server does not serve is looked for again. */
  crdRetryMs: number;
  /** TENDRIL_STATUS_CONFLICT_RETRIES: attempts of one status write meeting 409 Conflict. */
  statusConflictRetries: number;
  /** TENDRIL_GATEWAY_CONTROLLER: our controllerName in Gateway API route status parents. */
  gatewayController: string;
}

export const WATCHER_CONFIG = Symbol('WATCHER_CONFIG');

export function readWatcherMode(): WatcherMode {
  const mode = envString('TENDRIL_WATCHER_MODE', 'auto');
  if (mode === 'standalone' || mode === 'kubernetes') return mode;
  if (mode !== 'auto') throw new ConfigError(`TENDRIL_WATCHER_MODE=${mode}: expected auto, standalone or kubernetes`);
  // a manifest folder named explicitly wins: `npm start` and the system tests stay standalone on a
  // machine whose shell happens to carry a KUBECONFIG
  if (process.env['TENDRIL_MANIFESTS']) return 'standalone';
  return kubernetesDetected() ? 'kubernetes' : 'standalone';
}

/** TENDRIL_GATEWAY_API_CHANNEL: `experimental` (default: the superset of fields and versions) or `standard`. */
function readGatewayApiChannel(): GatewayApiChannel {
  const channel = envString('TENDRIL_GATEWAY_API_CHANNEL', 'experimental');
  if (channel !== 'standard' && channel !== 'experimental') throw new ConfigError(`TENDRIL_GATEWAY_API_CHANNEL=${channel}: expected standard or experimental`);
  return channel;
}

export function readWatcherConfig(): WatcherConfig {
  const leaseNamespace = envString('TENDRIL_LEASE_NAMESPACE', '');
  return {
    mode: readWatcherMode(),
    manifests: resolve(envString('TENDRIL_MANIFESTS', 'examples/')),
    serviceCidr: envString('TENDRIL_SERVICE_CIDR', '127.96.0.0/16'),
    ingressCidr: envString('TENDRIL_INGRESS_CIDR', '127.101.0.0/16'),
    gatewayCidr: envString('TENDRIL_GATEWAY_CIDR', '127.102.0.0/16'),
    debounceMs: envInt('TENDRIL_MANIFESTS_DEBOUNCE_MS', 20, 0, 10000),
    limits: {
      ...DEFAULT_MANIFEST_LIMITS,
      maxFileBytes: envInt('TENDRIL_MANIFESTS_MAX_FILE_BYTES', DEFAULT_MANIFEST_LIMITS.maxFileBytes, 1024),
      maxDocumentBytes: envInt('TENDRIL_MANIFESTS_MAX_DOCUMENT_BYTES', DEFAULT_MANIFEST_LIMITS.maxDocumentBytes, 1024),
      gatewayApiChannel: readGatewayApiChannel(),
    },
    writeWindow: envInt('TENDRIL_WATCHER_WRITE_WINDOW', 128, 1, 100000),
    leaseName: envString('TENDRIL_LEASE_NAME', 'tendril-k8s-watcher'),
    ...(leaseNamespace ? { leaseNamespace } : {}),
    leaseTiming: readLeaseTiming(),
    watchTimeoutSeconds: envInt('TENDRIL_WATCH_TIMEOUT_S', 120, 1),
    watchStallMs: envInt('TENDRIL_WATCH_STALL_MS', 15000, 100),
    crdRetryMs: envInt('TENDRIL_CRD_RETRY_MS', 30000, 100),
    statusConflictRetries: envInt('TENDRIL_STATUS_CONFLICT_RETRIES', 5, 1, 100),
    gatewayController: envString('TENDRIL_GATEWAY_CONTROLLER', 'io.cilium/gateway-controller'),
  };
}
