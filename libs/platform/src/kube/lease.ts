/**
 * Leader election with a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes a
 * Lease that is missing, released, or not renewed for its whole duration (measured on the local
 * clock from when this candidate last saw the record change, so clocks need not agree); the leader
 * renews it every retry period and steps down when it could not renew within the renew deadline.
 * Writes carry the resourceVersion read, so two candidates never both win.
 */
import { KubeApiError, type KubeClient } from './client.js';
import type { Logger } from '../logger.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
}

interface LeaseObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export class LeaseElector {
  private leading = false;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private observedVersion?: string;
  private observedAt = 0;
  private lastRenewed = 0;
  private running?: Promise<void>;
  private readonly listeners = new Set<(leading: boolean) => void>();
  /** The identity of the current holder as last seen ('' when none). */
  holder = '';
  lastError = '';

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaseOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  onChange(listener: (leading: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  /** Stops campaigning; a leader releases the Lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.client.request<LeaseObject>('GET', this.path(this.options.name));
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      await this.client.request('PUT', this.path(this.options.name), {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
      });
      this.options.logger.log(`released Lease ${this.options.namespace}/${this.options.name}`);
    } catch (error) {
      this.options.logger.warn(`could not release Lease ${this.options.namespace}/${this.options.name}: ${(error as Error).message}`);
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const started = Date.now();
    this.running = this.attempt()
      .catch((error: Error) => {
        this.lastError = error.message;
        this.options.logger.warn(`Lease ${this.options.namespace}/${this.options.name}: ${error.message}`);
      })
      .finally(() => {
        // lastRenewed is when the last successful write started: a slow success still counts
        if (this.leading && this.lastRenewed < started && Date.now() - this.lastRenewed > this.options.renewDeadlineMs) {
          this.options.logger.warn(`could not renew Lease ${this.options.namespace}/${this.options.name} within ${this.options.renewDeadlineMs} ms; stepping down`);
          this.setLeading(false);
        }
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.options.retryPeriodMs);
      });
  }

  private async attempt(): Promise<void> {
    const now = new Date();
    let lease: LeaseObject | undefined;
    try {
      lease = await this.client.request<LeaseObject>('GET', this.path(this.options.name));
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.statusCode !== 404) throw error;
    }
    this.lastError = ''; // the Lease was read: whatever failed before no longer does
    const durationSeconds = Math.max(1, Math.round(this.options.leaseDurationMs / 1000));
    if (!lease) {
      try {
        await this.client.request('POST', this.path(), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { holderIdentity: this.options.identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
      } catch (error) {
        if (error instanceof KubeApiError && error.statusCode === 409) return; // someone else created it first
        throw error;
      }
      this.won(now);
      return;
    }
    if (lease.metadata.resourceVersion !== this.observedVersion) {
      this.observedVersion = lease.metadata.resourceVersion;
      this.observedAt = now.getTime();
    }
    const spec = lease.spec ?? {};
    this.holder = spec.holderIdentity ?? '';
    const mine = spec.holderIdentity === this.options.identity;
    const expired = this.observedAt + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 <= now.getTime();
    if (spec.holderIdentity && !mine && !expired) {
      if (this.leading) this.setLeading(false);
      return;
    }
    try {
      const updated = await this.client.request<LeaseObject>('PUT', this.path(this.options.name), {
        ...lease,
        spec: {
          holderIdentity: this.options.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine ? (spec.acquireTime ?? microTime(now)) : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      });
      this.observedVersion = updated.metadata.resourceVersion;
      this.observedAt = Date.now();
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 409) return; // another candidate wrote first
      throw error;
    }
    this.won(now);
  }

  private won(at: Date): void {
    this.lastRenewed = at.getTime();
    this.holder = this.options.identity;
    this.lastError = '';
    if (!this.leading) {
      this.options.logger.log(`became leader (Lease ${this.options.namespace}/${this.options.name}, identity ${this.options.identity})`);
      this.setLeading(true);
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (!leading) this.options.logger.log(`standing by (Lease ${this.options.namespace}/${this.options.name})`);
    for (const listener of this.listeners) listener(leading);
  }

  private path(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.options.namespace)}/leases`;
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }
}

/** MicroTime: RFC 3339 with microseconds, as the API server writes it. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
