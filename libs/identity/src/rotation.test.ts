import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueWorkloadCertificate, rotateCertificateAuthority, pruneCaSet, trustBundle, reissueDue, certificateFingerprint, type CaSet } from './index.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = new Date();
const id = 'spiffe://cluster.local/ns/shop/sa/frontend';

function bundleFingerprints(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((one) => new X509Certificate(one).fingerprint256);
}

describe('CA rotation with an overlap window', () => {
  it('trusts old and new CA until every certificate of the old one has expired, then only the new', async () => {
    const old = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 365 * DAY });
    const set: CaSet = { active: old };
    assert.deepEqual(bundleFingerprints(trustBundle(set, now)), [certificateFingerprint(old.certificatePem)]);
    const issuedByOld = await issueWorkloadCertificate(old, { spiffeId: id, now, ttlMs: 12 * HOUR });

    const rotated = await rotateCertificateAuthority(set, { trustDomain: 'cluster.local', now, validityMs: 365 * DAY, workloadTtlMs: 12 * HOUR, overlapMs: 24 * HOUR });
    const fresh = certificateFingerprint(rotated.active.certificatePem);
    assert.notEqual(fresh, certificateFingerprint(old.certificatePem));
    // during the window: both, the new one first; a certificate of the old CA verifies against the bundle's old entry
    assert.deepEqual(bundleFingerprints(trustBundle(rotated, new Date(now.getTime() + 23 * HOUR))), [fresh, certificateFingerprint(old.certificatePem)]);
    // certificates of the old CA are issued again at once; those of the new one are not
    assert.equal(reissueDue(issuedByOld, fresh, now), true);
    const issuedByNew = await issueWorkloadCertificate(rotated.active, { spiffeId: id, now, ttlMs: 12 * HOUR });
    assert.equal(reissueDue(issuedByNew, fresh, now), false);
    assert.equal(reissueDue(issuedByNew, fresh, new Date(now.getTime() + 7 * HOUR)), true);
    // after the window: the new one alone
    const after = new Date(now.getTime() + 25 * HOUR);
    assert.deepEqual(bundleFingerprints(trustBundle(rotated, after)), [fresh]);
    assert.equal(pruneCaSet(rotated, after).previous, undefined);
  });

  it('keeps the old CA at least one workload lifetime when the overlap asked for is shorter', async () => {
    const old = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 365 * DAY });
    const rotated = await rotateCertificateAuthority({ active: old }, { trustDomain: 'cluster.local', now, validityMs: 365 * DAY, workloadTtlMs: 12 * HOUR, overlapMs: HOUR });
    assert.equal(bundleFingerprints(trustBundle(rotated, new Date(now.getTime() + 12 * HOUR))).length, 2);
  });

  it('rotates to a CA it is given (new files) as to one it makes', async () => {
    const old = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 365 * DAY });
    const given = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 30 * DAY });
    const rotated = await rotateCertificateAuthority({ active: old }, { trustDomain: 'cluster.local', now, validityMs: 365 * DAY, workloadTtlMs: 12 * HOUR, overlapMs: DAY }, given);
    assert.equal(rotated.active, given);
    assert.equal(rotated.previous, old);
  });
});
