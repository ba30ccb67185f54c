/** A kubernetes.io/tls Secret loaded once per translation as an SDS secret (Ingress and Gateway listeners). */
import type { TranslationContext } from '../context.js';
import { tlsSecretName } from '../names.js';
import type { IndexedObject } from '../objects.js';

/** SDS secrets already made, by name. */
export interface LoadedSecrets {
  has(name: string): boolean;
  add(name: string): unknown;
}

/** The SDS name of Secret `namespace/name` (pushed to the IR the first time), or why it cannot serve. */
export function loadTlsSecret(context: TranslationContext, secrets: { get(id: string): IndexedObject | undefined }, loaded: LoadedSecrets, namespace: string, name: string): string | { problem: string } {
  const entry = secrets.get(`${namespace}/${name}`);
  if (!entry) return { problem: `Secret ${namespace}/${name} not found` };
  const secretName = tlsSecretName(namespace, name);
  if (loaded.has(secretName)) return secretName;
  const data = (entry.object['data'] ?? {}) as Record<string, unknown>;
  const decode = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '');
  const certificateChain = decode(data['tls.crt']);
  const privateKey = decode(data['tls.key']);
  if (entry.object['type'] !== 'kubernetes.io/tls' || !certificateChain.includes('-----BEGIN') || !privateKey.includes('-----BEGIN')) {
    return { problem: `Secret ${namespace}/${name} is not a kubernetes.io/tls Secret with PEM tls.crt and tls.key` };
  }
  context.ir.secrets.push({ name: secretName, certificateChain, privateKey, source: entry.source });
  loaded.add(secretName);
  return secretName;
}
