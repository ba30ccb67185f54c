/**
 * Envoy's own rules for hand-written resources (CiliumEnvoyConfig), checked here rather than in the
 * translation: they live in Envoy's .proto files (proto3 JSON field names and types, the
 * protoc-gen-validate annotations), which only @tendril/envoy loads, and translation stays pure (no
 * protobuf, no files). Generated resources are not checked on every run: their builders are covered by
 * golden tests against the same rules. A refused resource is left out of the batch and moved to the
 * refused list of its object's status; the rest of the object is still served. What uses a refused
 * resource is refused with it (a route configuration sending to a refused cluster, a listener asking
 * for a refused route configuration or sending to a refused cluster): Envoy would take it and answer
 * 503s or wait for a route that never comes.
 */
import { validateResource } from '@tendril/envoy';
import { listenerPort, resourceReferences, withRefusedResources, type TranslationError, type TranslationOutput, type XdsOutput } from '@tendril/translation';

export function checkHandWritten(output: TranslationOutput): TranslationOutput {
  const refused = new Map<string, { type: string; name: string; reason: string }[]>();
  const errors: TranslationError[] = [];
  const refuse = (item: XdsOutput, reason: string) => refused.set(item.objectKey!, [...(refused.get(item.objectKey!) ?? []), { type: item.type, name: item.name, reason }]);
  let xds = output.xds.filter((item) => {
    if (item.objectKey === undefined) return true;
    const problems = validateResource(item.type, item.resource);
    if (problems.length === 0) return true;
    refuse(item, `refused by Envoy's rules: ${problems.join('; ')}`);
    return false;
  });
  if (refused.size === 0) return output;
  xds = withoutUsersOfRefused(xds, refused, refuse);
  // A Service redirected to a refused listener would lose its traffic: it goes to its backends again.
  const deadPorts = new Map<number, string>();
  for (const item of output.xds) {
    const port = item.type === 'listener' && refused.get(item.objectKey ?? '')?.some((entry) => entry.type === 'listener' && entry.name === item.name) ? listenerPort(item.resource) : undefined;
    if (port !== undefined) deadPorts.set(port, item.objectKey!);
  }
  const lb = output.lb.map((service) => {
    const key = service.l7Proxy ? deadPorts.get(service.l7Proxy.port) : undefined;
    if (key === undefined) return service;
    refused.get(key)!.push({ type: 'lb', name: `${service.namespace}/${service.name}`, reason: `not redirected: its listener on port ${service.l7Proxy!.port} was refused` });
    return { ...service, l7Proxy: null };
  });
  const statuses = output.statuses.map((entry) => {
    const list = refused.get(entry.key);
    if (!list) return entry;
    const { status } = entry;
    const object = status.namespace === undefined ? `${status.kind}/${status.name}` : `${status.namespace}/${status.kind}/${status.name}`;
    for (const { type, name, reason } of list) errors.push({ object, message: `${type} ${name}: ${reason}` });
    return { key: entry.key, status: withRefusedResources(status, list) };
  });
  const allErrors = [...output.errors, ...errors].sort((a, b) => compare(`${a.object}\u0000${a.message}`, `${b.object}\u0000${b.message}`));
  // Not a patch of what was published any more (its LB entries may have lost their redirect): published whole.
  const { patch: _patch, ...whole } = output;
  return { ...whole, xds, lb, statuses, errors: allErrors };
}

/** Drops, until nothing changes, the hand-written routes and listeners that use a refused resource. */
function withoutUsersOfRefused(xds: XdsOutput[], refused: Map<string, { type: string; name: string }[]>, refuse: (item: XdsOutput, reason: string) => void): XdsOutput[] {
  const gone = new Set([...refused.values()].flat().map(({ type, name }) => `${type} ${name}`));
  for (let changed = true; changed; ) {
    changed = false;
    xds = xds.filter((item) => {
      if (item.objectKey === undefined || (item.type !== 'route' && item.type !== 'listener')) return true;
      const references = resourceReferences(item.type, item.resource);
      const used = [...references.clusters.map((name) => `cluster ${name}`), ...references.routes.map((name) => `route ${name}`)].find((id) => gone.has(id));
      if (used === undefined) return true;
      refuse(item, `refused with ${used}, which it uses and which was refused`);
      gone.add(`${item.type} ${item.name}`);
      changed = true;
      return false;
    });
  }
  return xds;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
