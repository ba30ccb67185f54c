import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { generateRuntimeResources } from './certificates.js';
import { clientCertificateProblem } from './client-certificates.js';

describe("Envoy's client-certificate verdict", () => {
  const pems = new Map<string, string>();
  before(async () => {
    const generated = await generateRuntimeResources([
      { kind: 'ConfigMap', namespace: 'ns', name: 'ca-a', ca: 'A' },
      { kind: 'ConfigMap', namespace: 'ns', name: 'ca-b', ca: 'B' },
      { kind: 'Secret', namespace: 'ns', name: 'client-a', certificate: { usage: 'clientAuth', hosts: [], issuer: 'CA A' } },
      { kind: 'Secret', namespace: 'ns', name: 'client-b', certificate: { usage: 'clientAuth', hosts: [], issuer: 'CA B' } },
    ]);
    for (const { resource, data } of generated) pems.set(resource.name, data['ca.crt'] ?? data['tls.crt']!);
  });
  const context = (ca: string, acceptUntrusted = false) => ({ trustedCa: { inlineString: pems.get(ca)! }, ...(acceptUntrusted ? { trustChainVerification: 'ACCEPT_UNTRUSTED' } : {}) });
  const verdict = (requireClientCertificate: boolean, contexts: object[], client?: string) =>
    clientCertificateProblem({ requireClientCertificate, validationContexts: contexts, sent: client !== undefined, ...(client ? { pem: pems.get(client)! } : {}) });

  it('required: a certificate of the trusted CA passes; another CA, or none, fails the handshake', () => {
    assert.equal(verdict(true, [context('ca-a')], 'client-a'), undefined);
    assert.match(verdict(true, [context('ca-a')], 'client-b') ?? '', /not issued by the listener's client CA/);
    assert.match(verdict(true, [context('ca-a')]) ?? '', /required and none is sent/);
  });

  it('not required: none passes, but a certificate that does not verify still fails unless the context accepts untrusted ones', () => {
    assert.equal(verdict(false, [context('ca-a')]), undefined);
    assert.match(verdict(false, [context('ca-a')], 'client-b') ?? '', /not issued/);
    assert.equal(verdict(false, [context('ca-a', true)], 'client-b'), undefined);
    assert.equal(verdict(false, [context('ca-a', true)], 'client-a'), undefined);
  });

  it('a bundle of CAs trusts each; without a validation context no certificate is asked for', () => {
    const bundle = { trustedCa: { inlineString: pems.get('ca-a')! + pems.get('ca-b')! } };
    assert.equal(verdict(true, [bundle], 'client-b'), undefined);
    assert.equal(verdict(false, [], 'client-b'), undefined);
  });
});
