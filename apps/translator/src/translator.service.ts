/**
 * The translator's loop: mirror `tendril-objects` and `tendril-secrets` (one store: the keys are
 * the same, so translation does not care where a Secret came from), debounce bursts, translate (pure, in
 * @tendril/translation), publish the difference. It keeps no state of its own: on start it reads
 * what the output buckets hold, so a restart after SIGKILL converges without rewriting what is right.
 */
import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { BUCKETS, kubeObjectCodec, objectBucketOf, parseObjectKey, type KubeObject } from '@tendril/contract';
import { KvLease, KvMirror, MergedKvMirror, Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { TranslationMemo, translate, type TranslationError } from '@tendril/translation';
import { readTranslatorConfig } from './config.js';
import { Debouncer } from './debouncer.js';
import { IdentityIssuance } from './identity/identity-issuance.js';
import { checkHandWritten } from './hand-written.js';
import { HistoryService } from './history/history.service.js';
import { InputDigest } from './history/record.js';
import { ProxyRejections } from './proxy-rejections.js';
import { Publisher } from './publisher.js';
import { TranslationTiming } from './timing.js';
import { WriterRole } from './writer-role.js';

/** Kinds only network policy reads (./policy): their changes never start an xDS translation. */
const POLICY_ONLY_KINDS = new Set(['pod', 'networkpolicy', 'ciliumnetworkpolicy', 'ciliumclusterwidenetworkpolicy']);
function isPod(key: string): boolean {
  return key.split('.', 3)[1] === 'pod';
}

function isPolicyOnly(key: string): boolean {
  try {
    return POLICY_ONLY_KINDS.has(parseObjectKey(key).kind);
  } catch {
    return false;
  }
}

export interface TranslationSummary {
  generation: number;
  objects: number;
  xds: { type: string; name: string }[];
  lb: string[];
  statuses: string[];
  errors: TranslationError[];
  translateMs: number;
  publishMs: number;
  writes: { xds: number; lb: number; status: number };
}

@Injectable()
export class TranslatorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('translator');
  private readonly config = readTranslatorConfig();
  /** Workload certificates (TENDRIL_WORKLOAD_IDENTITIES); undefined when off. */
  private readonly identities?: IdentityIssuance;
  private readonly objects: MergedKvMirror<KubeObject>;
  private readonly publisher: Publisher;
  private readonly debouncer: Debouncer;
  private readonly ready: ReadinessCheck;
  /** Envoy NACKs of what we generated, overlaid on the statuses (./proxy-rejections.ts). */
  private readonly rejections: ProxyRejections;
  private resourcesWritten = 0;
  /** Seconds from process start to the objects' initial sync. */
  private syncedAfterS = 0;
  private translations = 0;
  private patched = 0;
  private incrementalPublishes = 0;
  private lastErrors = new Map<string, TranslationError>();
  /** The last publish, summarized only when `dump` asks (not on every translation). */
  private summary?: () => TranslationSummary;
  private stopped = false;
  private readonly role: WriterRole;
  /** What unchanged objects translated to, so a change re-translates only what depends on it. */
  private readonly memo = new TranslationMemo();
  private readonly timing: TranslationTiming;
  /** Keys of objects changed since the last translation: told to it, so an endpoint change is patched in. */
  private readonly changedKeys = new Set<string>();
  /** Digest of every object, for the config history, kept up to date change by change. */
  private readonly inputs = new InputDigest();
  /** Serial of the last output whose hand-written resources all passed Envoy's rules (a patch keeps them). */
  private handWrittenClean?: number;
  /** The errors array last reported, to skip reporting an unchanged one. */
  private reported?: readonly TranslationError[];

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
    @Inject(HistoryService) private readonly history: HistoryService,
    @Optional() @Inject(KvLease) lease?: KvLease,
  ) {
    this.role = new WriterRole(lease, this.logger, () => this.debouncer.trigger());
    this.ready = readiness.register('translation', 'waiting for the initial sync of tendril-objects');
    const inputs = [BUCKETS.objects, BUCKETS.secrets] as const;
    this.objects = new MergedKvMirror(
      inputs.map(
        (bucket) =>
          new KvMirror(nats, {
            bucket,
            decode: (_key, bytes) => kubeObjectCodec.decode(bytes),
            logger: this.logger,
            onWaiting: (reason) => this.ready.fail(`waiting for bucket ${bucket} (the k8s-watcher creates it): ${reason}`),
          }),
      ),
      (key) => inputs.indexOf(objectBucketOf(key)),
    );
    this.publisher = new Publisher(nats, this.logger, (bucket, key) => {
      if (!this.role.writing) return; // the active translator's writes, seen by a standby
      this.logger.warn(`${bucket}: ${key} was changed by someone else; restoring it`);
      this.debouncer.trigger();
    }, () => this.role.writing);
    this.debouncer = new Debouncer(() => this.run(), this.config.debounceMs, this.config.debounceMaxMs);
    this.rejections = new ProxyRejections(nats, new Logger('proxy rejections'));
    if (this.config.identities) this.identities = new IdentityIssuance(this.config.identities, nats, new Logger('workload identities'), () => this.debouncer.trigger());
    // Never before the objects are synced: a translation of half the objects would unpublish the rest.
    this.rejections.onChange(() => {
      if (this.objects.isInitiallySynced) this.debouncer.trigger();
    });
    metrics.figure('proxy_rejections', 'Resources rejected (NACKed) by connected proxies, per proxy', () => this.rejections.current().length);
    metrics.figure('objects_seen', 'Objects in tendril-objects and tendril-secrets', () => this.objects.size);
    metrics.figure('resources_written', 'Puts and deletes to tendril-xds since start (generation marker included)', () => this.resourcesWritten);
    metrics.figure('xds_resources', 'xDS resources in tendril-xds', () => this.publisher.xdsCount);
    metrics.figure('lb_entries', 'Entries in tendril-lb', () => this.publisher.lbCount);
    metrics.figure('generation', 'The generation last published (the generation markers in tendril-xds and tendril-lb); consumers compare theirs with it', () => this.publisher.generation);
    metrics.figure('translation_errors', 'Errors in the last translation', () => this.lastErrors.size);
    metrics.figure('translations', 'Translations run since start', () => this.translations);
    metrics.figure('translations_patched', 'Translations patched into the last output (no full pass: patch/ in @tendril/translation)', () => this.patched);
    metrics.figure('publishes_incremental', 'Publishes that wrote only what a patched translation replaced (no full diff)', () => this.incrementalPublishes);
    this.timing = new TranslationTiming(metrics);
    this.objects.onChange((changes) => {
      const translated = changes.filter((change) => !isPolicyOnly(change.key));
      if (translated.length === 0) return;
      this.timing.changed(translated);
      for (const change of translated) {
        this.changedKeys.add(change.key);
        this.inputs.change(change.key, change.previous, change.op === 'put' ? change.value : undefined);
      }
    });
    micro.endpoint('dump', () => new TextEncoder().encode(JSON.stringify(this.summary?.() ?? { pending: true })), { activeOnly: true });
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`start-up failed: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    await this.nats.connect();
    // Outputs first: the first translation must be diffed against what they already hold.
    await this.publisher.start();
    this.rejections.start();
    this.objects.onChange((changes) => {
      // a Pod change alters no xDS resource, except the workload certificates and where they go
      if (changes.some((change) => !isPolicyOnly(change.key) || (this.identities !== undefined && isPod(change.key)))) this.debouncer.trigger();
    });
    await this.objects.start();
    this.syncedAfterS = process.uptime();
    if (this.stopped) return;
    this.ready.fail('initial sync done; first publish pending');
    this.debouncer.trigger();
  }

  private async run(): Promise<void> {
    // Whatever asked (a lease won, a drift seen, a rejection), never before the objects are synced: a
    // translation of half the objects would unpublish the rest. start() triggers once they are.
    if (this.stopped || !this.objects.isInitiallySynced) return;
    const started = performance.now();
    const taken = this.timing.take();
    const changes = [...this.changedKeys].map((key) => [key, this.objects.get(key)] as const);
    this.changedKeys.clear();
    const fresh = translate({ cluster: this.platform.cluster, objects: this.objects.entriesNow(), options: this.config.translation, memo: this.memo, changes });
    // A patch replaces no hand-written resource: when the output it was patched from passed, so does it.
    const output = fresh.patch !== undefined && fresh.patch.base === this.handWrittenClean ? fresh : checkHandWritten(fresh);
    this.handWrittenClean = output === fresh ? output.serial : undefined;
    const translated = performance.now();
    this.translations++;
    if (this.memo.lastPass === 'patch') this.patched++;
    this.timing.translated(translated - started);
    if (!this.role.writing) {
      this.ready.pass(this.role.standbyReason(this.publisher.generation));
      return;
    }
    let result;
    try {
      const withRejections = this.rejections.apply(output, this.platform.cluster, this.config.translation);
      result = await this.publisher.publish(this.identities ? await this.identities.apply(withRejections, this.objects.entriesNow(), new Date()) : withRejections);
    } catch (error) {
      this.timing.putBack(taken);
      this.logger.warn(`publishing failed, retrying in ${this.config.retryMs} ms: ${(error as Error).message}`);
      setTimeout(() => this.debouncer.trigger(), this.config.retryMs).unref();
      return;
    }
    this.timing.written(taken);
    this.resourcesWritten += result.xdsWrites;
    if (result.incremental) this.incrementalPublishes++;
    if (output.errors !== this.reported || result.encodeErrors.length > 0) this.reportErrors([...output.errors, ...result.encodeErrors]);
    this.reported = result.encodeErrors.length > 0 ? undefined : output.errors;
    const errors = [...this.lastErrors.values()];
    const objects = this.objects.size;
    this.history.published({ generation: result.generation, inputDigest: this.inputs.hex, objectCount: objects, output, errors, changes: result.changes });
    const translateMs = Math.round((translated - started) * 100) / 100;
    const publishMs = Math.round((performance.now() - translated) * 100) / 100;
    const { generation, xdsWrites, lbWrites, statusWrites } = result;
    this.summary = () => ({
      generation,
      objects,
      xds: output.xds.map(({ type, name }) => ({ type, name })),
      lb: output.lb.map((service) => `${service.namespace}/${service.name}`),
      statuses: output.statuses.map(({ key }) => key),
      errors,
      translateMs,
      publishMs,
      writes: { xds: xdsWrites, lb: lbWrites, status: statusWrites },
    });
    if (!this.ready.ok) {
      // where a cold start's time went: start-up and the objects' replay, translation, the writes
      this.logger.log(
        `first publish done: generation ${result.generation}, ${output.xds.length} xDS resources, ${output.lb.length} LB entries ` +
          `(objects synced ${this.syncedAfterS.toFixed(1)} s after start, translated in ${Math.round(translateMs)} ms, written in ${Math.round(publishMs)} ms, ` +
          `${xdsWrites + lbWrites + statusWrites} writes, done ${process.uptime().toFixed(1)} s after start)`,
      );
    }
    this.ready.pass(`generation ${result.generation}`);
  }

  /** One log line per error when it appears (not on every translation), naming the object. */
  private reportErrors(errors: TranslationError[]): void {
    const current = new Map(errors.map((error) => [`${error.object}: ${error.message}`, error]));
    for (const [line] of current) if (!this.lastErrors.has(line)) this.logger.warn(`translation error: ${line}`);
    for (const [line] of this.lastErrors) if (!current.has(line)) this.logger.log(`resolved: ${line}`);
    this.lastErrors = current;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.debouncer.stop();
    this.objects.stop();
    this.rejections.stop();
    this.identities?.stop();
    this.publisher.stop();
  }
}
