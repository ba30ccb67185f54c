import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import {
  createCertificateAuthority,
  issueWorkloadCertificate,
  loadCertificateAuthority,
  renewalDue,
  certificateFingerprint,
  CLOCK_SKEW_MS,
  type CertificateAuthority,
  type WorkloadCertificate,
} from './index.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = new Date();
const frontend = 'spiffe://cluster.local/ns/shop/sa/frontend';

/**
 * One mutual TLS handshake on loopback, the way a workload's proxy makes one: the server requires a
 * client certificate that `serverTrust` verifies, the client verifies the server's against
 * `clientTrust`. Resolves to the SPIFFE ID each side saw of the other, or rejects with the TLS error.
 */
async function handshake(server: WorkloadCertificate, serverTrust: string, client: Pick<WorkloadCertificate, 'certificatePem' | 'privateKeyPem'> | undefined, clientTrust: string): Promise<{ serverSaw: string; clientSaw: string }> {
  let serverSaw = '';
  let serverError = '';
  const tlsServer = createServer({ cert: server.certificatePem, key: server.privateKeyPem, ca: serverTrust, requestCert: true, rejectUnauthorized: false }, (socket) => {
    // refused as rejectUnauthorized would, keeping the reason for the assertion
    if (!socket.authorized) {
      serverError = String(socket.authorizationError);
      socket.destroy();
      return;
    }
    serverSaw = socket.getPeerX509Certificate()?.subjectAltName ?? '';
    socket.end('ok');
  });
  tlsServer.on('tlsClientError', (error) => (serverError = error.message));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const { port } = tlsServer.address() as AddressInfo;
  try {
    const socket: TLSSocket = await new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ca: clientTrust, ...(client ? { cert: client.certificatePem, key: client.privateKeyPem } : {}), checkServerIdentity: () => undefined }, () => resolve(s));
      s.on('error', reject);
    });
    const clientSaw = socket.getPeerX509Certificate()?.subjectAltName ?? '';
    // TLS 1.3 reports a refused client certificate only after the handshake: read the server's answer
    const answer = await new Promise<string>((resolve, reject) => {
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    if (answer !== 'ok') throw new Error(`refused by the server: ${serverError}`);
    return { serverSaw, clientSaw };
  } finally {
    tlsServer.close();
  }
}

