/**
 * Listeners, routes and secrets. Declared so the IR has a place for them; not produced yet (Ingress
 * and Gateway API translation fill them in later). validate() already checks what it can.
 */
import type { SourceObject } from './source.js';

export interface ListenerIR {
  /** e.g. `default/my-gateway/http/80` */
  name: string;
  address: string;
  port: number;
  /** Name of the RouteIR this listener's HTTP connection manager asks RDS for. */
  routeName?: string;
  /** Names of SecretIRs holding the listener's certificates. */
  secretNames: string[];
  source: SourceObject;
}

export interface RouteIR {
  name: string;
  virtualHosts: VirtualHostIR[];
  source: SourceObject;
}

export interface VirtualHostIR {
  name: string;
  domains: string[];
  routes: HttpRouteRuleIR[];
}

export interface HttpRouteRuleIR {
  match: { pathPrefix?: string; pathExact?: string };
  /** Weighted backends by cluster name. */
  backends: { clusterName: string; weight: number }[];
}

export interface SecretIR {
  name: string;
  certificateChain: string;
  privateKey: string;
  source: SourceObject;
}
