/**
 * Desired status of a CiliumEnvoyConfig / CiliumClusterwideEnvoyConfig. Cilium only logs what it
 * refuses; Tendril writes it down: an Accepted condition, the resources served (`<type> <name>`) and
 * every refusal with its reason. The translator app adds refusals it finds with Envoy's own rules
 * (withRefusedResources), so the status is rebuilt from the status alone.
 */
import type { ObjectStatus } from '@tendril/contract';
import { compare } from '../problems.js';

export interface EnvoyConfigIdentity {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  generation?: number;
}

export function envoyConfigStatus(identity: EnvoyConfigIdentity, served: string[], errors: string[]): ObjectStatus {
  const resources = [...new Set(served)].sort(compare);
  const refused = [...new Set(errors)].sort(compare);
  const condition: Record<string, unknown> = resources.length === 0 && refused.length > 0
    ? { type: 'Accepted', status: 'False', reason: 'Invalid', message: `nothing served: ${refused.length} error(s)` }
    : refused.length > 0
      ? { type: 'Accepted', status: 'True', reason: 'PartiallyAccepted', message: `${resources.length} resource(s) served, ${refused.length} error(s)` }
      : { type: 'Accepted', status: 'True', reason: 'Accepted', message: `${resources.length} resource(s) served` };
  if (identity.generation !== undefined) condition['observedGeneration'] = identity.generation;
  const status: ObjectStatus = {
    v: 1,
    apiVersion: identity.apiVersion,
    kind: identity.kind,
    name: identity.name,
    status: { conditions: [condition], resources, errors: refused },
  };
  if (identity.namespace !== undefined) status.namespace = identity.namespace;
  if (identity.generation !== undefined) status.observedGeneration = identity.generation;
  return status;
}

/** The status with these resources moved from served to refused, each with its reason. */
export function withRefusedResources(status: ObjectStatus, refused: { type: string; name: string; reason: string }[]): ObjectStatus {
  const body = status.status as { resources?: unknown; errors?: unknown };
  const served = Array.isArray(body.resources) ? body.resources.filter((item): item is string => typeof item === 'string') : [];
  const errors = Array.isArray(body.errors) ? body.errors.filter((item): item is string => typeof item === 'string') : [];
  const gone = new Set(refused.map(({ type, name }) => `${type} ${name}`));
  const identity: EnvoyConfigIdentity = { apiVersion: status.apiVersion, kind: status.kind, name: status.name };
  if (status.namespace !== undefined) identity.namespace = status.namespace;
  if (status.observedGeneration !== undefined) identity.generation = status.observedGeneration;
  return envoyConfigStatus(
    identity,
    served.filter((item) => !gone.has(item)),
    [...errors, ...refused.map(({ type, name, reason }) => `${type} ${name}: ${reason}`)],
  );
}
