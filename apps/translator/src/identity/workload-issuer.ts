/**
 * Keeps one certificate per workload identity the Pods need, issued by the active CA, and turns them
 * into SDS Secrets for the node proxies: each named by its SPIFFE ID and selected to the nodes where
 * Pods of that service account run, plus the trust bundle (`tendril/trust-bundle`) for every node.
 * Issues what is missing, re-issues what is due (half its lifetime gone, or signed by a CA that no
 * longer signs), drops what no Pod needs; a Pod moving between nodes changes the selector only.
 */
import {
  certificateFingerprint,
  issueWorkloadCertificate,
  pruneCaSet,
  reissueDue,
  trustBundle,
  workloadIdentities,
  type CaSet,
  type PodPlacement,
  type WorkloadCertificate,
} from '@tendril/identity';
import type { XdsOutput } from '@tendril/translation';

/** Name of the SDS Secret holding the trust bundle (a validation context). */
export const TRUST_BUNDLE_SECRET = 'tendril/trust-bundle';

export interface WorkloadIssuerOptions {
  trustDomain: string;
  /** Lifetime of a workload certificate. */
  ttlMs: number;
}

export interface ReconcileResult {
  issued: string[];
  removed: string[];
  /** Pods that cannot have an identity, each naming the Pod. */
  errors: string[];
  /** Whether the Secrets changed (certificates, their nodes, or the bundle). */
  changed: boolean;
}

export class WorkloadIssuer {
  private readonly certificates = new Map<string, { certificate: WorkloadCertificate; nodes: string[] }>();
  private bundle = '';

  constructor(private readonly options: WorkloadIssuerOptions) {}

  /** Brings the certificates in line with the Pods at `now`, signing with `cas.active`. */
  async reconcile(pods: Iterable<PodPlacement>, cas: CaSet, now: Date): Promise<ReconcileResult> {
    const { identities, errors } = workloadIdentities(pods, this.options.trustDomain);
    const active = certificateFingerprint(cas.active.certificatePem);
    const result: ReconcileResult = { issued: [], removed: [], errors, changed: false };
    const wanted = new Set(identities.map((identity) => identity.spiffeId));
    for (const id of [...this.certificates.keys()]) {
      if (wanted.has(id)) continue;
      this.certificates.delete(id);
      result.removed.push(id);
    }
    for (const identity of identities) {
      const held = this.certificates.get(identity.spiffeId);
      if (held && !reissueDue(held.certificate, active, now)) {
        if (held.nodes.join() !== identity.nodes.join()) {
          held.nodes = identity.nodes;
          result.changed = true;
        }
        continue;
      }
      const certificate = await issueWorkloadCertificate(cas.active, { spiffeId: identity.spiffeId, now, ttlMs: this.options.ttlMs });
      this.certificates.set(identity.spiffeId, { certificate, nodes: identity.nodes });
      result.issued.push(identity.spiffeId);
    }
    const bundle = this.certificates.size > 0 ? trustBundle(pruneCaSet(cas, now), now) : '';
    if (bundle !== this.bundle) result.changed = true;
    this.bundle = bundle;
    if (result.issued.length > 0 || result.removed.length > 0) result.changed = true;
    return result;
  }

  /** The SDS Secrets of the certificates held, sorted by name, the trust bundle among them. */
  secrets(): XdsOutput[] {
    const out: XdsOutput[] = [];
    for (const [id, { certificate, nodes }] of this.certificates) {
      out.push({
        type: 'secret',
        name: id,
        resource: { name: id, tlsCertificate: { certificateChain: { inlineString: certificate.certificatePem }, privateKey: { inlineString: certificate.privateKeyPem } } },
        nodeSelector: { nodeIds: nodes },
      });
    }
    if (this.bundle) out.push({ type: 'secret', name: TRUST_BUNDLE_SECRET, resource: { name: TRUST_BUNDLE_SECRET, validationContext: { trustedCa: { inlineString: this.bundle } } } });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** When the next certificate held is due for renewal (undefined: none held). */
  nextRenewal(): Date | undefined {
    let next: number | undefined;
    for (const { certificate } of this.certificates.values()) {
      const half = certificate.notBefore.getTime() + (certificate.notAfter.getTime() - certificate.notBefore.getTime()) / 2;
      next = next === undefined ? half : Math.min(next, half);
    }
    return next === undefined ? undefined : new Date(next);
  }
}
