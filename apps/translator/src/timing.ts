/**
 * How long translations take and how far tendril-xds lags behind tendril-objects: the duration of
 * each translation, and the end-to-end lag from an object change (its KV entry's timestamp) to the
 * write of the generation that includes it. Both as histograms on /metrics and as figures on
 * tendril.stats.translator (which metrics shows as tendril_mesh_*).
 */
import type { KubeObject } from '@tendril/contract';
import type { Metrics, MirrorChange } from '@tendril/platform';

const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The object changes a run took up: the oldest of them sets the lag of the generation it writes. */
export interface PendingChanges {
  oldest?: number;
  count: number;
}

export class TranslationTiming {
  private pending: PendingChanges = { count: 0 };
  private lastTranslation = 0;
  private lastLag = 0;
  private published = 0;
  private readonly durations;
  private readonly lags;

  constructor(metrics: Metrics) {
    this.durations = metrics.histogram('tendril_translation_duration_seconds', 'Duration of each translation of tendril-objects (before publishing)', [], SECONDS_BUCKETS);
    this.lags = metrics.histogram(
      'tendril_object_to_xds_lag_seconds',
      'From an object change in tendril-objects (its KV timestamp) to the write of the tendril-xds generation that includes it (oldest change of each batch)',
      [],
      SECONDS_BUCKETS,
    );
    metrics.figure('last_translation_seconds', 'Duration of the last translation', () => this.lastTranslation);
    metrics.figure('last_object_to_xds_lag_seconds', 'Lag of the last published generation behind the oldest object change it includes', () => this.lastLag);
    metrics.figure('object_changes_published', 'Object changes (with a KV timestamp) whose generation was written since start', () => this.published);
  }

  /** Object changes seen by the mirror (live ones carry the server's timestamp). */
  changed(changes: MirrorChange<KubeObject>[]): void {
    for (const change of changes) {
      if (!change.at) continue;
      const at = change.at.getTime();
      this.pending.oldest = this.pending.oldest === undefined ? at : Math.min(this.pending.oldest, at);
      this.pending.count++;
    }
  }

  /** A run starts: it translates every change seen so far. */
  take(): PendingChanges {
    const taken = this.pending;
    this.pending = { count: 0 };
    return taken;
  }

  /** A run failed to publish: its changes wait for the next one. */
  putBack(taken: PendingChanges): void {
    if (taken.oldest === undefined) return;
    this.pending.oldest = this.pending.oldest === undefined ? taken.oldest : Math.min(this.pending.oldest, taken.oldest);
    this.pending.count += taken.count;
  }

  translated(milliseconds: number): void {
    this.lastTranslation = milliseconds / 1000;
    this.durations.observe(this.lastTranslation);
  }

  /** The generation with the taken changes is written. */
  written(taken: PendingChanges, now = Date.now()): void {
    if (taken.oldest === undefined) return;
    // the KV timestamp is the server's clock: a skewed one must not make the lag negative
    this.lastLag = Math.max(0, now - taken.oldest) / 1000;
    this.lags.observe(this.lastLag);
    this.published += taken.count;
  }
}
