/** The xDS resource types Tendril serves, by short name: the contract's own table. */
import { XDS_TYPES, type XdsType } from '@tendril/contract';

export const ENVOY_TYPE_URLS = XDS_TYPES;
export type { XdsType };

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
