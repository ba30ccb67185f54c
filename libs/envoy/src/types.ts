/**
 * The xDS resource types Tendril serves. Mirrors XDS_TYPES of @tendril/contract (which this lib may
 * not import: envoy sits below the contract); a test in the xds lib checks the two agree.
 */
export const ENVOY_TYPE_URLS = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type XdsType = keyof typeof ENVOY_TYPE_URLS;

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Full message name (no leading dot) of a type URL or an xDS type. */
export function messageNameOf(typeOrUrl: string): string {
  const url = typeOrUrl in ENVOY_TYPE_URLS ? ENVOY_TYPE_URLS[typeOrUrl as XdsType] : typeOrUrl;
  const slash = url.lastIndexOf('/');
  return slash >= 0 ? url.slice(slash + 1) : url;
}

export function typeUrlOf(messageName: string): string {
  return TYPE_URL_PREFIX + messageName.replace(/^\./, '');
}
