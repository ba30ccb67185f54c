/** xds-server settings from the environment (the platform reads the shared ones). */
import { PORTS } from '@tendril/contract';
import { envInt, envString } from '@tendril/platform';

export interface XdsServerConfig {
  /** TENDRIL_XDS_HOST: where the ADS gRPC server binds. */
  grpcHost: string;
  /** TENDRIL_XDS_PORT: the ADS gRPC port. */
  grpcPort: number;
  /** TENDRIL_XDS_DEBOUNCE_MS: hold-off after a complete generation before it is pushed (0 = at once). */
  debounceMs: number;
  /** TENDRIL_XDS_DEBOUNCE_MAX_MS: the longest a complete generation is held back by later ones. */
  debounceMaxMs: number;
}

export const XDS_SERVER_CONFIG = Symbol('XDS_SERVER_CONFIG');

export function readXdsServerConfig(): XdsServerConfig {
  return {
    grpcHost: envString('TENDRIL_XDS_HOST', '0.0.0.0'),
    grpcPort: envInt('TENDRIL_XDS_PORT', PORTS.xdsGrpc, 0, 65535),
    debounceMs: envInt('TENDRIL_XDS_DEBOUNCE_MS', 10, 0, 60_000),
    debounceMaxMs: envInt('TENDRIL_XDS_DEBOUNCE_MAX_MS', 100, 0, 600_000),
  };
}
