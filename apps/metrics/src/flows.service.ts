/**
 * L4 flows from the datapath (tendril.flows.>). Replicas share the stream through the queue group
 * `tendril-metrics`, so each flow is counted and stored by exactly one of them. Flows are stored through
 * TypeORM (sqlite by default, Postgres by TENDRIL_DB_URL) in batches, or in a memory ring. A query
 * gathers the recent flows of every replica (tendril.metrics.flows-gather, answered by all) unless the
 * store is shared (Postgres); a follower gets every new flow through its own plain subscription, which
 * counts nothing.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { RequestStrategy, type Msg, type Subscription } from 'nats';
import { SUBJECTS, flowEventCodec, microServiceName, type FlowEvent } from '@tendril/contract';
import { Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, Readiness, type PlatformConfig, type ReadinessCheck } from '@tendril/platform';
import { FlowRing, LabelBudget, matchesFlow, parseFlowQuery, type FlowQuery, type StoredFlow } from '@tendril/traffic';
import { METRICS_CONFIG, type MetricsConfig } from './config.js';
import { FlowStore } from './flow-store.js';
import { MeshFigures } from './mesh-figures.js';
import { TrafficService } from './traffic.service.js';

export const FLOWS_GATHER_SUBJECT = SUBJECTS.endpoint('metrics', 'flows-gather');

export interface ServedFlow extends StoredFlow {
  /** The metrics replica that stored it (its seq counts within that replica). */
  replica: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const FLUSH_INTERVAL_MS = 200;

