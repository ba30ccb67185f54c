/** Shared bits of Envoy JSON: ADS config sources and typed extension wrappers. */
import type { Resource } from './cluster.js';

export const TYPE_PREFIX = 'type.googleapis.com/';

/** Everything (RDS, EDS, SDS) comes over the same ADS stream. */
export function adsConfigSource(): Resource {
  return { ads: {}, resourceApiVersion: 'V3' };
}

export function typed(typeName: string, config: Resource = {}): Resource {
  return { '@type': TYPE_PREFIX + typeName, ...config };
}
