/**
 * SPIFFE IDs of workload service accounts, in the form Istio and Cilium use:
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
 */

/** A trust domain: lower-case letters, digits, dots, dashes and underscores (the SPIFFE ID spec). */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** A Kubernetes namespace or service account name (DNS subdomain: lower-case, digits, '-', '.'). */
const KUBE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function validTrustDomain(trustDomain: string): boolean {
  return trustDomain.length > 0 && trustDomain.length <= 255 && TRUST_DOMAIN.test(trustDomain);
}

/** The SPIFFE ID of a service account; throws an IdentityError naming what is not valid. */
export function spiffeId(identity: WorkloadIdentity): string {
  const { trustDomain, namespace, serviceAccount } = identity;
  if (!validTrustDomain(trustDomain)) throw new IdentityError(`trust domain "${trustDomain}" is not valid (lower-case letters, digits, ".", "-", "_")`);
  if (!KUBE_NAME.test(namespace)) throw new IdentityError(`namespace "${namespace}" cannot form a SPIFFE ID`);
  if (!KUBE_NAME.test(serviceAccount)) throw new IdentityError(`${namespace}/ServiceAccount/${serviceAccount}: the name cannot form a SPIFFE ID`);
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The identity a SPIFFE ID names, or undefined when it is not a Kubernetes workload's ID. */
export function parseSpiffeId(id: string): WorkloadIdentity | undefined {
  const match = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id);
  if (!match) return undefined;
  const identity = { trustDomain: match[1]!, namespace: match[2]!, serviceAccount: match[3]! };
  try {
    return spiffeId(identity) === id ? identity : undefined;
  } catch {
    return undefined;
  }
}

/** The SPIFFE ID of the trust domain itself, carried by the CA certificate. */
export function trustDomainId(trustDomain: string): string {
  if (!validTrustDomain(trustDomain)) throw new IdentityError(`trust domain "${trustDomain}" is not valid (lower-case letters, digits, ".", "-", "_")`);
  return `spiffe://${trustDomain}`;
}
