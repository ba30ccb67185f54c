/** Envoy Secret resources (SDS) from SecretIR: a TLS certificate with its key, PEM inline. */
import type { SecretIR } from '@tendril/model';
import type { Resource } from './cluster.js';

export function desiredSecret(secret: SecretIR): Resource {
  return {
    name: secret.name,
    tlsCertificate: { certificateChain: { inlineString: secret.certificateChain }, privateKey: { inlineString: secret.privateKey } },
  };
}
