/**
 * The conformance applier for standalone mode: fills the placeholders the way the Go suite's applier
 * does (every Gateway gets our GatewayClass, every GatewayClass our controller name, the address
 * placeholders our pools), gives every Service an EndpointSlice with loopback addresses for the pods
 * its selector picks (one per Deployment replica, named `<deployment>-<hash>-<n>` as Kubernetes names
 * them), and keeps only what the watcher mirrors (Deployments stay out: no API server runs them;
 * ConfigMaps only with `ca.crt`). Mutations of the corpus (`mutate` checks) edit these documents and the file is
 * written again.
 */
import { OBJECT_KINDS } from '@tendril/contract';
import { parseAllDocuments, stringify } from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents of any kind, walked by field name
export type Doc = Record<string, any>;

export const GATEWAY_CLASS = 'cilium';
export const CONTROLLER_NAME = 'io.cilium/gateway-controller';
/** Pools the suite is given: a usable address inside the translator's Gateway CIDR, an unusable one outside it. */
export const USABLE_ADDRESSES = [{ type: 'IPAddress', value: '127.102.250.1' }];
export const UNUSABLE_ADDRESSES = [{ type: 'IPAddress', value: '198.51.100.7' }];

export interface Pod {
  namespace: string;
  deployment: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  /** Secret the pod serves TLS with (the echo backend's mounted certificate), if any. */
  tlsSecret?: string;
}

export function parseDocs(text: string): Doc[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Doc | null)
    .filter((doc): doc is Doc => !!doc && typeof doc === 'object' && typeof doc['kind'] === 'string');
}

export function renderDocs(docs: Doc[]): string {
  return docs.map((doc) => stringify(doc)).join('---\n');
}

export const refOf = (doc: Doc) => `${doc['metadata']?.['namespace'] ?? ''}/${doc['kind']}/${doc['metadata']?.['name']}`;

/** Placeholders, as the README's "Placeholders and applier behaviour" says. */
export function applyPlaceholders(doc: Doc): Doc {
  const out = structuredClone(doc);
  if (out['kind'] === 'Gateway' && out['spec']) {
    out['spec']['gatewayClassName'] = GATEWAY_CLASS;
    const addresses = out['spec']['addresses'] as { type?: string; value?: string }[] | undefined;
    if (addresses) {
      const next = addresses.filter((a) => a.type === 'test/fake-invalid-type');
      if (addresses.some((a) => a.value === 'PLACEHOLDER_UNUSABLE_ADDRS')) next.push(...UNUSABLE_ADDRESSES);
      if (addresses.some((a) => a.value === 'PLACEHOLDER_USABLE_ADDRS')) next.push(...USABLE_ADDRESSES);
      out['spec']['addresses'] = next;
    }
  }
  if (out['kind'] === 'GatewayClass' && out['spec']) out['spec']['controllerName'] = CONTROLLER_NAME;
  return out;
}

const mirrored = new Set<string>(OBJECT_KINDS);
/** The watcher's rule (libs/kube KindInfo.mirrors): ConfigMaps only when they hold `ca.crt`. */
const holdsCaCertificate = (doc: Doc) => typeof doc['data']?.['ca.crt'] === 'string' || typeof doc['binaryData']?.['ca.crt'] === 'string';
export const isMirrored = (doc: Doc) => mirrored.has(String(doc['kind']).toLowerCase()) && (doc['kind'] !== 'ConfigMap' || holdsCaCertificate(doc));

/** Loopback addresses for pods, stable per Deployment, and the reverse map a traffic check needs. */
export class Pods {
  private byDeployment = new Map<string, Pod[]>();
  readonly byAddress = new Map<string, Pod>();
  /** `<address>:<port>` -> the appProtocol of the EndpointSlice port (kubernetes.io/h2c, kubernetes.io/ws ...). */
  readonly appProtocols = new Map<string, string>();
  private next = 0;

  register(deployment: Doc): Pod[] {
    const namespace = String(deployment['metadata']?.['namespace'] ?? 'default');
    const name = String(deployment['metadata']['name']);
    const key = `${namespace}/${name}`;
    const existing = this.byDeployment.get(key);
    if (existing) return existing;
    const replicas = Number(deployment['spec']?.['replicas'] ?? 1);
    const labels = (deployment['spec']?.['template']?.['metadata']?.['labels'] ?? {}) as Record<string, string>;
    const volumes = (deployment['spec']?.['template']?.['spec']?.['volumes'] ?? []) as Doc[];
    const tlsSecret = volumes.map((v) => v['secret']?.['secretName'] as string | undefined).find(Boolean);
    const index = ++this.next;
    const pods = Array.from({ length: replicas }, (_, i) => ({
      namespace,
      deployment: name,
      name: `${name}-6d4f8b${index.toString(16)}-${String.fromCharCode(97 + i)}x${i}`,
      address: `127.50.${index}.${i + 1}`,
      labels,
      ...(tlsSecret ? { tlsSecret } : {}),
    }));
    this.byDeployment.set(key, pods);
    for (const pod of pods) this.byAddress.set(pod.address, pod);
    return pods;
  }

