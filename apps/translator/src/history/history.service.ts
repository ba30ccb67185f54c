/**
 * Keeps the config history: after every publish that changed something, one record (generation,
 * time, input digest, counts, names added / changed / removed, errors). Answers
 * `tendril.translator.history` with the last N records (request: `{"last": N}`, default 20). The
 * history is a record, not a dependency: if its database cannot be opened or written, translation
 * and publishing go on and the failure is logged (and answered on the endpoint).
 *
 * With several replicas (one writer by its lease), the endpoint's queue group may pick a standby,
 * whose own history holds nothing it published: the endpoint is active-only, so a standby passes the
 * request on to the lease holder (`tendril.translator.active.history`), and answers from its own
 * store only when no replica is active.
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { MicroRegistration, PLATFORM_CONFIG, type PlatformConfig } from '@tendril/platform';
import type { TranslationError, TranslationOutput } from '@tendril/translation';
import { readHistoryConfig } from './config.js';
import { countsOf, type GenerationRecord } from './record.js';
import { TypeOrmHistoryStore, type HistoryStore } from './store.js';

export const DEFAULT_HISTORY_COUNT = 20;
export const MAX_HISTORY_COUNT = 1000;

export interface PublishedBatch {
  generation: number;
  /** The InputDigest of the objects translated (kept up to date by the caller). */
  inputDigest: string;
  objectCount: number;
  output: TranslationOutput;
  errors: TranslationError[];
  changes: { added: string[]; changed: string[]; removed: string[] };
}

@Injectable()
export class HistoryService implements OnApplicationShutdown {
  private readonly logger = new Logger('history');
  private readonly config = readHistoryConfig();
  private store?: Promise<HistoryStore>;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(MicroRegistration) micro: MicroRegistration,
  ) {
    // with several replicas, only the active one has published: a standby passes the request on to it
    micro.endpoint('history', async (request) => new TextEncoder().encode(JSON.stringify(await this.last(requestedCount(request)))), { activeOnly: true });
  }

  private open(): Promise<HistoryStore> {
    this.store ??= TypeOrmHistoryStore.open({ url: this.config.dbUrl, dataDir: this.platform.dataDir, keep: this.config.keep }).then((store) => {
      this.logger.log(`config history in ${store.where}`);
      return store;
    });
    return this.store;
  }

  /** Records one publish (nothing when it changed nothing); writes are queued, in order, off the publish path. */
  published(batch: PublishedBatch): void {
    const { added, changed, removed } = batch.changes;
    if (added.length + changed.length + removed.length === 0) return;
    const record: GenerationRecord = {
      generation: batch.generation,
      publishedAt: new Date().toISOString(),
      inputDigest: batch.inputDigest,
      objects: batch.objectCount,
      counts: countsOf(batch.output),
      added,
      changed,
      removed,
      errors: batch.errors,
    };
    this.writing = this.writing
      .then(async () => (await this.open()).record(record))
      .catch((error: Error) => this.logger.warn(`config history: generation ${record.generation} not recorded: ${error.message}`));
  }

  async last(count: number): Promise<GenerationRecord[]> {
    await this.writing;
    return (await this.open()).last(count);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.writing;
    if (this.store) await (await this.store.catch(() => undefined))?.close();
  }
}

/** `{"last": N}` or empty; N is clamped to 1..MAX_HISTORY_COUNT. */
export function requestedCount(request: Uint8Array): number {
  if (request.length === 0) return DEFAULT_HISTORY_COUNT;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(request));
  } catch {
    throw new Error('history: expected a JSON request like {"last": 20}');
  }
  const last = typeof body === 'object' && body !== null ? (body as { last?: unknown }).last : undefined;
  if (last === undefined) return DEFAULT_HISTORY_COUNT;
  if (typeof last !== 'number' || !Number.isInteger(last) || last < 1) throw new Error('history: "last" must be a positive integer');
  return Math.min(last, MAX_HISTORY_COUNT);
}
