/** metrics settings from the environment (the platform reads the shared ones). */
import { PORTS } from '@tendril/contract';
import { ConfigError, envInt, envString } from '@tendril/platform';

function flowsStore(value: string): 'db' | 'memory' {
  if (value === 'db' || value === 'memory') return value;
  throw new ConfigError(`TENDRIL_FLOWS_STORE=${value}: expected db or memory`);
}

/** mTLS on the access log port: the server's certificate, and the CA whose client certificates are accepted. */
export interface AlsTlsConfig {
  /** TENDRIL_ALS_TLS_CERT: PEM file of the server certificate (chain). */
  certFile: string;
  /** TENDRIL_ALS_TLS_KEY: PEM file of its private key. */
  keyFile: string;
  /** TENDRIL_ALS_TLS_CA: PEM file of the CA that signs the proxies' client certificates (required). */
  caFile: string;
}

export interface MetricsConfig {
  /** TENDRIL_ALS_HOST / TENDRIL_ALS_PORT: where Envoy's access log service (gRPC) listens. */
  alsHost: string;
  alsPort: number;
  /** TENDRIL_ALS_TLS_*: unset, plaintext (for loopback); set, only clients with a certificate signed by the CA. */
  alsTls?: AlsTlsConfig;
  /** TENDRIL_FLOWS_STORE: `db` (TypeORM: sqlite, or Postgres by TENDRIL_DB_URL) or `memory`. */
  flowsStore: 'db' | 'memory';
  /** TENDRIL_DB_URL: `postgres://...`, `sqlite:<file>`, or empty for `$TENDRIL_DATA_DIR/metrics.sqlite`. */
  dbUrl: string;
  /** TENDRIL_FLOWS_MAX: recent flows kept. */
  flowsMax: number;
  /** TENDRIL_FLOWS_MAX_AGE_S: older flows are no longer served. */
  flowsMaxAgeSeconds: number;
  /** TENDRIL_METRICS_MAX_SERVICES: distinct service names used as labels; later ones become "other". */
  maxServiceLabels: number;
  /** TENDRIL_SERVICE_MAP_WINDOW_S: the window of the service map's rates. */
  serviceMapWindowSeconds: number;
}

export const METRICS_CONFIG = Symbol('METRICS_CONFIG');

export function readMetricsConfig(): MetricsConfig {
  return {
    alsHost: envString('TENDRIL_ALS_HOST', '127.0.0.1'),
    alsPort: envInt('TENDRIL_ALS_PORT', PORTS.accessLogGrpc, 0, 65535),
    flowsStore: flowsStore(envString('TENDRIL_FLOWS_STORE', 'db')),
    dbUrl: envString('TENDRIL_DB_URL', ''),
    flowsMax: envInt('TENDRIL_FLOWS_MAX', 10_000, 1, 10_000_000),
    flowsMaxAgeSeconds: envInt('TENDRIL_FLOWS_MAX_AGE_S', 3600, 1),
    maxServiceLabels: envInt('TENDRIL_METRICS_MAX_SERVICES', 200, 1, 100_000),
    serviceMapWindowSeconds: envInt('TENDRIL_SERVICE_MAP_WINDOW_S', 60, 1, 3600),
    ...readAlsTls(),
  };
}

/**
 * All three or none: TLS without a CA would let any client send access logs, so it is refused as a
 * configuration error rather than served half-protected.
 */
function readAlsTls(): { alsTls?: AlsTlsConfig } {
  const certFile = envString('TENDRIL_ALS_TLS_CERT', '');
  const keyFile = envString('TENDRIL_ALS_TLS_KEY', '');
  const caFile = envString('TENDRIL_ALS_TLS_CA', '');
  if (!certFile && !keyFile && !caFile) return {};
  const missing = [!certFile && 'TENDRIL_ALS_TLS_CERT', !keyFile && 'TENDRIL_ALS_TLS_KEY', !caFile && 'TENDRIL_ALS_TLS_CA'].filter(Boolean);
  if (missing.length > 0) throw new ConfigError(`mTLS on the access log port needs TENDRIL_ALS_TLS_CERT, TENDRIL_ALS_TLS_KEY and TENDRIL_ALS_TLS_CA; missing ${missing.join(', ')}`);
  return { alsTls: { certFile, keyFile, caFile } };
}
