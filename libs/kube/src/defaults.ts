/** The defaults the API server fills in, so that downstream code sees what it would see in a cluster. */
import type { KubeObject } from '@tendril/contract';

type Json = Record<string, unknown>;

export function applyDefaults(object: KubeObject, namespaced: boolean): KubeObject {
  const copy = structuredClone(object) as KubeObject & Json;
  if (namespaced) copy.metadata.namespace ??= 'default';
  else delete copy.metadata.namespace;
  switch (copy.kind) {
    case 'Service':
      defaultService(copy);
      break;
    case 'EndpointSlice':
      defaultEndpointSlice(copy);
      break;
    case 'Secret':
      defaultSecret(copy);
      break;
  }
  return copy;
}

function defaultService(service: Json): void {
  const spec = ((service['spec'] as Json | undefined) ??= {});
  spec['type'] ??= 'ClusterIP';
  spec['sessionAffinity'] ??= 'None';
  if (spec['sessionAffinity'] === 'ClientIP') {
    const config = ((spec['sessionAffinityConfig'] as Json | undefined) ??= {});
    const clientIP = ((config['clientIP'] as Json | undefined) ??= {});
    clientIP['timeoutSeconds'] ??= 10800;
  }
  for (const port of (spec['ports'] as Json[] | undefined) ?? []) {
    port['protocol'] ??= 'TCP';
    port['targetPort'] ??= port['port'];
  }
  if (typeof spec['clusterIP'] === 'string' && spec['clusterIP'] !== '' && spec['clusterIPs'] === undefined) {
    spec['clusterIPs'] = [spec['clusterIP']];
  }
}

function defaultEndpointSlice(slice: Json): void {
  for (const port of (slice['ports'] as Json[] | undefined) ?? []) port['protocol'] ??= 'TCP';
  for (const endpoint of (slice['endpoints'] as Json[] | undefined) ?? []) {
    const conditions = ((endpoint['conditions'] as Json | undefined) ??= {});
    // The API leaves ready unset to mean "unknown, treat as ready"; serving follows ready unless set.
    conditions['ready'] ??= true;
    conditions['serving'] ??= conditions['ready'];
    conditions['terminating'] ??= false;
  }
}

function defaultSecret(secret: Json): void {
  secret['type'] ??= 'Opaque';
  const stringData = secret['stringData'] as Record<string, string> | undefined;
  if (stringData) {
    const data = ((secret['data'] as Record<string, string> | undefined) ??= {});
    for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(value, 'utf8').toString('base64');
    delete secret['stringData'];
  }
}
