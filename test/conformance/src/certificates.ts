/**
 * The TLS Secrets and CA ConfigMaps the Go suite creates at set-up (runtime-resources.json), made with
 * `openssl` (installed by tools/setup.sh): RSA 2048, a year's validity, SANs by the suite's rule (an IP
 * SAN for an IP, a DNS SAN for a DNS-1123 name with an optional leading `*.`, else a URI SAN).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RuntimeResource } from './corpus.js';

const run = promisify(execFile);

export interface GeneratedResource {
  resource: RuntimeResource;
  /** Secret: tls.crt + tls.key; ConfigMap: ca.crt. */
  data: Record<string, string>;
}

const DNS = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function subjectAltNames(hosts: string[]): string {
  return hosts.map((host) => (isIP(host) ? `IP:${host}` : DNS.test(host) ? `DNS:${host}` : `URI:${host}`)).join(',');
}

export async function generateRuntimeResources(resources: RuntimeResource[]): Promise<GeneratedResource[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-conformance-certs-'));
  try {
    // the CAs first (each ConfigMap names the CA it holds), then every certificate in parallel
    const cas = new Map<string, { crt: string; key: string }>();
    await Promise.all(
      resources
        .filter((r) => r.kind === 'ConfigMap' && r.ca)
        .map(async (r) => {
          const base = join(dir, `ca-${r.ca}`);
          await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '365', '-subj', '/CN=gatewayapi/O=Kubernetes Gateway API',
            '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-addext', 'extendedKeyUsage=clientAuth,serverAuth']);
          cas.set(r.ca!, { crt: `${base}.crt`, key: `${base}.key` });
        }),
    );
    return await Promise.all(
      resources.map(async (resource, index): Promise<GeneratedResource> => {
        if (resource.kind === 'ConfigMap') return { resource, data: { 'ca.crt': readFileSync(cas.get(resource.ca!)!.crt, 'utf8') } };
        const certificate = resource.certificate!;
        const base = join(dir, `cert-${index}`);
        const extensions = [`keyUsage=critical,keyEncipherment,digitalSignature`, `extendedKeyUsage=${certificate.usage}`];
        if (certificate.hosts.length) extensions.push(`subjectAltName=${subjectAltNames(certificate.hosts)}`);
        const issuer = /^CA (.+)$/.exec(certificate.issuer)?.[1];
        if (!issuer) {
          await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '365', '-subj', '/CN=default/O=Acme Co', ...extensions.flatMap((e) => ['-addext', e])]);
        } else {
          const ca = cas.get(issuer);
          if (!ca) throw new Error(`${resource.namespace}/${resource.name}: issuer CA ${issuer} is not generated before it`);
          writeFileSync(`${base}.ext`, extensions.join('\n') + '\n');
          await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', '/CN=default/O=Acme Co']);
          await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', ca.crt, '-CAkey', ca.key, '-set_serial', String(1000 + index), '-out', `${base}.crt`, '-days', '365', '-extfile', `${base}.ext`]);
        }
        return { resource, data: { 'tls.crt': readFileSync(`${base}.crt`, 'utf8'), 'tls.key': readFileSync(`${base}.key`, 'utf8') } };
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
