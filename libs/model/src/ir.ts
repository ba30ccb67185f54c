/** The whole intermediate representation of one translation: what the mesh should look like. */
import type { ClusterIR } from './cluster.js';
import type { ClusterEndpointsIR } from './endpoints.js';
import type { EnvoyConfigResourceIR } from './envoy-config.js';
import type { L4ServiceIR } from './l4-service.js';
import type { ListenerIR, RouteIR, SecretIR } from './l7.js';

export interface MeshIR {
  clusters: ClusterIR[];
  endpoints: ClusterEndpointsIR[];
  l4Services: L4ServiceIR[];
  listeners: ListenerIR[];
  routes: RouteIR[];
  secrets: SecretIR[];
  /** Hand-written Envoy resources (CiliumEnvoyConfig), served as given after their names were qualified. */
  envoyConfigs: EnvoyConfigResourceIR[];
}

export function emptyIR(): MeshIR {
  return { clusters: [], endpoints: [], l4Services: [], listeners: [], routes: [], secrets: [], envoyConfigs: [] };
}
