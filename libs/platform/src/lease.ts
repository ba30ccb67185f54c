/**
 * One active replica among several, by a lease in NATS KV (`tendril-leases/<service>`). Every write
 * is a compare-and-set on the key's revision, so two replicas can never both acquire or renew it.
 * Expiry is judged on each replica's own monotonic clock, never by comparing wall clocks: a standby
 * takes the lease over only after it saw the key's revision stand still for the lease's duration, and
 * the holder steps down once it has not renewed for the shorter renew deadline, so before any standby
 * may take over (the standby observes a renewal after the holder sent it). The timing and its
 * variables are the k8s-watcher's Kubernetes Lease's (client-go's leader election).
 *
 * A holder that is gone is not waited for: every replica answers on its own lease-holder subject
 * (SUBJECTS.leaseHolder) from before it can take the lease, and a standby that finds the lease not
 * renewed since its last look asks the holder it names; when NATS says nobody listens there (the
 * holder's connection is closed: it stopped without releasing, was killed, or NATS restarted under
 * it), the standby takes the lease at once by compare-and-set instead of waiting out its duration.
 */
import { ErrorCode, type KV, type NatsError, type Subscription } from 'nats';
import { BUCKETS, SUBJECTS, leaseCodec, type Lease } from '@tendril/contract';
import { ConfigError, envInt } from './config.js';
import type { Logger } from './logger.js';
import type { NatsClient } from './nats.js';

export type LeaseRole = 'active' | 'standby';

export interface LeaseState {
  role: LeaseRole;
  /** The instance holding the lease as far as this replica knows (itself when active). */
  holder?: string;
  /** Why the role is what it is, for /readyz and logs. */
  reason: string;
}

export interface KvLeaseOptions {
  /** The key: the service name. */
  name: string;
  /** This replica: unique per process. */
  holder: string;
  /** How long the lease lasts without a renewal (standbys wait this long on their own clock). */
  durationMs: number;
  /** The holder steps down when it could not renew for this long (below durationMs). */
  renewDeadlineMs: number;
  /** How often the holder renews and a standby looks. */
  retryMs: number;
  logger: Logger;
  bucket?: string;
}

/** TENDRIL_LEASE_DURATION_MS / TENDRIL_LEASE_RENEW_DEADLINE_MS / TENDRIL_LEASE_RETRY_MS (15000 / 10000 / 2000). */
export function readLeaseTiming(): { durationMs: number; renewDeadlineMs: number; retryMs: number } {
  const durationMs = envInt('TENDRIL_LEASE_DURATION_MS', 15000, 1000, 600000);
  const renewDeadlineMs = envInt('TENDRIL_LEASE_RENEW_DEADLINE_MS', 10000, 500, 600000);
  const retryMs = envInt('TENDRIL_LEASE_RETRY_MS', 2000, 100, 600000);
  if (renewDeadlineMs >= durationMs) throw new ConfigError(`TENDRIL_LEASE_RENEW_DEADLINE_MS=${renewDeadlineMs} must be below TENDRIL_LEASE_DURATION_MS=${durationMs}`);
  if (retryMs >= renewDeadlineMs) throw new ConfigError(`TENDRIL_LEASE_RETRY_MS=${retryMs} must be below TENDRIL_LEASE_RENEW_DEADLINE_MS=${renewDeadlineMs}`);
  return { durationMs, renewDeadlineMs, retryMs };
}

export class KvLease {
  private state: LeaseState = { role: 'standby', reason: 'looking for the lease' };
  private readonly listeners = new Set<(state: LeaseState) => void>();
  private kv?: KV;
  /** Active: the revision of our last write and when (monotonic) we sent the write that made it. */
  private revision = 0;
  private renewedAt = 0;
  private acquiredAt = '';
  /** Standby: the revision last seen and when it was first seen. */
  private observed?: { revision: number; at: number };
  private timer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private stopped = false;
  private ticking = false;
  private lastProblem?: string;
  private alive?: Subscription;
  /** Whether look() ran before: the first look asks after the holder at once (a restart finding its predecessor's lease). */
  private lookedBefore = false;

  constructor(
    private readonly nats: NatsClient,
    private readonly options: KvLeaseOptions,
  ) {}

  get role(): LeaseRole {
    return this.state.role;
  }

  get active(): boolean {
    return this.state.role === 'active';
  }

  snapshot(): LeaseState {
    return { ...this.state };
  }

