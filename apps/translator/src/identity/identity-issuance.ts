/**
 * The translator's part in workload identities, run by the writing replica before each publish: load
 * the CA (once), reconcile the certificates with the Pods, add their Secrets to the output, and ask
 * for a translation again when the next certificate is due for renewal.
 */
import type { Logger } from '@nestjs/common';
import { parseObjectKey, type KubeObject } from '@tendril/contract';
import type { CaSet, PodPlacement } from '@tendril/identity';
import type { NatsClient } from '@tendril/platform';
import type { TranslationOutput } from '@tendril/translation';
import type { IdentityConfig } from '../config.js';
import { loadCaSet } from './ca-store.js';
import { withIdentitySecrets } from './identity-output.js';
import { WorkloadIssuer } from './workload-issuer.js';

const CA_VALIDITY_MS = 10 * 365 * 24 * 3600_000;

export class IdentityIssuance {
  private readonly issuer: WorkloadIssuer;
  private cas?: CaSet;
  private renewal?: NodeJS.Timeout;
  private errors = new Set<string>();

  constructor(
    private readonly config: IdentityConfig,
    private readonly nats: NatsClient,
    private readonly logger: Logger,
    private readonly retranslate: () => void,
  ) {
    this.issuer = new WorkloadIssuer({ trustDomain: config.trustDomain, ttlMs: config.ttlMs });
  }

  /** The output with the identity Secrets; the output unchanged (and a log line) when the CA cannot be had. */
  async apply(output: TranslationOutput, objects: Iterable<[string, KubeObject]>, now: Date): Promise<TranslationOutput> {
    try {
      this.cas ??= await loadCaSet(this.nats, { trustDomain: this.config.trustDomain, validityMs: CA_VALIDITY_MS, ...(this.config.caFiles ? { files: this.config.caFiles } : {}) }, now);
    } catch (error) {
      this.logger.error(`workload identities: the CA cannot be loaded, no certificate is issued: ${(error as Error).message}`);
      return withIdentitySecrets(output, this.issuer.secrets(), false);
    }
    const result = await this.issuer.reconcile(podPlacements(objects), this.cas, now);
    const errors = new Set(result.errors);
    for (const error of errors) if (!this.errors.has(error)) this.logger.warn(`workload identity: ${error}`);
    this.errors = errors;
    if (result.issued.length > 0) this.logger.log(`workload certificates issued: ${result.issued.length} (${result.issued.slice(0, 3).join(', ')}${result.issued.length > 3 ? ', …' : ''})`);
    this.scheduleRenewal(now);
    return withIdentitySecrets(output, this.issuer.secrets(), result.changed);
  }

  stop(): void {
    if (this.renewal) clearTimeout(this.renewal);
  }

  private scheduleRenewal(now: Date): void {
    if (this.renewal) clearTimeout(this.renewal);
    const next = this.issuer.nextRenewal();
    if (!next) return;
    // a timer longer than 2^31 ms fires at once; renewals are hours away, so cap at one hour and look again
    const wait = Math.min(Math.max(next.getTime() - now.getTime(), 1000), 3600_000);
    this.renewal = setTimeout(() => this.retranslate(), wait);
    this.renewal.unref();
  }
}

/** The Pods among the objects, as placement needs them. */
export function podPlacements(objects: Iterable<[string, KubeObject]>): PodPlacement[] {
  const out: PodPlacement[] = [];
  for (const [key, object] of objects) {
    let ref;
    try {
      ref = parseObjectKey(key);
    } catch {
      continue;
    }
    if (ref.kind !== 'pod' || ref.namespace === undefined) continue;
    const spec = (object['spec'] ?? {}) as { serviceAccountName?: unknown; nodeName?: unknown };
    const status = (object['status'] ?? {}) as { phase?: unknown };
    out.push({
      namespace: ref.namespace,
      name: ref.name,
      ...(typeof spec.serviceAccountName === 'string' ? { serviceAccountName: spec.serviceAccountName } : {}),
      ...(typeof spec.nodeName === 'string' ? { nodeName: spec.nodeName } : {}),
      ...(typeof status.phase === 'string' ? { phase: status.phase } : {}),
    });
  }
  return out;
}
