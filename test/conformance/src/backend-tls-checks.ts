/**
 * What a request check expects of the connection from the Gateway to a TLS backend (the corpus's
 * `request.sni` and `request.clientCert`, checked on the backend side): judged from the upstream
 * cluster's UpstreamTlsContext. The backend (an echo pod serving its mounted Secret over TLS) sees
 * the context's `sni`; the handshake succeeds only when the context's validation trusts the pod's
 * certificate (issued by the trusted CA, carrying one of the SANs matched); the pod sees the client
 * certificate the context presents (inline or by SDS).
 */
import { X509Certificate } from 'node:crypto';
import { issuedBy, splitPems } from './client-certificates.js';
import type { EnvoyConfig } from './envoy-resolver.js';
import type { Pod } from './manifests.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded xDS JSON, walked by field name
type Plain = Record<string, any>;

const pemText = (source: Plain | undefined): string | undefined =>
  typeof source?.['inlineString'] === 'string' ? source['inlineString'] : typeof source?.['inlineBytes'] === 'string' ? Buffer.from(source['inlineBytes'], 'base64').toString('utf8') : undefined;
const normalise = (pem: string) => pem.replace(/\s+/g, '');

/** The SANs of a certificate as Envoy's SubjectAltNameMatcher sees them: DNS names and URIs. */
function subjectAltNames(pem: string): { DNS: string[]; URI: string[] } {
  const out = { DNS: [] as string[], URI: [] as string[] };
  for (const entry of (new X509Certificate(pem).subjectAltName ?? '').split(', ')) {
    const [kind, ...rest] = entry.split(':');
    if (kind === 'DNS') out.DNS.push(rest.join(':').toLowerCase());
    if (kind === 'URI') out.URI.push(rest.join(':'));
  }
  return out;
}

/**
 * Why the backend would not see what the check expects (undefined when it would): `sni` the server
 * name it gets, `clientCertificate` the PEM it must get from the Gateway; `served` is the pod's own
 * certificate (PEM).
 */
export function backendTlsProblem(config: EnvoyConfig, cluster: string, pod: Pod, served: string | undefined, expected: { sni?: string; clientCertificate?: string }): string | undefined {
  const socket = config.clusters.get(cluster)?.['transportSocket'] as Plain | undefined;
  const context = socket?.['typedConfig'] as Plain | undefined;
  if (!context) return `cluster ${cluster} speaks plaintext to ${pod.name}, which serves TLS`;
  if (expected.sni !== undefined && context['sni'] !== expected.sni) return `cluster ${cluster} sends SNI ${context['sni'] ?? 'none'}, expected ${expected.sni}`;
  const common = (context['commonTlsContext'] ?? {}) as Plain;
  const validation = common['validationContext'] as Plain | undefined;
  if (!validation) return `cluster ${cluster} does not check ${pod.name}'s certificate`;
  if (!served) return `${pod.name} serves no certificate`;
  const trusted = pemText(validation['trustedCa']);
  if (!trusted || !splitPems(trusted).some((ca) => issuedBy(served, ca))) return `the handshake fails: ${pod.name}'s certificate is not issued by the CA cluster ${cluster} trusts`;
  const names = subjectAltNames(served);
  const matchers = (validation['matchTypedSubjectAltNames'] ?? []) as Plain[];
  if (matchers.length && !matchers.some((m) => (names[m['sanType'] as 'DNS' | 'URI'] ?? []).includes(m['matcher']?.['exact']))) return `the handshake fails: ${pod.name}'s certificate has none of the SANs cluster ${cluster} asks for`;
  if (expected.clientCertificate !== undefined) {
    const chains = [
      ...((common['tlsCertificates'] ?? []) as Plain[]).map((certificate) => pemText(certificate['certificateChain'])),
      ...((common['tlsCertificateSdsSecretConfigs'] ?? []) as Plain[]).map((sds) => pemText((config.secrets.get(String(sds['name'])) as Plain | undefined)?.['tlsCertificate']?.['certificateChain'])),
    ].filter((chain): chain is string => chain !== undefined);
    if (!chains.some((chain) => normalise(chain).includes(normalise(expected.clientCertificate!)))) return `cluster ${cluster} presents no client certificate matching the expected one to ${pod.name}`;
  }
  return undefined;
}
