/**
 * A kubernetes.io/tls Secret loaded once per translation as an SDS secret (Ingress and Gateway
 * listeners). Its `tls.crt` must parse as an X.509 certificate (the first one of the chain is the
 * leaf) and its `tls.key` as an unencrypted private key that is the key of that certificate
 * (X509Certificate.checkPrivateKey): else Envoy refuses the secret, or serves a certificate it cannot
 * prove it holds. Expiry is not looked at (a translation has no clock: same input, same output).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
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
  const pair = tlsKeyPair(entry, namespace, name);
  if ('problem' in pair) return pair;
  context.ir.secrets.push({ name: secretName, ...pair, source: entry.source });
  loaded.add(secretName);
  return secretName;
}

/** Whether Secret `namespace/name` holds a certificate and key that can serve, without loading it (nothing is published). */
export function tlsSecretProblem(secrets: { get(id: string): IndexedObject | undefined }, namespace: string, name: string): string | undefined {
  const entry = secrets.get(`${namespace}/${name}`);
  if (!entry) return `Secret ${namespace}/${name} not found`;
  const pair = tlsKeyPair(entry, namespace, name);
  return 'problem' in pair ? pair.problem : undefined;
}

function tlsKeyPair(entry: IndexedObject, namespace: string, name: string): { certificateChain: string; privateKey: string } | { problem: string } {
  const data = (entry.object['data'] ?? {}) as Record<string, unknown>;
  const decode = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '');
  const certificateChain = decode(data['tls.crt']);
  const privateKey = decode(data['tls.key']);
  if (entry.object['type'] !== 'kubernetes.io/tls' || !certificateChain.includes('-----BEGIN') || !privateKey.includes('-----BEGIN')) {
    return { problem: `Secret ${namespace}/${name} is not a kubernetes.io/tls Secret with PEM tls.crt and tls.key` };
  }
  const pairProblem = keyPairProblem(entry.object, certificateChain, privateKey);
  if (pairProblem) return { problem: `Secret ${namespace}/${name}: ${pairProblem}` };
  return { certificateChain, privateKey };
}

/** Verdicts by Secret object (stored objects are replaced, never changed, when they change): parsing is not redone per listener or per pass. */
const verdicts = new WeakMap<object, string | undefined>();

/** Why the certificate and key cannot serve together, or undefined. */
function keyPairProblem(object: object, certificateChain: string, privateKey: string): string | undefined {
  if (verdicts.has(object)) return verdicts.get(object);
  let problem: string | undefined;
  let certificate: X509Certificate | undefined;
  try {
    certificate = new X509Certificate(certificateChain);
  } catch (error) {
    problem = `tls.crt does not parse as an X.509 certificate (${(error as Error).message})`;
  }
  if (certificate) {
    try {
      if (!certificate.checkPrivateKey(createPrivateKey(privateKey))) problem = 'tls.key is not the private key of the certificate in tls.crt';
    } catch (error) {
      problem = `tls.key does not parse as an unencrypted private key (${(error as Error).message})`;
    }
  }
  verdicts.set(object, problem);
  return problem;
}

const caVerdicts = new WeakMap<object, string | undefined>();

/** Why a PEM bundle of CA certificates (`ca.crt`) would not load in Envoy: a block that does not parse as X.509. */
export function caBundleProblem(object: object, pem: string): string | undefined {
  if (caVerdicts.has(object)) return caVerdicts.get(object);
  let problem: string | undefined;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) problem = 'ca.crt holds no complete PEM certificate';
  blocks.forEach((block, i) => {
    if (problem) return;
    try {
      new X509Certificate(block);
    } catch (error) {
      problem = `certificate ${i + 1} of ca.crt does not parse as X.509 (${(error as Error).message})`;
    }
  });
  caVerdicts.set(object, problem);
  return problem;
}
