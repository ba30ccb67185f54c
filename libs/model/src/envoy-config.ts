/**
 * Envoy resources a user wrote by hand (CiliumEnvoyConfig, CiliumClusterwideEnvoyConfig), carried
 * through the IR as proto3 JSON after their names were qualified. Tendril does not interpret them
 * beyond names and references; Envoy's own rules are checked where the protos are at hand (the
 * translator app, before publishing).
 */
import type { SourceObject } from './source.js';

export const ENVOY_CONFIG_RESOURCE_TYPES = ['listener', 'route', 'cluster', 'endpoint', 'secret'] as const;
export type EnvoyConfigResourceType = (typeof ENVOY_CONFIG_RESOURCE_TYPES)[number];

/** Which proxies get a resource, by Envoy node id or node.cluster; absent = every proxy. */
export interface ProxySelectorIR {
  nodeIds?: string[];
  clusters?: string[];
}

export interface EnvoyConfigResourceIR {
  type: EnvoyConfigResourceType;
  /** Qualified name (`<namespace>/<config>/<name>` unless the user's name already held a `/`). */
  name: string;
  /** The resource as proto3 JSON, names and references qualified, without its "@type". */
  resource: Record<string, unknown>;
  proxies?: ProxySelectorIR;
  source: SourceObject;
  /** `tendril-objects` key of the config object: where a refusal found later is reported. */
  objectKey: string;
}
