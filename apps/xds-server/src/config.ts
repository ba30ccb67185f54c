/** xds-server settings from the environment (the platform reads the shared ones). */
import { PORTS } from '@tendril/contract';
import { ConfigError, envBool, envInt, envString } from '@tendril/platform';

/** TLS on the xDS port: the server's certificate, and with a CA, client certificates required and verified. */
export interface XdsTlsConfig {
  /** TENDRIL_XDS_TLS_CERT: PEM file of the server certificate (chain). */
  certFile: string;
  /** TENDRIL_XDS_TLS_KEY: PEM file of its private key. */
  keyFile: string;
  /** TENDRIL_XDS_TLS_CA: PEM file of the CA that signs client certificates; set: a client without one is refused. */
  caFile?: string;
  /**
   * TENDRIL_XDS_TLS_NODE_CHECK (default true, with a CA): the node id a proxy claims must be its
   * certificate's common name or one of its DNS or URI subject alternative names, so one proxy
   * cannot ask for another node's resources (its Secrets).
   */
  nodeCheck: boolean;
}

export interface XdsServerConfig {
  /** TENDRIL_XDS_HOST: where the ADS gRPC server binds. */
  grpcHost: string;
  /** TENDRIL_XDS_PORT: the ADS gRPC port. */
  grpcPort: number;
  /** TENDRIL_XDS_DEBOUNCE_MS: hold-off after a complete generation before it is pushed (0 = at once). */
  debounceMs: number;
  /** TENDRIL_XDS_DEBOUNCE_MAX_MS: the longest a complete generation is held back by later ones. */
  debounceMaxMs: number;
  /** Absent: plaintext (the embedded default). */
  tls?: XdsTlsConfig;
}

export const XDS_SERVER_CONFIG = Symbol('XDS_SERVER_CONFIG');

export function readXdsServerConfig(): XdsServerConfig {
  return {
    grpcHost: envString('TENDRIL_XDS_HOST', '127.0.0.1'),
    grpcPort: envInt('TENDRIL_XDS_PORT', PORTS.xdsGrpc, 0, 65535),
    debounceMs: envInt('TENDRIL_XDS_DEBOUNCE_MS', 10, 0, 60_000),
    debounceMaxMs: envInt('TENDRIL_XDS_DEBOUNCE_MAX_MS', 100, 0, 600_000),
    ...readXdsTls(),
  };
}

function readXdsTls(): { tls?: XdsTlsConfig } {
  const certFile = envString('TENDRIL_XDS_TLS_CERT', '');
  const keyFile = envString('TENDRIL_XDS_TLS_KEY', '');
  const caFile = envString('TENDRIL_XDS_TLS_CA', '');
  if (!certFile && !keyFile && !caFile) return {};
  if (!certFile || !keyFile) throw new ConfigError('TLS on the xDS port needs both TENDRIL_XDS_TLS_CERT and TENDRIL_XDS_TLS_KEY (TENDRIL_XDS_TLS_CA alone cannot serve TLS)');
  return { tls: { certFile, keyFile, ...(caFile ? { caFile } : {}), nodeCheck: envBool('TENDRIL_XDS_TLS_NODE_CHECK', true) } };
}
