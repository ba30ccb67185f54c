/** The watcher's own settings (the platform's are in libs/platform). */
import { resolve } from 'node:path';
import { envInt, envString } from '@tendril/platform';

export interface WatcherConfig {
  /** TENDRIL_MANIFESTS: the folder of manifests standalone mode mirrors. */
  manifests: string;
  /** TENDRIL_SERVICE_CIDR: where standalone mode allocates ClusterIPs for Services without one. */
  serviceCidr: string;
  /** TENDRIL_MANIFESTS_DEBOUNCE_MS: quiet time after a file change before re-reading. */
  debounceMs: number;
}

export const WATCHER_CONFIG = Symbol('WATCHER_CONFIG');

export function readWatcherConfig(): WatcherConfig {
  return {
    manifests: resolve(envString('TENDRIL_MANIFESTS', 'examples/')),
    serviceCidr: envString('TENDRIL_SERVICE_CIDR', '127.100.0.0/16'),
    debounceMs: envInt('TENDRIL_MANIFESTS_DEBOUNCE_MS', 100, 0, 10000),
  };
}
