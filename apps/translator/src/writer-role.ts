/**
 * The translator writes only while it holds the lease (tendril-leases/translator). A standby keeps
 * its mirrors of the objects and of the output buckets warm and translates every change, but writes
 * nothing; when it takes the lease over, its first publish diffs against buckets it already mirrors,
 * so it writes only what the old writer left unfinished (usually nothing: the output is deterministic).
 */
import type { KvLease, Logger } from '@tendril/platform';

export class WriterRole {
  constructor(
    private readonly lease: KvLease | undefined,
    logger: Logger,
    onActive: () => void,
  ) {
    let wasActive = lease?.active ?? true;
    lease?.onChange((state) => {
      if (state.role === 'active' && !wasActive) {
        logger.log('holding the lease: writing from now on');
        onActive();
      } else if (state.role === 'standby' && wasActive) {
        logger.warn(`not writing any more: ${state.reason}`);
      }
      wasActive = state.role === 'active';
    });
  }

  /** Without a lease (a single translator, as before) it always writes. */
  get writing(): boolean {
    return this.lease?.active ?? true;
  }

  /** Readiness of a standby that translated: ready to take over, saying who writes. */
  standbyReason(generation: number): string {
    return `${this.lease?.snapshot().reason ?? 'standby'}; translated, not writing (generation ${generation} in tendril-xds)`;
  }
}
