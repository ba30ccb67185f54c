/**
 * TLS on the xDS port (TENDRIL_XDS_TLS_*): server credentials from PEM files, client certificates
 * required and verified when a CA is given, and the node id a proxy claims checked against the
 * identities its certificate holds (common name, DNS and URI subject alternative names).
 */
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { readTlsFiles } from '@tendril/platform';
import type { XdsTlsConfig } from './config.js';

export function xdsServerCredentials(tls: XdsTlsConfig | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const files = readTlsFiles(tls, 'TENDRIL_XDS_TLS');
  return grpc.ServerCredentials.createSsl(files.ca ?? null, [{ cert_chain: files.cert, private_key: files.key }], files.ca !== undefined);
}

/** The names a client certificate vouches for: its CN, DNS and URI subject alternative names. */
export function certificateIdentities(certificate: PeerCertificate | undefined): string[] {
  if (!certificate || Object.keys(certificate).length === 0) return [];
  const names = new Set<string>();
  const cn = certificate.subject?.CN;
  for (const value of Array.isArray(cn) ? cn : [cn]) if (typeof value === 'string' && value !== '') names.add(value);
  for (const entry of (certificate.subjectaltname ?? '').split(/,\s*/)) {
    const match = /^(DNS|URI):(.+)$/.exec(entry.trim());
    if (match) names.add(match[2]!);
  }
  return [...names].sort();
}

/** Why a node id may not be used with this certificate, or undefined when it may. */
export function nodeIdRefusal(nodeId: string, certificate: PeerCertificate | undefined): string | undefined {
  const identities = certificateIdentities(certificate);
  if (identities.includes(nodeId)) return undefined;
  return identities.length === 0
    ? `node id "${nodeId}": the connection has no client certificate to vouch for it`
    : `node id "${nodeId}" is not an identity of the client certificate (${identities.join(', ')})`;
}