describe('certificate authority', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 3650 * DAY });
  });

  it('is a self-signed CA carrying the trust domain, whose key is its own', () => {
    const certificate = new X509Certificate(ca.certificatePem);
    assert.equal(certificate.ca, true);
    assert.equal(certificate.checkIssued(certificate), true);
    assert.equal(certificate.verify(certificate.publicKey), true);
    assert.equal(certificate.subjectAltName, 'URI:spiffe://cluster.local');
    assert.ok(createPublicKey(createPrivateKey(ca.privateKeyPem)).equals(certificate.publicKey));
    assert.equal(new Date(certificate.validTo).getTime(), Math.floor((now.getTime() + 3650 * DAY) / 1000) * 1000);
  });

  it('signs a workload certificate carrying only the SPIFFE ID, for server and client, hours long', async () => {
    const issued = await issueWorkloadCertificate(ca, { spiffeId: frontend, now, ttlMs: 12 * HOUR });
    const certificate = new X509Certificate(issued.certificatePem);
    const caCertificate = new X509Certificate(ca.certificatePem);
    assert.equal(certificate.subjectAltName, `URI:${frontend}`);
    assert.equal(certificate.ca, false);
    assert.equal(certificate.checkIssued(caCertificate), true);
    assert.equal(certificate.verify(caCertificate.publicKey), true);
    assert.deepEqual([...(certificate.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(createPublicKey(createPrivateKey(issued.privateKeyPem)).equals(certificate.publicKey));
    assert.equal(new Date(certificate.validFrom).getTime(), Math.floor((now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
    assert.equal(new Date(certificate.validTo).getTime(), Math.floor((now.getTime() + 12 * HOUR) / 1000) * 1000);
    assert.equal(issued.issuerFingerprint, caCertificate.fingerprint256);
    // every issuance is a new key and serial
    const again = await issueWorkloadCertificate(ca, { spiffeId: frontend, now, ttlMs: 12 * HOUR });
    assert.notEqual(new X509Certificate(again.certificatePem).serialNumber, certificate.serialNumber);
    assert.notEqual(again.privateKeyPem, issued.privateKeyPem);
  });

  it('never issues past its own expiry, nor once expired, nor for what is not a workload SPIFFE ID', async () => {
    const shortLived = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 2 * HOUR });
    const issued = await issueWorkloadCertificate(shortLived, { spiffeId: frontend, now, ttlMs: 12 * HOUR });
    assert.equal(issued.notAfter.getTime(), shortLived.notAfter.getTime());
    await assert.rejects(issueWorkloadCertificate(shortLived, { spiffeId: frontend, now: new Date(now.getTime() + 3 * HOUR), ttlMs: HOUR }), /CA expired/);
    await assert.rejects(issueWorkloadCertificate(ca, { spiffeId: 'spiffe://cluster.local/frontend', now, ttlMs: HOUR }), /not a workload SPIFFE ID/);
    await assert.rejects(issueWorkloadCertificate(ca, { spiffeId: 'spiffe://cluster.local/ns/Shop/sa/frontend', now, ttlMs: HOUR }), /not a workload SPIFFE ID/);
  });

  it('is due for renewal once half of its lifetime has passed', async () => {
    const issued = await issueWorkloadCertificate(ca, { spiffeId: frontend, now, ttlMs: 12 * HOUR });
    const half = issued.notBefore.getTime() + (issued.notAfter.getTime() - issued.notBefore.getTime()) / 2;
    assert.equal(renewalDue(issued, now), false);
    assert.equal(renewalDue(issued, new Date(half - 1000)), false);
    assert.equal(renewalDue(issued, new Date(half)), true);
  });

  it('loads a CA given as PEM files, and says why one cannot be used', async () => {
    const loaded = loadCertificateAuthority(ca.certificatePem, ca.privateKeyPem);
    assert.equal(certificateFingerprint(loaded.certificatePem), certificateFingerprint(ca.certificatePem));
    const issued = await issueWorkloadCertificate(loaded, { spiffeId: frontend, now, ttlMs: HOUR });
    assert.equal(new X509Certificate(issued.certificatePem).verify(new X509Certificate(ca.certificatePem).publicKey), true);
    const other = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: DAY });
    assert.throws(() => loadCertificateAuthority(ca.certificatePem, other.privateKeyPem), /does not belong to the CA certificate/);
    assert.throws(() => loadCertificateAuthority(issued.certificatePem, issued.privateKeyPem), /do not make it a CA/);
    assert.throws(() => loadCertificateAuthority('not a certificate', ca.privateKeyPem), /CA certificate: not a PEM certificate/);
    assert.throws(() => loadCertificateAuthority(ca.certificatePem, 'not a key'), /CA private key: not a PEM key/);
  });
});

describe('mutual TLS with issued certificates (node:tls on loopback)', () => {
  let ca: CertificateAuthority;
  let server: WorkloadCertificate;
  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: 365 * DAY });
    server = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://cluster.local/ns/shop/sa/backend', now, ttlMs: 12 * HOUR });
  });

  it('succeeds, each side seeing the other SPIFFE ID', async () => {
    const client = await issueWorkloadCertificate(ca, { spiffeId: frontend, now, ttlMs: 12 * HOUR });
    const seen = await handshake(server, ca.certificatePem, client, ca.certificatePem);
    assert.equal(seen.serverSaw, `URI:${frontend}`);
    assert.equal(seen.clientSaw, 'URI:spiffe://cluster.local/ns/shop/sa/backend');
  });

  it('refuses a client without a certificate, one another CA signed, and an expired one', async () => {
    await assert.rejects(handshake(server, ca.certificatePem, undefined, ca.certificatePem), /UNABLE_TO_GET_ISSUER_CERT|peer did not return a certificate|certificate/i);
    const stranger = await createCertificateAuthority({ trustDomain: 'cluster.local', now, validityMs: DAY });
    const foreign = await issueWorkloadCertificate(stranger, { spiffeId: frontend, now, ttlMs: HOUR });
    await assert.rejects(handshake(server, ca.certificatePem, foreign, ca.certificatePem), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    const expired = await issueWorkloadCertificate(ca, { spiffeId: frontend, now: new Date(now.getTime() - 3 * HOUR), ttlMs: HOUR });
    assert.ok(expired.notAfter < now);
    await assert.rejects(handshake(server, ca.certificatePem, expired, ca.certificatePem), /CERT_HAS_EXPIRED|expired/i);
  });
});
