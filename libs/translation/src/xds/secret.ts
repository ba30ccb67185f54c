/**
 * Envoy Secret resources (SDS) from SecretIR, PEM inline: a TLS certificate with its key, or a
 * validation context (trusted CAs for client certificates; ACCEPT_UNTRUSTED when any is accepted).
 */
import type { SecretIR } from '@tendril/model';
import type { Resource } from './cluster.js';

export function desiredSecret(secret: SecretIR): Resource {
  if (secret.trustedCa !== undefined) {
    const validationContext: Resource = { trustedCa: { inlineString: secret.trustedCa } };
    if (secret.acceptUntrusted) validationContext['trustChainVerification'] = 'ACCEPT_UNTRUSTED';
    return { name: secret.name, validationContext };
  }
  return {
    name: secret.name,
    tlsCertificate: { certificateChain: { inlineString: secret.certificateChain }, privateKey: { inlineString: secret.privateKey } },
  };
}
