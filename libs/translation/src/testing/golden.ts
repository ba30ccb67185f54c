/**
 * Golden-file runner for translation tests: `<case>.in.yaml` (multi-document manifests) ->
 * `<case>.out.yaml`. With UPDATE_GOLDEN=1 the outputs are rewritten and outputs without an input are
 * deleted; otherwise a difference fails the case. Test-only.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { objectKey, type KubeObject, type ObjectKind } from '@tendril/contract';
import { translate } from '../translate.js';
import { DEFAULT_TRANSLATION_OPTIONS, type TranslationOptions } from '../options.js';
import { allocateAddresses } from '../allocate/stable-hash.js';

export const TEST_CLUSTER = 'c1';
/** Test-only annotations: put an object in another cluster, or under a key of the test's choosing. */
export const CLUSTER_ANNOTATION = 'tendril.test/cluster';
export const KEY_ANNOTATION = 'tendril.test/key';

export interface GoldenCase {
  name: string;
  input: string;
  outputPath: string;
}

export function goldenCases(dir: string): GoldenCase[] {
  const files = readdirSync(dir).sort();
  return files
    .filter((file) => file.endsWith('.in.yaml'))
    .map((file) => {
      const name = file.slice(0, -'.in.yaml'.length);
      return { name, input: readFileSync(join(dir, file), 'utf8'), outputPath: join(dir, `${name}.out.yaml`) };
    });
}

export const updating = process.env['UPDATE_GOLDEN'] === '1';

/** Compares (or, when updating, writes) one case's output; returns a description of the difference. */
export function checkGolden(golden: GoldenCase, actual: string): string | undefined {
  if (updating) {
    writeFileSync(golden.outputPath, actual);
    return undefined;
  }
  if (!existsSync(golden.outputPath)) return `${golden.outputPath} missing; run with UPDATE_GOLDEN=1`;
  const expected = readFileSync(golden.outputPath, 'utf8');
  return expected === actual ? undefined : `${golden.name}: output differs from ${golden.outputPath} (UPDATE_GOLDEN=1 rewrites it)`;
}

/** Deletes outputs whose input is gone (only when updating); returns the orphans found. */
export function orphanOutputs(dir: string): string[] {
  const inputs = new Set(readdirSync(dir).filter((f) => f.endsWith('.in.yaml')).map((f) => f.slice(0, -'.in.yaml'.length)));
  const orphans = readdirSync(dir).filter((f) => f.endsWith('.out.yaml') && !inputs.has(f.slice(0, -'.out.yaml'.length)));
  if (updating) for (const orphan of orphans) rmSync(join(dir, orphan));
  return updating ? [] : orphans;
}

/** Manifests -> `tendril-objects` entries, keyed as the watcher keys them (namespace defaults to default). */
export function manifestObjects(text: string): [string, KubeObject][] {
  const out: [string, KubeObject][] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length) throw new Error(`bad YAML: ${document.errors[0]!.message}`);
    const object = document.toJS() as KubeObject | null;
    if (!object) continue;
    const annotations = (object.metadata?.annotations ?? {}) as Record<string, string>;
    const forcedKey = annotations[KEY_ANNOTATION];
    const cluster = annotations[CLUSTER_ANNOTATION] ?? TEST_CLUSTER;
    const key = forcedKey ?? objectKey({ cluster, kind: String(object.kind).toLowerCase() as ObjectKind, namespace: object.metadata?.namespace ?? 'default', name: object.metadata.name });
    out.push([key, object]);
  }
  return out;
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/**
 * The objects as they stand once the owned objects of their translation are in the cluster (as the
 * k8s-watcher puts them there) with addresses from LB-IPAM (the default options' Ingress and Gateway
 * ranges; a NodePort Service's cluster IP from the Ingress range): what a translation reads after one
 * round trip, so goldens show the load balancers served.
 */
export function withOwnedObjects(cluster: string, objects: [string, KubeObject][], options: Partial<TranslationOptions> = {}): [string, KubeObject][] {
  const settings = { ...DEFAULT_TRANSLATION_OPTIONS, ...options };
  const { owned } = translate({ cluster, objects, options });
  // the cluster's LB provider, as this test stands for it: a stable pick per Service from its range
  const services = owned.map(({ object }) => object).filter((object) => object.kind === 'Service');
  const idOf = (object: KubeObject) => `${object.metadata.namespace}/${object.metadata.name}`;
  const isGateway = (object: KubeObject) => object.metadata.labels?.['io.cilium.gateway/owning-gateway'] !== undefined;
  const addresses = new Map([
    ...(allocateAddresses(services.filter((object) => !isGateway(object)).map(idOf), settings.ingressCidr) ?? []),
    ...(allocateAddresses(services.filter(isGateway).map(idOf), settings.gatewayCidr) ?? []),
  ]);
  const added = owned.map(({ key, object }): [string, KubeObject] => {
    const address = addresses.get(`${object.metadata.namespace}/${object.metadata.name}`);
    if (object.kind !== 'Service' || !address) return [key, object];
    const spec = object['spec'] as { type: string };
    if (spec.type === 'LoadBalancer') return [key, { ...object, status: { loadBalancer: { ingress: [{ ip: address }] } } }];
    return [key, { ...object, spec: { ...spec, clusterIP: address, clusterIPs: [address] } }];
  });
  const keys = new Set(added.map(([key]) => key));
  return [...objects.filter(([key]) => !keys.has(key)), ...added];
}