@Injectable()
export class FlowsService implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('flows');
  private readonly ring: FlowRing;
  private store?: FlowStore;
  private readonly storeReady: ReadinessCheck | undefined;
  private pending: { flow: FlowEvent; receivedAt: number }[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushTimer?: NodeJS.Timeout;
  private stored = 0;
  private storeErrors = 0;
  private readonly subscriptions: Subscription[] = [];
  private readonly flows;
  private readonly byService;
  private readonly destinations: LabelBudget;
  private readonly sources: LabelBudget;
  private readonly nodes: LabelBudget;
  private received = 0;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
    @Inject(MeshFigures) private readonly figures: MeshFigures,
    @Inject(Readiness) readiness: Readiness,
    @Inject(TrafficService) private readonly traffic: TrafficService,
  ) {
    this.ring = new FlowRing(config.flowsStore === 'memory' ? config.flowsMax : 1, config.flowsMaxAgeSeconds * 1000);
    if (config.flowsStore === 'db') this.storeReady = readiness.register('flow-store', 'flow database not open yet');
    this.destinations = new LabelBudget(config.maxServiceLabels);
    this.sources = new LabelBudget(config.maxServiceLabels);
    this.nodes = new LabelBudget(config.maxServiceLabels);
    this.flows = metrics.counter('tendril_flows_total', 'L4 flows seen by the datapath', ['verdict', 'protocol']);
    this.byService = metrics.counter('tendril_flows_by_service_total', 'L4 flows by the node that made them, the calling service (by source address), the service dialled and the verdict', ['node', 'source', 'destination', 'verdict']);
    metrics.figure('flows_received', 'Flow events this replica took from the queue group', () => this.received);
    metrics.figure('flows_stored', 'Flows held for /api/flows (in the database: this replica\'s writes, after retention)', () => (this.config.flowsStore === 'db' ? this.stored : this.ring.size));
    metrics.figure('flow_store_errors', 'Batches of flows the database refused', () => this.storeErrors);
    micro.endpoint('flows', async (request) => {
      const params = request.length === 0 ? {} : (JSON.parse(decoder.decode(request)) as Record<string, unknown>);
      return encoder.encode(JSON.stringify({ v: 1, flows: await this.query(parseFlowQuery(params)) }));
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.flowsStore === 'db') {
      const { dbUrl: url, flowsMax: keep, flowsMaxAgeSeconds } = this.config;
      this.store = await FlowStore.open({ url, dataDir: this.platform.dataDir, keep, maxAgeMs: flowsMaxAgeSeconds * 1000 });
      this.storeReady?.pass(`flows in ${this.store.where}`);
      this.logger.log(`flows stored in ${this.store.where}`);
      this.flushTimer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    }
    void this.nats.connect().then(() => this.subscribe());
  }

  /** Writes the flows received since the last flush in one batch; batches never overlap. */
  private flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.store || this.pending.length === 0) return;
      const batch = this.pending;
      this.pending = [];
      try {
        await this.store.add(this.platform.instance, batch);
        this.stored = await this.store.count();
      } catch (error) {
        this.storeErrors++;
        this.logger.warn(`storing ${batch.length} flows: ${(error as Error).message}`);
      }
    });
    return this.flushing;
  }

  private subscribe(): void {
    const nc = this.nats.nc;
    this.subscriptions.push(
      nc.subscribe(SUBJECTS.flowsAll, { queue: microServiceName('metrics'), callback: (error, msg) => !error && this.onFlow(msg) }),
      nc.subscribe(FLOWS_GATHER_SUBJECT, { callback: (error, msg) => !error && this.answerGather(msg) }),
    );
  }

  private onFlow(msg: Msg): void {
    let flow;
    try {
      flow = flowEventCodec.decode(msg.data);
    } catch (error) {
      this.figures.bad(msg.subject, error as Error);
      return;
    }
    this.received++;
    // the caller's identity: the service that has the source address as a backend
    const sourceName = flow.sourceName ?? this.traffic.serviceAt(flow.source?.address);
    if (sourceName) flow = { ...flow, sourceName };
    this.traffic.recordFlow(flow);
    this.flows.inc({ verdict: flow.verdict, protocol: flow.protocol }, flow.count);
    this.byService.inc({ node: this.nodes.label(flow.node), source: this.sources.label(flow.sourceName ?? 'unknown'), destination: this.destinations.label(flow.serviceName ?? 'unknown'), verdict: flow.verdict }, flow.count);
    if (this.store) {
      // bounded while the database is slow: the oldest unwritten flows give way
      if (this.pending.length >= this.config.flowsMax) this.pending.shift();
      this.pending.push({ flow, receivedAt: Date.now() });
    } else this.ring.push(flow);
  }

  private async local(query: FlowQuery): Promise<ServedFlow[]> {
    if (this.store) return this.store.query(query);
    return this.ring.query(query).map((flow) => ({ ...flow, replica: this.platform.instance }));
  }

  private answerGather(msg: Msg): void {
    Promise.resolve()
      .then(() => this.local(JSON.parse(decoder.decode(msg.data)) as FlowQuery))
      .then((flows) => msg.respond(encoder.encode(JSON.stringify({ replica: this.platform.instance, flows }))))
      .catch((error: Error) => this.logger.warn(`${msg.subject}: ${error.message}`));
  }

  /** The matching flows of every replica that answers in time, oldest first. */
  async query(query: FlowQuery): Promise<ServedFlow[]> {
    if (!this.nats.connected || this.store?.shared) return this.local(query);
    const expected = Math.max(1, this.figures.instancesOf('metrics'));
    const answers = await this.nats.nc.requestMany(FLOWS_GATHER_SUBJECT, encoder.encode(JSON.stringify(query)), {
      strategy: RequestStrategy.Count,
      maxMessages: expected,
      maxWait: 500,
    });
    const flows: ServedFlow[] = [];
    const replicas = new Set<string>();
    for await (const answer of answers) {
      try {
        const batch = JSON.parse(decoder.decode(answer.data)) as { replica: string; flows: ServedFlow[] };
        replicas.add(batch.replica);
        flows.push(...batch.flows);
      } catch (error) {
        this.logger.warn(`flow gather answer: ${(error as Error).message}`);
      }
    }
    if (!replicas.has(this.platform.instance)) flows.push(...(await this.local(query)));
    flows.sort((a, b) => a.receivedAt - b.receivedAt || a.replica.localeCompare(b.replica) || a.seq - b.seq);
    return query.limit !== undefined && flows.length > query.limit ? flows.slice(flows.length - query.limit) : flows;
  }

  /** Every new matching flow, whichever replica stores it, until the returned stop is called. */
  follow(query: FlowQuery, listener: (flow: ServedFlow) => void): () => void {
    const subscription = this.nats.nc.subscribe(SUBJECTS.flowsAll, {
      callback: (error, msg) => {
        if (error) return;
        try {
          const flow: StoredFlow = { ...flowEventCodec.decode(msg.data), seq: 0, receivedAt: Date.now() };
          if (matchesFlow(flow, { ...query, since: undefined, afterSeq: undefined })) listener({ ...flow, replica: this.platform.instance });
        } catch {
          // counted by the queue-group subscriber that owns it
        }
      },
    });
    return () => subscription.unsubscribe();
  }

  onModuleDestroy(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flush();
    await this.store?.close();
  }
}
