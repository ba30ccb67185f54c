/** `tendril-lb` entries from the IR's L4 services. */
import type { LbService } from '@tendril/contract';
import type { L4ServiceIR } from '@tendril/model';

export function desiredLbService(cluster: string, service: L4ServiceIR): LbService {
  return {
    v: 1,
    cluster,
    namespace: service.namespace,
    name: service.name,
    frontends: service.frontends.map((frontend) => ({ ...frontend })),
    backends: service.backends.map((backend) => ({ ...backend })),
    algorithm: service.algorithm,
    affinity: service.affinity ? { ...service.affinity } : null,
    l7Proxy: service.l7Redirect ? l7Proxy(service.l7Redirect) : null,
    ...(service.externalLocal ? { externalTrafficPolicy: 'Local' as const } : {}),
    ...(service.externalLocal?.healthCheckNodePort !== undefined ? { healthCheckNodePort: service.externalLocal.healthCheckNodePort } : {}),
  };
}

function l7Proxy(redirect: NonNullable<L4ServiceIR['l7Redirect']>): NonNullable<LbService['l7Proxy']> {
  const entries = Object.entries(redirect.frontendPorts ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  return entries.length ? { port: redirect.port, frontendPorts: Object.fromEntries(entries) } : { port: redirect.port };
}
