/**
 * Which identities the cluster needs, and where: a service account needs a certificate while a Pod
 * using it is scheduled on a node and has not finished; its certificate goes to those nodes only.
 */
import { IdentityError, spiffeId } from './spiffe.js';

/** What issuance needs of a Pod (Kubernetes field names). */
export interface PodPlacement {
  namespace: string;
  name: string;
  /** spec.serviceAccountName; Kubernetes defaults it to `default`. */
  serviceAccountName?: string;
  /** spec.nodeName; unset while the Pod is not scheduled. */
  nodeName?: string;
  /** status.phase */
  phase?: string;
}

export interface IdentityPlacement {
  spiffeId: string;
  namespace: string;
  serviceAccount: string;
  /** Node names where Pods of the service account run, sorted. */
  nodes: string[];
}

/** The identities to issue, sorted by SPIFFE ID, and an error per Pod that cannot have one. */
export function workloadIdentities(pods: Iterable<PodPlacement>, trustDomain: string): { identities: IdentityPlacement[]; errors: string[] } {
  const byId = new Map<string, IdentityPlacement>();
  const errors: string[] = [];
  for (const pod of pods) {
    if (!pod.nodeName || pod.phase === 'Succeeded' || pod.phase === 'Failed') continue;
    const serviceAccount = pod.serviceAccountName || 'default';
    let id: string;
    try {
      id = spiffeId({ trustDomain, namespace: pod.namespace, serviceAccount });
    } catch (error) {
      errors.push(`${pod.namespace}/Pod/${pod.name}: ${error instanceof IdentityError ? error.message : String(error)}`);
      continue;
    }
    const entry = byId.get(id) ?? { spiffeId: id, namespace: pod.namespace, serviceAccount, nodes: [] };
    if (!entry.nodes.includes(pod.nodeName)) entry.nodes.push(pod.nodeName);
    byId.set(id, entry);
  }
  const identities = [...byId.values()].sort((a, b) => (a.spiffeId < b.spiffeId ? -1 : a.spiffeId > b.spiffeId ? 1 : 0));
  for (const identity of identities) identity.nodes.sort();
  return { identities, errors: errors.sort() };
}
