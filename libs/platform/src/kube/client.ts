/**
 * The Kubernetes API connection: configuration (in-cluster service account or a kubeconfig), and
 * plain JSON requests through @kubernetes/client-node's own authentication and HTTP stack. Objects
 * stay plain JSON (the typed APIs turn timestamps into Dates and drop fields they do not know).
 */
import { delimiter } from 'node:path';
import { HttpMethod, IsomorphicFetchHttpLibrary, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { type KubeConfigSource, kubernetesDetected } from './detect.js';

export { type KubeConfigSource, kubernetesDetected };

export interface LoadedKubeConfig {
  config: KubeConfig;
  source: KubeConfigSource;
  /** The service account's namespace in a cluster, the context's namespace otherwise, else `default`. */
  namespace: string;
  server: string;
}

/**
 * In a pod (KUBERNETES_SERVICE_HOST set and no KUBECONFIG) the service account; otherwise the
 * kubeconfig named by KUBECONFIG or ~/.kube/config. `serviceAccountRoot` prefixes the service
 * account's files (for tests).
 */
export function loadKubeConfig(options: { serviceAccountRoot?: string; env?: NodeJS.ProcessEnv } = {}): LoadedKubeConfig {
  const env = options.env ?? process.env;
  const config = new KubeConfig();
  let source: KubeConfigSource;
  const file = env['KUBECONFIG'];
  if (file && !file.includes(delimiter)) {
    config.loadFromFile(file);
    source = 'kubeconfig';
  } else if (file || !kubernetesDetected(env)) {
    // several files to merge, or ~/.kube/config
    config.loadFromDefault();
    source = 'kubeconfig';
  } else {
    config.loadFromCluster(options.serviceAccountRoot ?? '');
    source = 'in-cluster';
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the Kubernetes configuration');
  const context = config.getContextObject(config.getCurrentContext());
  return { config, source, namespace: context?.namespace?.trim() || 'default', server: cluster.server };
}

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export class KubeClient {
  private readonly http = new IsomorphicFetchHttpLibrary();

  constructor(readonly config: KubeConfig) {}

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /** One JSON request; a non-2xx answer throws KubeApiError with the API's status code and message. */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const context = new RequestContext(this.server + path, HttpMethod[method]);
    await this.config.applySecurityAuthentication(context);
    context.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      context.setHeaderParam('Content-Type', contentType);
      context.setBody(JSON.stringify(body));
    }
    const response = await this.http.send(context).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      let message = text;
      let reason: string | undefined;
      try {
        const status = JSON.parse(text) as { message?: string; reason?: string };
        message = status.message ?? text;
        reason = status.reason;
      } catch {
        // not a Status object
      }
      throw new KubeApiError(response.httpStatusCode, `${method} ${path}: ${response.httpStatusCode} ${message}`.trim(), reason);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** The collection path of a kind: `/api/v1/services`, `/apis/gateway.networking.k8s.io/v1/httproutes`. */
export function collectionPath(group: string, version: string, plural: string, namespace?: string): string {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${base}/${plural}`;
}
