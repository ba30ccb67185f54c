/**
 * Manifests as files hold them: multi-document YAML or JSON, `List` kinds unrolled. Each document
 * becomes either an accepted object (defaulted, with its contract key) or an error naming the file,
 * the object and the field; one bad document never hides the others.
 */
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { objectKey, withoutManagedFields, type KubeObject, type ObjectRef } from '@tendril/contract';
import { isMirroredObject, kindInfo } from './kinds.js';
import { validateObject } from './validate.js';
import { applyDefaults } from './defaults.js';

export interface ManifestObject {
  key: string;
  ref: ObjectRef;
  object: KubeObject;
  source: string;
}

export interface ManifestError {
  source: string;
  /** `namespace/Kind/name` when the document got that far. */
  object?: string;
  message: string;
}

export interface ParsedManifests {
  objects: ManifestObject[];
  errors: ManifestError[];
  /** Documents Tendril does not mirror (Deployments, ..., ConfigMaps without `ca.crt`): skipped, not errors. */
  skipped: number;
}

export function describeObject(object: { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }, namespaced = true): string {
  const name = String(object.metadata?.name ?? '?');
  const kind = String(object.kind ?? '?');
  return namespaced ? `${String(object.metadata?.namespace ?? 'default')}/${kind}/${name}` : `${kind}/${name}`;
}

export function parseManifests(text: string, source: string, cluster: string): ParsedManifests {
  const out: ParsedManifests = { objects: [], errors: [], skipped: 0 };
  let documents;
  try {
    documents = parseAllDocuments(text, { prettyErrors: true });
  } catch (error) {
    out.errors.push({ source, message: `not YAML: ${(error as Error).message}` });
    return out;
  }
  const list = Array.isArray(documents) ? documents : [documents];
  list.forEach((document, index) => {
    const where = `${source}#${index + 1}`;
    if (document.errors.length > 0) {
      out.errors.push({ source: where, message: `not YAML: ${document.errors[0]!.message}` });
      return;
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    for (const item of unroll(value)) accept(item, where, cluster, out);
  });
  return out;
}

function unroll(value: unknown): unknown[] {
  if (isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) {
    return value['items'] as unknown[];
  }
  return [value];
}

function accept(value: unknown, source: string, cluster: string, out: ParsedManifests): void {
  if (!isRecord(value) || typeof value['apiVersion'] !== 'string' || typeof value['kind'] !== 'string') {
    out.errors.push({ source, message: 'not a Kubernetes object: apiVersion and kind are required' });
    return;
  }
  const info = kindInfo(value['apiVersion'], value['kind']);
  if (!info) {
    out.skipped++;
    return;
  }
  const object = withoutManagedFields(value as KubeObject);
  const described = describeObject(object, info.namespaced);
  const problems = validateObject(object);
  if (problems.length > 0) {
    out.errors.push({ source, object: described, message: problems.join('; ') });
    return;
  }
  if (!isMirroredObject(info, object)) {
    out.skipped++;
    return;
  }
  const defaulted = applyDefaults(object, info.namespaced);
  const ref: ObjectRef = { cluster, kind: info.key, name: defaulted.metadata.name };
  if (info.namespaced) ref.namespace = defaulted.metadata.namespace!;
  out.objects.push({ key: objectKey(ref), ref, object: defaulted, source });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A stable uid for objects that never met an API server: the same key always gets the same uid. */
export function standaloneUid(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
