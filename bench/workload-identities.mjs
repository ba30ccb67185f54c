#!/usr/bin/env node
// Workload certificate issuance (libs/identity through the translator's WorkloadIssuer): N service
// accounts, each with one Pod on one of 100 nodes; the first reconcile issues N ECDSA P-256
// certificates, then a quiet reconcile (nothing due), then one at half life (all renewed), and the
// size of the SDS Secrets the node proxies would be sent.
// Build first: npx nx run translator:build. Usage: node bench/workload-identities.mjs [workloads]
import { createCertificateAuthority } from '../libs/identity/dist/index.js';
import { WorkloadIssuer } from '../apps/translator/dist/identity/workload-issuer.js';

const workloads = Number(process.argv[2] ?? 1000);
const HOUR = 3600_000;
const start = new Date();
const cas = { active: await createCertificateAuthority({ trustDomain: 'cluster.local', now: start, validityMs: 365 * 24 * HOUR }) };
const pods = Array.from({ length: workloads }, (_, i) => ({ namespace: `ns-${i % 50}`, name: `pod-${i}`, serviceAccountName: `sa-${i}`, nodeName: `node-${i % 100}`, phase: 'Running' }));
const issuer = new WorkloadIssuer({ trustDomain: 'cluster.local', ttlMs: 12 * HOUR });

const time = async (what, at) => {
  const t0 = performance.now();
  const result = await issuer.reconcile(pods, cas, at);
  const ms = performance.now() - t0;
  console.log(`${what}: ${ms.toFixed(0)} ms, ${result.issued.length} issued (${result.issued.length ? (ms / result.issued.length).toFixed(2) : '-'} ms each)`);
};
await time('first reconcile', start);
await time('quiet reconcile', new Date(start.getTime() + HOUR));
await time('renewal at half life', new Date(start.getTime() + 6 * HOUR));
const secrets = issuer.secrets();
const bytes = secrets.reduce((sum, secret) => sum + JSON.stringify(secret.resource).length, 0);
console.log(`${secrets.length} SDS Secrets, ${(bytes / 1024).toFixed(0)} KiB as JSON; per node: ${secrets.filter((s) => s.nodeSelector?.nodeIds?.includes('node-0')).length} certificates + the bundle`);
console.log(`node ${process.version}, ${workloads} workloads; repeat: node bench/workload-identities.mjs ${workloads}`);
