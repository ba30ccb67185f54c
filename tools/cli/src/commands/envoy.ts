/** `tendril envoy bootstrap --node N`: the node proxy's Envoy bootstrap, as the DaemonSet and `npm start` run it. No NATS. */
import { stringify } from 'yaml';
import { nodeBootstrap, parseBootstrapAddress } from '@tendril/envoy';
import { UsageError, type OutputFormat } from '../output.js';

export interface BootstrapCommandOptions {
  node: string;
  xds: string;
  als: string;
  adminPort: string;
}

export function envoyBootstrap(format: OutputFormat, options: BootstrapCommandOptions): void {
  const adminPort = Number(options.adminPort);
  if (!Number.isInteger(adminPort) || adminPort < 1 || adminPort > 65535) throw new UsageError(`--admin-port ${options.adminPort}: not a port`);
  let bootstrap;
  try {
    bootstrap = nodeBootstrap({ node: options.node, xds: parseBootstrapAddress(options.xds), als: parseBootstrapAddress(options.als), adminPort });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // YAML unless JSON is asked for: `envoy -c` reads either
  process.stdout.write(format === 'json' ? `${JSON.stringify(bootstrap, null, 2)}\n` : stringify(bootstrap));
}
