/**
 * Hand-written Envoy resources (CiliumEnvoyConfig) as emitted: already proto3 JSON, so only their
 * proxy selection and the object they came from travel with them.
 */
import type { EnvoyConfigResourceType, MeshIR } from '@tendril/model';
import type { XdsEmitter } from './index.js';

function emitterOf(type: EnvoyConfigResourceType): XdsEmitter {
  return {
    type,
    emit: (ir: MeshIR) =>
      ir.envoyConfigs
        .filter((item) => item.type === type)
        .map((item) => ({ name: item.name, resource: item.resource, objectKey: item.objectKey, ...(item.proxies ? { nodeSelector: item.proxies } : {}) })),
  };
}

export const ENVOY_CONFIG_EMITTERS: readonly XdsEmitter[] = (['cluster', 'endpoint', 'secret', 'listener', 'route'] as const).map(emitterOf);
