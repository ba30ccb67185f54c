/** k8s/ rendered the way `kubectl apply -k` would, and checked against the Kubernetes OpenAPI schemas. */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered objects of every kind are walked freely
  [field: string]: any;
}

/** kubectl renders kustomize exactly as `kubectl apply -k` does; without it the render tests are skipped. */
export const kubectlMissing = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'kubectl is not installed';
  }
})();

export function render(dir: string): K8sObject[] {
  if (kubectlMissing) return [];
  const text = execFileSync('kubectl', ['kustomize', resolve(repoRoot, dir)], { encoding: 'utf8' });
  return parseAllDocuments(text).map((document) => document.toJS() as K8sObject).filter(Boolean);
}

/** The Secret (among `objects`) and key a file path in a workload's first container comes from, through a secret volume mount. */
export function secretFile(objects: K8sObject[], workload: K8sObject, path: string): { secret: K8sObject; key: string } | undefined {
  const spec = workload['spec'].template.spec;
  const mount = (spec.containers[0].volumeMounts ?? []).find((m: { mountPath: string }) => path.startsWith(`${m.mountPath}/`));
  const volume = mount && (spec.volumes ?? []).find((v: { name: string }) => v.name === mount.name);
  const secret = volume?.secret && objects.find((o) => o.kind === 'Secret' && o.metadata.name === volume.secret.secretName);
  return secret ? { secret, key: path.slice(mount.mountPath.length + 1) } : undefined;
}

/** kubernetes-models' class for an apiVersion/kind: its validate() applies the OpenAPI schema. */
export async function validateAgainstSchema(object: K8sObject): Promise<void> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const module = (await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (!Model) throw new Error(`${object.kind} ${object.metadata.name}: no schema for ${object.apiVersion}`);
  new Model(object).validate();
}
