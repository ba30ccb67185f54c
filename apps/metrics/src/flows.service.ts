/**
 * L4 flows from the datapath (tendril.flows.>). Replicas share the stream through the queue group
 * `tendril-metrics`, so each flow is counted and stored by exactly one of them; a query gathers the
 * recent flows of every replica (tendril.metrics.flows-gather, answered by all), and a follower gets
 * every new flow through its own plain subscription, which counts nothing.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { RequestStrategy, type Msg, type Subscription } from 'nats';
import { SUBJECTS, flowEventCodec, microServiceName } from '@tendril/contract';
import { Metrics, MicroRegistration, NatsClient, PLATFORM_CONFIG, type PlatformConfig } from '@tendril/platform';
import { FlowRing, LabelBudget, matchesFlow, parseFlowQuery, type FlowQuery, type StoredFlow } from '@tendril/traffic';
import { METRICS_CONFIG, type MetricsConfig } from './config.js';
import { MeshFigures } from './mesh-figures.js';

export const FLOWS_GATHER_SUBJECT = SUBJECTS.endpoint('metrics', 'flows-gather');

export interface ServedFlow extends StoredFlow {
  /** The metrics replica that stored it (its seq counts within that replica). */
  replica: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

@Injectable()
export class FlowsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('flows');
  readonly ring: FlowRing;
  private readonly subscriptions: Subscription[] = [];
  private readonly flows;
  private readonly byService;
  private readonly destinations: LabelBudget;
  private readonly nodes: LabelBudget;
  private received = 0;

  constructor(
    @Inject(METRICS_CONFIG) config: MetricsConfig,
    @Inject(PLATFORM_CONFIG) private readonly platform: PlatformConfig,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(Metrics) metrics: Metrics,
    @Inject(MicroRegistration) micro: MicroRegistration,
    @Inject(MeshFigures) private readonly figures: MeshFigures,
  ) {
    this.ring = new FlowRing(config.flowsMax, config.flowsMaxAgeSeconds * 1000);
    this.destinations = new LabelBudget(config.maxServiceLabels);
    this.nodes = new LabelBudget(config.maxServiceLabels);
    this.flows = metrics.counter('tendril_flows_total', 'L4 flows seen by the datapath', ['verdict', 'protocol']);
    this.byService = metrics.counter('tendril_flows_by_service_total', 'L4 flows by the node that made them, the service dialled and the verdict', ['node', 'destination', 'verdict']);
    metrics.figure('flows_received', 'Flow events this replica took from the queue group', () => this.received);
    metrics.figure('flows_stored', 'Flows held in memory for /api/flows', () => this.ring.size);
    micro.endpoint('flows', async (request) => {
      const params = request.length === 0 ? {} : (JSON.parse(decoder.decode(request)) as Record<string, unknown>);
      return encoder.encode(JSON.stringify({ v: 1, flows: await this.query(parseFlowQuery(params)) }));
    });
  }

  onApplicationBootstrap(): void {
    void this.nats.connect().then(() => this.subscribe());
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
    this.flows.inc({ verdict: flow.verdict, protocol: flow.protocol }, flow.count);
    this.byService.inc({ node: this.nodes.label(flow.node), destination: this.destinations.label(flow.serviceName ?? 'unknown'), verdict: flow.verdict }, flow.count);
    this.ring.push(flow);
  }

  private local(query: FlowQuery): ServedFlow[] {
    return this.ring.query(query).map((flow) => ({ ...flow, replica: this.platform.instance }));
  }

  private answerGather(msg: Msg): void {
    try {
      const query = JSON.parse(decoder.decode(msg.data)) as FlowQuery;
      msg.respond(encoder.encode(JSON.stringify({ replica: this.platform.instance, flows: this.local(query) })));
    } catch (error) {
      this.logger.warn(`${msg.subject}: ${(error as Error).message}`);
    }
  }

  /** The matching flows of every replica that answers in time, oldest first. */
  async query(query: FlowQuery): Promise<ServedFlow[]> {
    if (!this.nats.connected) return this.local(query);
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
    if (!replicas.has(this.platform.instance)) flows.push(...this.local(query));
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
}
