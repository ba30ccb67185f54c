/**
 * Security labels and identities, as Cilium derives them: a workload's identity is the set of its
 * security-relevant labels, each with a source (`k8s` for what Kubernetes says of the Pod and its
 * namespace, `reserved` for the identities Cilium reserves, `cidr` for address ranges policies name).
 */

/** One label of an identity. */
export interface SecurityLabel {
  source: string;
  key: string;
  value: string;
}

export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';
export const SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';

/**
 * Pod labels that differ between the Pods of one workload (a rollout's hash, a StatefulSet ordinal):
 * keeping them would give every Pod an identity of its own, as Cilium's default label filter avoids.
 */
const VOLATILE_POD_LABELS = new Set([
  'pod-template-hash',
  'pod-template-generation',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/job-completion-index',
  'batch.kubernetes.io/controller-uid',
  'controller-uid',
]);

/** Cilium's reserved identities and their fixed numbers (pkg/identity: 0 is "unknown", never allocated). */
export const RESERVED_IDENTITIES = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
} as const;
export type ReservedName = keyof typeof RESERVED_IDENTITIES;

/** The key of a reserved identity (`reserved:world`). */
export function reservedKey(name: ReservedName): string {
  return `reserved:${name}`;
}

/** The key of the identity of an address range named by a policy (`cidr:198.18.0.0/16`). */
export function cidrKey(prefix: string): string {
  return `cidr:${prefix}`;
}

/** A label as Cilium prints it: `k8s:app=web`. */
export function labelString(label: SecurityLabel): string {
  return `${label.source}:${label.key}=${label.value}`;
}

/** The canonical key of a label set: its labels sorted and joined; the same set always gives the same key. */
export function identityKey(labels: readonly SecurityLabel[]): string {
  return labels.map(labelString).sort().join(';');
}

export interface WorkloadFacts {
  cluster: string;
  namespace: string;
  podLabels: Readonly<Record<string, string>>;
  namespaceLabels: Readonly<Record<string, string>>;
  serviceAccount?: string;
}

/** The security labels of a workload: its Pod's labels (volatile ones aside), its namespace and the namespace's labels, its service account and cluster. */
export function workloadLabels(facts: WorkloadFacts): SecurityLabel[] {
  const labels: SecurityLabel[] = [];
  for (const [key, value] of Object.entries(facts.podLabels)) if (!VOLATILE_POD_LABELS.has(key)) labels.push({ source: 'k8s', key, value });
  labels.push({ source: 'k8s', key: POD_NAMESPACE_LABEL, value: facts.namespace });
  for (const [key, value] of Object.entries(facts.namespaceLabels)) labels.push({ source: 'k8s', key: NAMESPACE_LABELS_PREFIX + key, value });
  labels.push({ source: 'k8s', key: SERVICE_ACCOUNT_LABEL, value: facts.serviceAccount || 'default' });
  labels.push({ source: 'k8s', key: CLUSTER_LABEL, value: facts.cluster });
  return labels.sort((a, b) => (labelString(a) < labelString(b) ? -1 : labelString(a) > labelString(b) ? 1 : 0));
}

/** The labels of a reserved identity: `reserved:<name>` (kube-apiserver also carries remote-node, as in Cilium). */
export function reservedLabels(name: ReservedName): SecurityLabel[] {
  const labels: SecurityLabel[] = [{ source: 'reserved', key: name, value: '' }];
  if (name === 'kube-apiserver') labels.push({ source: 'reserved', key: 'remote-node', value: '' });
  return labels;
}
