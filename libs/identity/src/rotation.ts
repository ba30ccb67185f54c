/**
 * The CAs a trust domain trusts at one time: the active one, which signs, and during a rotation's
 * overlap window the previous one, whose certificates are still accepted until they have expired.
 */
import { createCertificateAuthority, renewalDue, CLOCK_SKEW_MS, type CertificateAuthority, type WorkloadCertificate } from './certificates.js';

export interface CaSet {
  active: CertificateAuthority;
  /** The CA before the last rotation, trusted until `previousUntil`. */
  previous?: CertificateAuthority;
  previousUntil?: Date;
}

export interface RotationOptions {
  trustDomain: string;
  now: Date;
  /** Lifetime of the new CA. */
  validityMs: number;
  /** Lifetime of workload certificates: the old CA stays trusted at least this long (plus skew). */
  workloadTtlMs: number;
  /** The least time both CAs are trusted. */
  overlapMs: number;
}

/**
 * A rotation: `next` (default: a new generated CA) signs from now on; the active CA stays trusted
 * until every certificate it signed has expired and at least the overlap window has passed.
 */
export async function rotateCertificateAuthority(set: CaSet, options: RotationOptions, next?: CertificateAuthority): Promise<CaSet> {
  const active = next ?? (await createCertificateAuthority({ trustDomain: options.trustDomain, now: options.now, validityMs: options.validityMs }));
  const until = options.now.getTime() + Math.max(options.overlapMs, options.workloadTtlMs + CLOCK_SKEW_MS);
  return { active, previous: set.active, previousUntil: new Date(Math.min(until, set.active.notAfter.getTime())) };
}

/** The set without a previous CA whose window has ended. */
export function pruneCaSet(set: CaSet, now: Date): CaSet {
  if (set.previous && set.previousUntil && now < set.previousUntil) return set;
  return { active: set.active };
}

/** The PEM trust bundle at `now`: the active CA, then the previous one while its window lasts. */
export function trustBundle(set: CaSet, now: Date): string {
  const current = pruneCaSet(set, now);
  return [current.active, ...(current.previous ? [current.previous] : [])].map((ca) => ca.certificatePem.trimEnd() + '\n').join('');
}

/** Whether a certificate must be issued again: due for renewal, or signed by a CA that no longer signs. */
export function reissueDue(certificate: WorkloadCertificate, activeFingerprint: string, now: Date): boolean {
  return certificate.issuerFingerprint !== activeFingerprint || renewalDue(certificate, now);
}
