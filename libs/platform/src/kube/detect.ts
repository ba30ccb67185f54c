/**
 * Whether a process runs against a cluster, from its environment alone: kept apart from the API client
 * so that deciding the mode does not load @kubernetes/client-node (tens of MiB) into services that
 * never talk to Kubernetes.
 */
export type KubeConfigSource = 'in-cluster' | 'kubeconfig';

/** Whether this process can reach a cluster: in a pod, or given a kubeconfig through KUBECONFIG. */
export function kubernetesDetected(env: NodeJS.ProcessEnv = process.env): KubeConfigSource | undefined {
  if (env['KUBERNETES_SERVICE_HOST'] && env['KUBERNETES_SERVICE_PORT']) return 'in-cluster';
  if (env['KUBECONFIG']) return 'kubeconfig';
  return undefined;
}