  /** Called on every change of role or of the known holder. */
  onChange(listener: (state: LeaseState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.kv = await this.nats.bucket(this.options.bucket ?? BUCKETS.leases);
    if (this.stopped) return;
    // answered for as long as this process's connection lives, and in place before any acquire
    this.alive = this.nats.nc.subscribe(SUBJECTS.leaseHolder(this.options.name, this.options.holder), {
      callback: (error, msg) => {
        if (!error) msg.respond(new TextEncoder().encode(JSON.stringify({ holder: this.options.holder, role: this.state.role })));
      },
    });
    await this.nats.nc.flush();
    // the holder steps down on its own clock even while a renewal hangs on a lost connection
    this.watchdog = setInterval(() => {
      if (this.active && performance.now() - this.renewedAt >= this.options.renewDeadlineMs) this.stepDown(`not renewed for ${this.options.renewDeadlineMs} ms`);
    }, Math.min(250, this.options.retryMs));
    this.watchdog.unref();
    await this.tick();
  }

  /** Stops; an active replica releases the lease so a standby takes over at its next look. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.active && this.kv) {
      const revision = this.revision;
      this.set({ role: 'standby', reason: 'stopped' });
      await this.kv.delete(this.options.name, { previousSeq: revision }).catch((error: Error) => this.options.logger.warn(`releasing the lease: ${error.message}`));
    }
    this.alive?.unsubscribe();
    this.alive = undefined;
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    try {
      if (this.active) await this.renew();
      else await this.look();
      this.lastProblem = undefined;
    } catch (error) {
      // once per kind of problem, not every retry while NATS is away
      const message = (error as Error).message;
      if (message !== this.lastProblem) this.options.logger.warn(`lease ${this.options.name}: ${message}`);
      this.lastProblem = message;
    } finally {
      this.ticking = false;
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.tick(), this.options.retryMs);
        this.timer.unref();
      }
    }
  }

  private async renew(): Promise<void> {
    const sentAt = performance.now();
    try {
      this.revision = await this.kv!.update(this.options.name, this.value(), this.revision);
      if (this.active) this.renewedAt = sentAt;
    } catch (error) {
      const message = (error as Error).message;
      if (/wrong last sequence/i.test(message)) this.stepDown('another replica wrote the lease');
      else if (performance.now() - this.renewedAt >= this.options.renewDeadlineMs) this.stepDown(`cannot renew: ${message}`);
      else this.options.logger.warn(`lease ${this.options.name}: renewal failed, retrying: ${message}`);
    }
  }

  private async look(): Promise<void> {
    const kv = this.kv!;
    const now = performance.now();
    const entry = await kv.get(this.options.name);
    if (!entry || entry.operation !== 'PUT') {
      // free (never taken, or released): create() succeeds for one replica only
      await this.acquire(() => kv.create(this.options.name, this.value(true)), 'the lease was free', now);
      return;
    }
    let lease: Lease | undefined;
    try {
      lease = leaseCodec.decode(entry.value);
    } catch {
      lease = undefined; // unreadable: treated as held by nobody in particular, expiring like any other
    }
    if (lease?.holder === this.options.holder) {
      // still ours (a renewal we stepped down from landed after all, or its acknowledgement was lost):
      // taken back by compare-and-set, so a standby taking it at this very revision excludes us
      this.acquiredAt = lease.acquiredAt;
      await this.acquire(() => kv.update(this.options.name, this.value(), entry.revision), 'the lease still names this replica', now);
      return;
    }
    const durationMs = Math.max(lease?.durationMs ?? this.options.durationMs, this.options.durationMs);
    const renewed = this.observed?.revision !== entry.revision;
    if (renewed) this.observed = { revision: entry.revision, at: now };
    // first sight of this revision at start, or not renewed since the last look: is its holder still there?
    const firstLook = renewed && this.lookedBefore === false;
    this.lookedBefore = true;
    if ((!renewed || firstLook) && lease && (await this.holderGone(lease.holder))) {
      await this.acquire(() => kv.update(this.options.name, this.value(true), entry.revision), `${lease.holder} is gone: nothing answers on its lease-holder subject`, now);
      return;
    }
    if (renewed) {
      this.set({ role: 'standby', ...(lease ? { holder: lease.holder } : {}), reason: `standby: ${lease?.holder ?? 'another replica'} is active` });
      return;
    }
    const still = now - this.observed!.at;
    if (still >= durationMs) {
      await this.acquire(() => kv.update(this.options.name, this.value(true), entry.revision), `${lease?.holder ?? 'the holder'} did not renew for ${durationMs} ms`, now);
      return;
    }
    const holder = lease?.holder ?? 'another replica';
    this.set({
      role: 'standby',
      ...(lease ? { holder: lease.holder } : {}),
      reason: `standby: waiting for the lease held by ${holder} (not renewed for ${Math.round(still / 1000)} s; expires in ${Math.ceil((durationMs - still) / 1000)} s)`,
    });
  }

  /** True only when NATS says nothing listens on the holder's lease-holder subject (a timeout proves nothing). */
  private async holderGone(holder: string): Promise<boolean> {
    try {
      await this.nats.nc.request(SUBJECTS.leaseHolder(this.options.name, holder), new Uint8Array(), { timeout: Math.min(2000, this.options.retryMs) });
      return false;
    } catch (error) {
      return (error as NatsError).code === ErrorCode.NoResponders;
    }
  }

  private async acquire(write: () => Promise<number>, why: string, sentAt: number): Promise<void> {
    try {
      this.revision = await write();
    } catch (error) {
      // another standby was faster: look again next time
      this.options.logger.log(`lease ${this.options.name}: not taken (${(error as Error).message})`);
      return;
    }
    this.renewedAt = sentAt;
    this.observed = undefined;
    this.options.logger.log(`lease ${this.options.name}: acquired by ${this.options.holder} (${why})`);
    this.set({ role: 'active', holder: this.options.holder, reason: 'active: holds the lease' });
  }

  private stepDown(why: string): void {
    if (!this.active) return;
    this.options.logger.warn(`lease ${this.options.name}: stepping down (${why})`);
    this.observed = undefined;
    this.set({ role: 'standby', reason: `standby: stepped down (${why})` });
  }

  private value(fresh = false): Uint8Array {
    const now = new Date().toISOString();
    if (fresh) this.acquiredAt = now;
    return leaseCodec.encode({ v: 1, holder: this.options.holder, durationMs: this.options.durationMs, acquiredAt: this.acquiredAt || now, renewedAt: now });
  }

  private set(state: LeaseState): void {
    const changed = state.role !== this.state.role || state.holder !== this.state.holder || state.reason !== this.state.reason;
    this.state = state;
    if (changed) for (const listener of this.listeners) listener(this.snapshot());
  }
}
