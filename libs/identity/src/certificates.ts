/**
 * The certificate authority of workload identities and the certificates it signs, with
 * @peculiar/x509 over Node's WebCrypto (node:crypto builds keys and verifies certificates, but cannot
 * sign one). Keys are ECDSA P-256; a CA given as files may also be P-384 or RSA. The clock is an
 * argument everywhere, so issuance and renewal are tested at any instant.
 */
// @peculiar/x509 resolves its algorithms with tsyringe, which needs the Reflect metadata API first
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeCertificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { IdentityError, parseSpiffeId, trustDomainId } from './spiffe.js';

x509.cryptoProvider.set(webcrypto as never);

type Key = webcrypto.CryptoKey;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** A CA: its certificate and PKCS#8 private key (PEM), and when it is valid. */
export interface CertificateAuthority {
  certificatePem: string;
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** A workload's key pair and certificate (PEM), the SPIFFE ID it carries and the CA that signed it. */
export interface WorkloadCertificate {
  spiffeId: string;
  certificatePem: string;
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  /** sha256 fingerprint of the signing CA's certificate (as node:crypto prints it). */
  issuerFingerprint: string;
}

/** A certificate's not-before is this far in the past, so peers whose clocks lag accept it. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

function pem(label: string, der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, label) + '\n';
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // a positive INTEGER
  if (bytes[0] === 0) bytes[0] = 1; // and one whose encoding keeps all 16 bytes
  return bytes.toString('hex');
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privateKeyPem(key: Key): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

/** The WebCrypto signing key and algorithm of a PEM private key (EC P-256/P-384 or RSA). */
async function importSigningKey(privateKeyPem: string, what: string): Promise<{ key: Key; algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams }> {
  let keyObject;
  try {
    keyObject = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new IdentityError(`${what}: the private key is not a PEM key: ${(error as Error).message}`);
  }
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (!namedCurve) throw new IdentityError(`${what}: EC curve ${curve} is not supported (P-256 or P-384)`);
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve }, false, ['sign']);
    return { key, algorithm: { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } as webcrypto.EcdsaParams };
  }
  if (keyObject.asymmetricKeyType === 'rsa') {
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return { key, algorithm: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  throw new IdentityError(`${what}: ${keyObject.asymmetricKeyType} keys are not supported (EC or RSA)`);
}

/** A new self-signed CA for a trust domain, valid from `now` (less the skew margin) for `validityMs`. */
export async function createCertificateAuthority(options: { trustDomain: string; now: Date; validityMs: number }): Promise<CertificateAuthority> {
  const keys = await newKeyPair();
  const notBefore = new Date(options.now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(options.now.getTime() + options.validityMs);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `O=Tendril, CN=Tendril CA ${options.trustDomain}`,
    notBefore,
    notAfter,
    keys: keys as never,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomainId(options.trustDomain) }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certificatePem: certificate.toString('pem') + '\n', privateKeyPem: await privateKeyPem(keys.privateKey), notBefore, notAfter };
}

/**
 * A CA given as PEM (a mounted Kubernetes Secret): checks that the certificate is a CA that may sign
 * certificates and that the key is its own. Throws an IdentityError saying what is wrong.
 */
export function loadCertificateAuthority(certificatePem: string, privateKeyPem: string): CertificateAuthority {
  let certificate: NodeCertificate;
  try {
    certificate = new NodeCertificate(certificatePem);
  } catch (error) {
    throw new IdentityError(`CA certificate: not a PEM certificate: ${(error as Error).message}`);
  }
  if (!certificate.ca) throw new IdentityError(`CA certificate ${certificate.subject.replace(/\n/g, ', ')}: basic constraints do not make it a CA`);
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new IdentityError(`CA private key: not a PEM key: ${(error as Error).message}`);
  }
  const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' }).toString('base64');
  if (spki(createPublicKey(key)) !== spki(certificate.publicKey)) throw new IdentityError('CA private key does not belong to the CA certificate');
  return {
    certificatePem: certificate.toString().trimEnd() + '\n',
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
  };
}

/** sha256 fingerprint of a PEM certificate, `AB:CD:…` as node:crypto prints it. */
export function certificateFingerprint(certificatePem: string): string {
  return new NodeCertificate(certificatePem).fingerprint256;
}

/**
 * A new key pair and certificate for a SPIFFE ID, signed by `ca`: the ID as the only URI SAN, server
 * and client authentication, not a CA; valid from `now` less the skew margin for `ttlMs`, and never
 * past the CA's own expiry.
 */
export async function issueWorkloadCertificate(ca: CertificateAuthority, options: { spiffeId: string; now: Date; ttlMs: number }): Promise<WorkloadCertificate> {
  const identity = parseSpiffeId(options.spiffeId);
  if (!identity) throw new IdentityError(`"${options.spiffeId}" is not a workload SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<name>)`);
  if (options.now >= ca.notAfter) throw new IdentityError(`the CA expired at ${ca.notAfter.toISOString()}: cannot issue ${options.spiffeId}`);
  const caCertificate = new x509.X509Certificate(ca.certificatePem);
  const signing = await importSigningKey(ca.privateKeyPem, 'CA');
  const keys = await newKeyPair();
  const notBefore = new Date(Math.max(options.now.getTime() - CLOCK_SKEW_MS, ca.notBefore.getTime()));
  const notAfter = new Date(Math.min(options.now.getTime() + options.ttlMs, ca.notAfter.getTime()));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `O=${identity.trustDomain}`,
    issuer: caCertificate.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey as never,
    signingKey: signing.key as never,
    signingAlgorithm: signing.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: options.spiffeId }], true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
    ],
  });
  return {
    spiffeId: options.spiffeId,
    certificatePem: certificate.toString('pem') + '\n',
    privateKeyPem: await privateKeyPem(keys.privateKey),
    notBefore,
    notAfter,
    issuerFingerprint: certificateFingerprint(ca.certificatePem),
  };
}

/** Whether a certificate is due for renewal: half of its lifetime has passed (as Istio renews). */
export function renewalDue(certificate: Pick<WorkloadCertificate, 'notBefore' | 'notAfter'>, now: Date): boolean {
  const half = certificate.notBefore.getTime() + (certificate.notAfter.getTime() - certificate.notBefore.getTime()) / 2;
  return now.getTime() >= half;
}
