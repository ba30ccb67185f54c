import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, rotateCertificateAuthority, type CaSet, type PodPlacement } from '@tendril/identity';
import { decodeResource, encodeResource, validateResource } from '@tendril/envoy';
import { WorkloadIssuer, TRUST_BUNDLE_SECRET } from './workload-issuer.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const start = new Date();
const at = (hours: number) => new Date(start.getTime() + hours * HOUR);
const frontend = 'spiffe://cluster.local/ns/shop/sa/frontend';
const backend = 'spiffe://cluster.local/ns/shop/sa/backend';

const pods = (placements: [name: string, serviceAccount: string, node: string][]): PodPlacement[] =>
  placements.map(([name, serviceAccountName, nodeName]) => ({ namespace: 'shop', name, serviceAccountName, nodeName, phase: 'Running' }));

function certificateOf(issuer: WorkloadIssuer, id: string): X509Certificate {
  const secret = issuer.secrets().find((s) => s.name === id);
  assert.ok(secret, `a Secret ${id}`);
  const chain = ((secret.resource['tlsCertificate'] as Record<string, Record<string, string>>)['certificateChain']!)['inlineString']!;
  return new X509Certificate(chain);
}

describe('workload certificates as SDS Secrets, per node', () => {
  let cas: CaSet;
  before(async () => {
    cas = { active: await createCertificateAuthority({ trustDomain: 'cluster.local', now: start, validityMs: 365 * DAY }) };
  });

  it('issues one certificate per service account, given only to the nodes running its Pods, and a trust bundle for all', async () => {
    const issuer = new WorkloadIssuer({ trustDomain: 'cluster.local', ttlMs: 12 * HOUR });
    const result = await issuer.reconcile(pods([['web-1', 'frontend', 'node-a'], ['web-2', 'frontend', 'node-b'], ['api-1', 'backend', 'node-b']]), cas, start);
    assert.deepEqual(result.issued.sort(), [backend, frontend]);
    assert.equal(result.changed, true);
    const secrets = issuer.secrets();
    assert.deepEqual(secrets.map((s) => [s.name, s.nodeSelector]), [
      [backend, { nodeIds: ['node-b'] }],
      [frontend, { nodeIds: ['node-a', 'node-b'] }],
      [TRUST_BUNDLE_SECRET, undefined],
    ]);
    assert.equal(certificateOf(issuer, frontend).subjectAltName, `URI:${frontend}`);
    assert.equal(certificateOf(issuer, frontend).verify(new X509Certificate(cas.active.certificatePem).publicKey), true);
    // Envoy's protos take them as they are, and they survive the wire
    for (const secret of secrets) {
      assert.deepEqual(validateResource('secret', secret.resource), [], secret.name);
      assert.deepEqual(decodeResource('secret', encodeResource('secret', secret.resource)), secret.resource);
    }
  });

  it('keeps a certificate until half its life is gone, then issues a new one; a Pod moving changes only the nodes', async () => {
    const issuer = new WorkloadIssuer({ trustDomain: 'cluster.local', ttlMs: 12 * HOUR });
    await issuer.reconcile(pods([['web-1', 'frontend', 'node-a']]), cas, start);
    const first = certificateOf(issuer, frontend).serialNumber;
    const moved = await issuer.reconcile(pods([['web-1', 'frontend', 'node-c']]), cas, at(1));
    assert.deepEqual([moved.issued, moved.changed], [[], true]);
    assert.equal(certificateOf(issuer, frontend).serialNumber, first);
    assert.deepEqual(issuer.secrets()[0]!.nodeSelector, { nodeIds: ['node-c'] });
    const quiet = await issuer.reconcile(pods([['web-1', 'frontend', 'node-c']]), cas, at(5));
    assert.deepEqual([quiet.issued, quiet.changed], [[], false]);
    assert.ok(issuer.nextRenewal()! <= at(6));
    const renewed = await issuer.reconcile(pods([['web-1', 'frontend', 'node-c']]), cas, at(6));
    assert.deepEqual(renewed.issued, [frontend]);
    const second = certificateOf(issuer, frontend);
    assert.notEqual(second.serialNumber, first);
    assert.ok(new Date(second.validTo) > at(17));
  });

  it('drops the certificate of a service account whose last Pod went, and the bundle with the last one', async () => {
    const issuer = new WorkloadIssuer({ trustDomain: 'cluster.local', ttlMs: 12 * HOUR });
    await issuer.reconcile(pods([['web-1', 'frontend', 'node-a'], ['api-1', 'backend', 'node-b']]), cas, start);
    const result = await issuer.reconcile(pods([['api-1', 'backend', 'node-b']]), cas, at(1));
    assert.deepEqual(result.removed, [frontend]);
    assert.deepEqual(issuer.secrets().map((s) => s.name), [backend, TRUST_BUNDLE_SECRET]);
    await issuer.reconcile([], cas, at(2));
    assert.deepEqual(issuer.secrets(), []);
  });

  it('after a CA rotation re-issues everything with the new CA, the bundle trusting both until the window ends', async () => {
    const issuer = new WorkloadIssuer({ trustDomain: 'cluster.local', ttlMs: 12 * HOUR });
    const running = pods([['web-1', 'frontend', 'node-a']]);
    await issuer.reconcile(running, cas, start);
    const rotated = await rotateCertificateAuthority(cas, { trustDomain: 'cluster.local', now: at(1), validityMs: 365 * DAY, workloadTtlMs: 12 * HOUR, overlapMs: DAY });
    const result = await issuer.reconcile(running, rotated, at(1));
    assert.deepEqual(result.issued, [frontend]);
    const newCa = new X509Certificate(rotated.active.certificatePem);
    assert.equal(certificateOf(issuer, frontend).verify(newCa.publicKey), true);
    const bundleOf = () => {
      const bundle = issuer.secrets().find((s) => s.name === TRUST_BUNDLE_SECRET)!;
      return ((bundle.resource['validationContext'] as Record<string, Record<string, string>>)['trustedCa']!)['inlineString']!.match(/BEGIN CERTIFICATE/g)!.length;
    };
    assert.equal(bundleOf(), 2);
    const later = await issuer.reconcile(running, rotated, at(26));
    assert.equal(later.changed, true);
    assert.equal(bundleOf(), 1);
  });
});