  selected(namespace: string, selector: Record<string, string>): Pod[] {
    const out: Pod[] = [];
    for (const pods of this.byDeployment.values()) {
      for (const pod of pods) if (pod.namespace === namespace && Object.entries(selector).every(([k, v]) => pod.labels[k] === v)) out.push(pod);
    }
    return out;
  }

  ofDeployment(namespace: string, name: string): Pod[] {
    return this.byDeployment.get(`${namespace}/${name}`) ?? [];
  }
}

/** An EndpointSlice for a Service with a selector, listing its pods as ready endpoints on the target ports. */
export function endpointSliceFor(service: Doc, pods: Pod[], registry?: Pods): Doc {
  const namespace = String(service['metadata']?.['namespace'] ?? 'default');
  const name = String(service['metadata']['name']);
  const ports = ((service['spec']?.['ports'] ?? []) as Doc[]).map((port) => ({
    name: port['name'] ?? '',
    port: typeof port['targetPort'] === 'number' ? port['targetPort'] : Number(port['port']),
    protocol: port['protocol'] ?? 'TCP',
    ...(port['appProtocol'] ? { appProtocol: port['appProtocol'] } : {}),
  }));
  for (const port of ports) if (port.appProtocol) for (const pod of pods) registry?.appProtocols.set(`${pod.address}:${port.port}`, String(port.appProtocol));
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-conformance`, namespace, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports,
    endpoints: pods.map((pod) => ({
      addresses: [pod.address],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace, name: pod.name },
    })),
  };
}

/**
 * One manifest file's documents as the watcher should read them: placeholders applied, pods of its
 * Deployments registered, an EndpointSlice added for each selector Service that has none, and only
 * mirrored kinds kept.
 */
export function prepare(docs: Doc[], pods: Pods): Doc[] {
  const applied = docs.map(applyPlaceholders);
  for (const doc of applied) if (doc['kind'] === 'Deployment') pods.register(doc);
  const sliced = new Set(applied.filter((d) => d['kind'] === 'EndpointSlice').map((d) => `${d['metadata']?.['namespace']}/${d['metadata']?.['labels']?.['kubernetes.io/service-name']}`));
  const out: Doc[] = [];
  for (const doc of applied) {
    if (!isMirrored(doc)) continue;
    out.push(doc);
    if (doc['kind'] === 'Service' && doc['spec']?.['selector'] && doc['spec']?.['type'] !== 'ExternalName') {
      const namespace = String(doc['metadata']?.['namespace'] ?? 'default');
      if (!sliced.has(`${namespace}/${doc['metadata']['name']}`)) out.push(endpointSliceFor(doc, pods.selected(namespace, doc['spec']['selector']), pods));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutations

function setPath(target: Doc, path: string, value: unknown): void {
  const parts = path.split('.').flatMap((part) => part.split(/\[(\d+)\]/).filter(Boolean)).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  let at: Doc = target;
  for (const part of parts.slice(0, -1)) {
    if (at[part] === undefined) at[part] = {};
    at = at[part];
  }
  at[parts[parts.length - 1]!] = value;
}

/** Applies a `mutate` check to the documents (in place); returns false when the object is not there. */
export function mutate(docs: Doc[], check: Doc): boolean {
  const index = docs.findIndex((d) => d['kind'] === check['kind'] && d['metadata']?.['name'] === check['name'] && (check['namespace'] == null || d['metadata']?.['namespace'] === check['namespace']));
  if (index < 0) return false;
  if (check['action'] === 'delete') {
    docs.splice(index, 1);
    return true;
  }
  const doc = docs[index]!;
  for (const change of (check['changes'] ?? []) as Doc[]) {
    switch (change['op']) {
      case 'appendListener':
        doc['spec']['listeners'] = [...(doc['spec']['listeners'] ?? []), change['value']];
        break;
      case 'keepOnlyListeners':
        doc['spec']['listeners'] = (doc['spec']['listeners'] ?? []).filter((l: Doc) => (change['names'] as string[]).includes(l['name']));
        break;
      case 'removeSpecAddress': {
        const pool = change['which'] === 'invalid' ? null : change['which'] === 'unusable' ? UNUSABLE_ADDRESSES : USABLE_ADDRESSES;
        doc['spec']['addresses'] = (doc['spec']['addresses'] ?? []).filter((a: Doc) =>
          pool === null ? a['type'] !== 'test/fake-invalid-type' : !pool.some((p) => p.value === a['value']),
        );
        break;
      }
      default:
        setPath(doc, String(change['path']), change['value']);
    }
  }
  return true;
}
