/**
 * Translation: Kubernetes objects (as mirrored from `tendril-objects`) -> IR (+ statuses) -> Envoy
 * resources (proto3 JSON), `tendril-lb` entries, statuses and errors. Pure: no I/O, no clock, no
 * randomness; same input, same output. Features (objects -> IR) and emitters (IR -> xDS) are explicit
 * ordered lists.
 */
export { translate, type TranslationInput, type TranslationOutput, type XdsOutput, type StatusOutput } from './translate.js';
export type { TranslationError } from './problems.js';
export { TranslationMemo, type MemoStats } from './memo.js';
export type { Feature, TranslationContext } from './context.js';
export { FEATURES } from './features/index.js';
export { SUPPORTED_FEATURES } from './features/gateway-api/status.js';
export { XDS_EMITTERS, XDS_TYPE_ORDER, type XdsEmitter, type Resource } from './xds/index.js';
export * from './names.js';
export { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from './options.js';
export { ANNOTATIONS } from './annotations.js';
export { KIND_NAMES, KIND_ALIASES } from './objects.js';
export { envoyConfigStatus, withRefusedResources } from './envoy-config/status.js';
export { listenerPort, qualifiedName, resourceReferences } from './envoy-config/names.js';
export { ENVOY_CONFIG_TYPE_URLS, HOSTNAME_LABEL } from './features/envoy-config.js';
export { withProxyRejections, resourceOwners, sourceKey, REJECTED_BY_PROXY_REASON, DEFAULT_GATEWAY_CONTROLLER, type ProxyRejection, type RejectionNote, type OverlayOptions } from './proxy-rejections.js';
export { ownedObjects, readNodes, type OwnedOutput, type OwnedLoadBalancer, type OwnedNode, ENDPOINT_SLICE_MANAGER } from './owned/owned-objects.js';
