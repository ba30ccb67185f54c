/**
 * TLS on the xDS port (TENDRIL_XDS_TLS_*): server credentials from PEM files, client certificates
 * required and verified when a CA is given, and the node id a proxy claims checked against the
 * identities its certificate holds (common name, DNS and URI subject alternative names).
 */
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { XdsTlsConfig } from './config.js';

export function xdsServerCredentials(tls: XdsTlsConfig | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const read = (file: string, setting: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${setting}=${file}: ${(error as Error).message}`);
    }
  };
  const pair = { cert_chain: read(tls.certFile, 'TENDRIL_XDS_TLS_CERT'), private_key: read(tls.keyFile, 'TENDRIL_XDS_TLS_KEY') };
  const ca = tls.caFile ? read(tls.caFile, 'TENDRIL_XDS_TLS_CA') : null;
  return grpc.ServerCredentials.createSsl(ca, [pair], ca !== null);
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
