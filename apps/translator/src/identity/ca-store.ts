/**
 * Where the CA comes from: PEM files (a mounted Kubernetes Secret), or `tendril-ca` in NATS KV, where
 * the first lease holder puts a CA it generates with a create (a compare-and-set on no value), so two
 * translators racing at first start end up with the same one. Only the translator's NATS user may
 * read that bucket.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BUCKETS } from '@tendril/contract';
import { createCertificateAuthority, loadCertificateAuthority, type CaSet, type CertificateAuthority } from '@tendril/identity';
import type { NatsClient } from '@tendril/platform';

export const CA_ACTIVE_KEY = 'ca.active';

const storedCaSchema = z.object({ v: z.literal(1), certificatePem: z.string().min(1), privateKeyPem: z.string().min(1) });

export interface CaSource {
  trustDomain: string;
  /** Lifetime of a generated CA. */
  validityMs: number;
  /** TENDRIL_CA_CERT_FILE and TENDRIL_CA_KEY_FILE: both or neither. */
  files?: { certificate: string; key: string };
}

/** The CA set to sign with: from the files, or from `tendril-ca` (created there when missing). */
export async function loadCaSet(nats: NatsClient, source: CaSource, now: Date): Promise<CaSet> {
  if (source.files) {
    const [certificate, key] = await Promise.all([readFile(source.files.certificate, 'utf8'), readFile(source.files.key, 'utf8')]);
    return { active: loadCertificateAuthority(certificate, key) };
  }
  const kv = await nats.bucket(BUCKETS.ca);
  const decode = (bytes: Uint8Array): CertificateAuthority => {
    const stored = storedCaSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    return loadCertificateAuthority(stored.certificatePem, stored.privateKeyPem);
  };
  const existing = await kv.get(CA_ACTIVE_KEY);
  if (existing && existing.operation === 'PUT') return { active: decode(existing.value) };
  const created = await createCertificateAuthority({ trustDomain: source.trustDomain, now, validityMs: source.validityMs });
  const value = new TextEncoder().encode(JSON.stringify({ v: 1, certificatePem: created.certificatePem, privateKeyPem: created.privateKeyPem }));
  try {
    if (existing) await kv.update(CA_ACTIVE_KEY, value, existing.revision);
    else await kv.create(CA_ACTIVE_KEY, value);
    return { active: created };
  } catch {
    // another translator created it first: use that one
    const winner = await kv.get(CA_ACTIVE_KEY);
    if (!winner || winner.operation !== 'PUT') throw new Error(`${BUCKETS.ca}: ${CA_ACTIVE_KEY} could be neither created nor read`);
    return { active: decode(winner.value) };
  }
}
