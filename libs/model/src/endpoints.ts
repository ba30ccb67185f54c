/** The endpoints of one cluster, as EDS serves them. */
import type { SourceObject } from './source.js';

/**
 * ready: takes traffic. serving: answers but is not ready (only seen with publishNotReadyAddresses
 * style setups); still takes traffic. terminating: serving while shutting down, drained.
 * Endpoints that are neither ready nor serving are not in the IR at all.
 */
export const ENDPOINT_HEALTHS = ['ready', 'serving', 'terminating'] as const;
export type EndpointHealth = (typeof ENDPOINT_HEALTHS)[number];

export interface EndpointIR {
  address: string;
  port: number;
  health: EndpointHealth;
  /** Relative weight, 1 or more. */
  weight: number;
  zone?: string;
  nodeName?: string;
  /** 0 (absent) is preferred; higher priorities take traffic only when lower ones have no healthy endpoint. */
  priority?: number;
}

export interface ClusterEndpointsIR {
  /** Name of the ClusterIR these endpoints belong to. */
  clusterName: string;
  /** Sorted by address, then port; no duplicates. */
  endpoints: EndpointIR[];
  source: SourceObject;
}
