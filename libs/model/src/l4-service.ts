/** An L3/L4 service as the datapath load-balances it: virtual addresses in front, endpoints behind. */
import type { SourceObject } from './source.js';

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';
export type FrontendScope = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalIP';

export interface L4FrontendIR {
  /** For NodePort frontends the unspecified address (0.0.0.0 or ::) stands for every node address. */
  address: string;
  port: number;
  protocol: L4Protocol;
  /** The Service port's name ('' when unnamed); backends with the same portName serve it. */
  portName: string;
  scope: FrontendScope;
}

export interface L4BackendIR {
  address: string;
  port: number;
  protocol: L4Protocol;
  portName: string;
  weight: number;
  /** active takes new connections; terminating only drains (used when no active one is left). */
  state: 'active' | 'terminating';
  nodeName?: string;
  zone?: string;
}

export const L4_ALGORITHMS = ['random', 'maglev', 'round-robin', 'least-request'] as const;
export type L4Algorithm = (typeof L4_ALGORITHMS)[number];

export interface L4ServiceIR {
  namespace: string;
  name: string;
  /** Sorted; no duplicates. */
  frontends: L4FrontendIR[];
  /** Sorted; no duplicates. */
  backends: L4BackendIR[];
  algorithm: L4Algorithm;
  /** Client-IP session affinity and how long it lasts; null when off. */
  affinity: { timeoutSeconds: number } | null;
  /**
   * When set, traffic goes to the node's Envoy on this port instead of the backends; a frontend port
   * listed in `frontendPorts` goes to the proxy port given there instead (one proxy listener per port).
   */
  l7Redirect: { port: number; frontendPorts?: Record<number, number> } | null;
  /** externalTrafficPolicy Local for the frontends reached from outside (absent: Cluster). */
  externalLocal?: { healthCheckNodePort?: number };
  source: SourceObject;
}
