/**
 * Envoy's verdict on a downstream client certificate (DownstreamTlsContext with an SDS
 * CertificateValidationContext): with a validation context Envoy asks for a certificate; one that is
 * sent is verified against trusted_ca and fails the handshake unless trust_chain_verification is
 * ACCEPT_UNTRUSTED, whether or not require_client_certificate is set; require_client_certificate
 * fails a handshake without one. Without a validation context no certificate is asked for.
 */
import { X509Certificate } from 'node:crypto';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Envoy JSON walked by field name
type Plain = Record<string, any>;

export interface ClientCertificateCase {
  requireClientCertificate: boolean;
  /** The validation contexts of the chain (Secret.validationContext), one per SDS name. */
  validationContexts: Plain[];
  /** Whether the client sends a certificate, and its PEM when the harness knows it. */
  sent: boolean;
  pem?: string;
}

export function clientCertificateProblem(c: ClientCertificateCase): string | undefined {
  if (c.requireClientCertificate && !c.sent) return 'a client certificate is required and none is sent';
  if (!c.sent || c.validationContexts.length === 0 || c.pem === undefined) return undefined;
  const cas = c.validationContexts.flatMap((context) => splitPems(inline(context['trustedCa']) ?? ''));
  if (cas.some((ca) => issuedBy(c.pem!, ca))) return undefined;
  if (c.validationContexts.every((context) => context['trustChainVerification'] === 'ACCEPT_UNTRUSTED')) return undefined;
  return "the client certificate is not issued by the listener's client CA";
}

function inline(source: Plain | undefined): string | undefined {
  if (typeof source?.['inlineString'] === 'string') return source['inlineString'];
  if (typeof source?.['inlineBytes'] === 'string') return Buffer.from(source['inlineBytes'], 'base64').toString('utf8');
  return undefined;
}

export function issuedBy(certificate: string, ca: string): boolean {
  const cert = new X509Certificate(certificate);
  const issuer = new X509Certificate(ca);
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

export function splitPems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
