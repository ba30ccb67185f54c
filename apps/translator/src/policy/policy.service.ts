/**
 * Network policy in the translator: mirrors the objects policy reads (Namespaces, Nodes, Pods and
 * the three policy kinds) from `tendril-objects`, compiles them (pure, @tendril/policy), gives each
 * identity its number from `tendril-identities` (compare-and-set, so every replica and restart agrees),
 * and keeps `tendril-policy` equal to the result, then writes the generation marker. Only the lease
 * holder allocates and writes. Runs beside the xDS translation with its own debounce: a Pod changing
 * costs a policy compilation, never an xDS translation.
 */
import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { BUCKETS, POLICY_GENERATION_KEY, contentHash, identityRange, kubeObjectCodec, parseObjectKey, policyGenerationCodec, type KubeObject } from '@tendril/contract';
import { IdentityAllocator, KvLease, KvMirror, Metrics, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { compilePolicy, type PolicyError } from '@tendril/policy';
import { BucketWriter } from '../bucket-writer.js';
import { readTranslatorConfig } from '../config.js';
import { Debouncer } from '../debouncer.js';
import { WriterRole } from '../writer-role.js';
import { keysToAllocate, policyEntries } from './policy-entries.js';

/** The kinds policy compilation reads. */
export const POLICY_INPUT_KINDS = new Set(['namespace', 'node', 'pod', 'networkpolicy', 'ciliumnetworkpolicy', 'ciliumclusterwidenetworkpolicy']);

const isPolicyInput = (key: string): boolean => {
  try {
    return POLICY_INPUT_KINDS.has(parseObjectKey(key).kind);
  } catch {
    return false;
  }
};

@Injectable()
export class PolicyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('policy');
  private readonly config = readTranslatorConfig();
  private readonly objects: KvMirror<KubeObject | null>;
  /** entries decode to null; the generation marker to its generation */
  private readonly writer: BucketWriter<number | null>;
  private readonly allocator: IdentityAllocator;
  private readonly debouncer: Debouncer;
  private readonly role: WriterRole;
  private readonly ready: ReadinessCheck;
  private stopped = false;
  private reported = new Set<string>();
  private figures = { identities: 0, policies: 0, addresses: 0, errors: 0, generation: 0 };

  constructor(
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Readiness) readiness: Readiness,
    @Inject(Metrics) metrics: Metrics,
    @Optional() @Inject(KvLease) lease?: KvLease,
  ) {
    this.ready = readiness.register('policy', 'waiting for the initial sync of tendril-objects');
    this.objects = new KvMirror(nats, {
      bucket: BUCKETS.objects,
      // every other kind is kept as a key only
      decode: (key, bytes) => (isPolicyInput(key) ? kubeObjectCodec.decode(bytes) : null),
      logger: this.logger,
    });
    this.writer = new BucketWriter(
      nats,
      BUCKETS.policy,
      (key, bytes) => (key === POLICY_GENERATION_KEY ? policyGenerationCodec.decode(bytes).generation : (JSON.parse(new TextDecoder().decode(bytes)), null)),
      this.logger,
      (key) => {
        if (!this.role.writing) return;
        this.logger.warn(`${BUCKETS.policy}: ${key} was changed by someone else; restoring it`);
        this.debouncer.trigger();
      },
      () => this.role.writing,
    );
    this.allocator = new IdentityAllocator(() => nats.bucket(BUCKETS.identities), identityRange(this.config.clusterId), this.logger);
    this.role = new WriterRole(lease, this.logger, () => this.debouncer.trigger());
    this.debouncer = new Debouncer(() => this.run(), this.config.debounceMs, this.config.debounceMaxMs);
    metrics.figure('policy_identities', 'Identities in tendril-policy (reserved, workloads, address ranges)', () => this.figures.identities);
    metrics.figure('policy_selected_identities', 'Workload identities some network policy selects', () => this.figures.policies);
    metrics.figure('policy_addresses', 'Entries of the address -> identity table', () => this.figures.addresses);
    metrics.figure('policy_errors', 'Problems in network policies (refused, failed closed, not enforced)', () => this.figures.errors);
    metrics.figure('policy_generation', 'The generation marker last written to tendril-policy', () => this.figures.generation);
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: Error) => this.logger.error(`start-up failed: ${error.stack ?? error.message}`));
  }

  private async start(): Promise<void> {
    await this.nats.connect();
    await this.writer.start();
    this.objects.onChange((changes) => {
      if (changes.some((change) => isPolicyInput(change.key))) this.debouncer.trigger();
    });
    await this.objects.start();
    if (this.stopped) return;
    this.ready.fail('initial sync done; first policy publish pending');
    this.debouncer.trigger();
  }

  private async run(): Promise<void> {
    if (this.stopped || !this.objects.isInitiallySynced) return;
    const objects: KubeObject[] = [];
    for (const [, object] of this.objects.values()) if (object) objects.push(object);
    const compiled = compilePolicy({ cluster: this.platform.cluster, objects: objects as unknown as Record<string, unknown>[] });
    this.report(compiled.errors);
    if (!this.role.writing) {
      this.ready.pass('standby: compiled, not writing');
      return;
    }
    try {
      const allocated = await this.allocator.allocateAll(keysToAllocate(compiled));
      const { entries } = policyEntries(compiled, allocated);
      const desired = new Map([...entries].map(([key, bytes]) => [key, { bytes, hash: contentHash(bytes), value: null as number | null }]));
      const result = await this.writer.write(desired, { keep: (key) => key === POLICY_GENERATION_KEY });
      const previous = this.writer.get(POLICY_GENERATION_KEY)?.value ?? undefined;
      let generation = previous ?? 0;
      // a marker after every change, so a reader that holds it holds everything written before it
      if (result.puts + result.deletes > 0 || previous === undefined) {
        generation += 1;
        const bytes = policyGenerationCodec.encode({ v: 1, generation, entries: entries.size });
        const marker = new Map([[POLICY_GENERATION_KEY, { bytes, hash: contentHash(bytes), value: generation }]]);
        await this.writer.writeKeys(marker, [POLICY_GENERATION_KEY]);
      }
      this.figures = {
        identities: compiled.identities.length,
        policies: compiled.policies.length,
        addresses: compiled.addresses.length,
        errors: compiled.errors.length,
        generation,
      };
      this.ready.pass(`generation ${generation}: ${compiled.identities.length} identities, ${compiled.policies.length} selected by a policy`);
    } catch (error) {
      this.logger.warn(`publishing policy failed, retrying in ${this.config.retryMs} ms: ${(error as Error).message}`);
      setTimeout(() => this.debouncer.trigger(), this.config.retryMs).unref();
    }
  }

  /** One log line per problem when it appears, naming the object and the field. */
  private report(errors: readonly PolicyError[]): void {
    const current = new Set(errors.map((error) => `${error.object}: ${error.field}: ${error.message} (${error.effect})`));
    for (const line of current) if (!this.reported.has(line)) this.logger.warn(`network policy: ${line}`);
    for (const line of this.reported) if (!current.has(line)) this.logger.log(`resolved: ${line}`);
    this.reported = current;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.debouncer.stop();
    this.objects.stop();
    this.writer.stop();
  }
}
