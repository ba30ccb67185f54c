/** xds-server settings from the environment (the platform reads the shared ones). */
import { PORTS } from '@tendril/contract';
import { envInt, envString } from '@tendril/platform';

export interface XdsServerConfig {
  /** TENDRIL_XDS_HOST: where the ADS gRPC server binds. */
  grpcHost: string;
  /** TENDRIL_XDS_PORT: the ADS gRPC port. */
  grpcPort: number;
}

export const XDS_SERVER_CONFIG = Symbol('XDS_SERVER_CONFIG');

export function readXdsServerConfig(): XdsServerConfig {
  return {
    grpcHost: envString('TENDRIL_XDS_HOST', '0.0.0.0'),
    grpcPort: envInt('TENDRIL_XDS_PORT', PORTS.xdsGrpc, 0, 65535),
  };
}
