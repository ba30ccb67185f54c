/**
 * Recent flows in a database through TypeORM (0.3): sqlite in TENDRIL_DATA_DIR by default, Postgres when
 * TENDRIL_DB_URL says so. Retention by count (TENDRIL_FLOWS_MAX) and age (TENDRIL_FLOWS_MAX_AGE_S),
 * applied as flows are written. A Postgres store is shared by the replicas; a sqlite one is each
 * replica's own (so queries gather from all replicas then).
 */
import { Brackets, DataSource, EntitySchema, LessThan, type DataSourceOptions, type Repository } from 'typeorm';
import type { FlowEvent } from '@tendril/contract';
import { databaseTarget } from '@tendril/platform';
import type { FlowQuery, StoredFlow } from '@tendril/traffic';

export interface StoredFlowOf extends StoredFlow {
  replica: string;
}

interface Row {
  id?: number;
  replica: string;
  receivedAt: Date;
  at: string;
  node: string;
  protocol: string;
  serviceAddress: string;
  servicePort: number;
  backendAddress: string;
  backendPort: number;
  serviceName: string | null;
  sourceAddress: string | null;
  sourceName: string | null;
  verdict: string;
  count: number;
}

function flowTable(timeType: 'datetime' | 'timestamptz'): EntitySchema<Row> {
  return new EntitySchema<Row>({
    name: 'Flow',
    tableName: 'tendril_metrics_flow',
    columns: {
      id: { type: Number, primary: true, generated: 'increment' },
      replica: { type: String, length: 128 },
      receivedAt: { type: timeType, name: 'received_at' },
      at: { type: String, length: 40 },
      node: { type: String, length: 253 },
      protocol: { type: String, length: 8 },
      serviceAddress: { type: String, length: 45, name: 'service_address' },
      servicePort: { type: Number, name: 'service_port' },
      backendAddress: { type: String, length: 45, name: 'backend_address' },
      backendPort: { type: Number, name: 'backend_port' },
      serviceName: { type: String, length: 317, name: 'service_name', nullable: true },
      sourceAddress: { type: String, length: 45, name: 'source_address', nullable: true },
      sourceName: { type: String, length: 317, name: 'source_name', nullable: true },
      verdict: { type: String, length: 16 },
      count: { type: Number },
    },
    indices: [
      { name: 'tendril_metrics_flow_by_time', columns: ['receivedAt'] },
      { name: 'tendril_metrics_flow_by_service', columns: ['serviceName'] },
    ],
  });
}

export interface FlowStoreOptions {
  /** TENDRIL_DB_URL: `postgres://...`, `sqlite:<file>`, or empty for sqlite in dataDir. */
  url: string;
  dataDir: string;
  keep: number;
  maxAgeMs: number;
}

export function flowDataSourceOptions(options: FlowStoreOptions): DataSourceOptions {
  const target = databaseTarget(options.url, options.dataDir, 'metrics.sqlite');
  return { ...target, entities: [flowTable(target.type === 'postgres' ? 'timestamptz' : 'datetime')], synchronize: true, logging: false };
}

export class FlowStore {
  private constructor(
    private readonly source: DataSource,
    private readonly rows: Repository<Row>,
    private readonly options: FlowStoreOptions,
  ) {}

  static async open(options: FlowStoreOptions): Promise<FlowStore> {
    const source = new DataSource(flowDataSourceOptions(options));
    await source.initialize();
    return new FlowStore(source, source.getRepository<Row>('Flow'), options);
  }

  /** Whether every replica sees the same rows (Postgres), so a query need not gather. */
  get shared(): boolean {
    return this.source.options.type === 'postgres';
  }

  get where(): string {
    const options = this.source.options;
    return options.type === 'sqlite' ? `sqlite ${options.database}` : `${options.type} ${this.source.driver.database ?? ''}`;
  }

  /** Writes a batch, then drops what is beyond the count or older than the age limit. */
  async add(replica: string, flows: { flow: FlowEvent; receivedAt: number }[], now = Date.now()): Promise<void> {
    if (flows.length === 0) return;
    const rows: Row[] = flows.map(({ flow, receivedAt }) => ({
      replica,
      receivedAt: new Date(receivedAt),
      at: flow.at,
      node: flow.node,
      protocol: flow.protocol,
      serviceAddress: flow.service.address,
      servicePort: flow.service.port,
      backendAddress: flow.backend.address,
      backendPort: flow.backend.port,
      serviceName: flow.serviceName ?? null,
      sourceAddress: flow.source?.address ?? null,
      sourceName: flow.sourceName ?? null,
      verdict: flow.verdict,
      count: flow.count,
    }));
    const saved = await this.rows.save(rows, { chunk: 200 });
    const last = saved.at(-1)?.id;
    if (last !== undefined && last > this.options.keep) await this.rows.delete({ id: LessThan(last - this.options.keep + 1) });
    await this.rows.delete({ receivedAt: LessThan(new Date(now - this.options.maxAgeMs)) });
  }

  /** Oldest first; the newest `limit` when there are more. */
  async query(query: FlowQuery, now = Date.now()): Promise<StoredFlowOf[]> {
    const builder = this.rows.createQueryBuilder('flow').where('flow.receivedAt >= :horizon', { horizon: new Date(Math.max(query.since ?? 0, now - this.options.maxAgeMs)) });
    if (query.verdict) builder.andWhere('flow.verdict = :verdict', { verdict: query.verdict });
    if (query.afterSeq !== undefined) builder.andWhere('flow.id > :afterSeq', { afterSeq: query.afterSeq });
    if (query.service) {
      const [address, port] = query.service.includes(':') ? query.service.split(':') : [query.service, undefined];
      builder.andWhere(
        new Brackets((or) => {
          or.where('flow.serviceName = :service', { service: query.service });
          or.orWhere('flow.sourceName = :service', { service: query.service });
          for (const side of ['service', 'backend']) {
            if (port === undefined) or.orWhere(`flow.${side}Address = :address`, { address });
            else or.orWhere(`(flow.${side}Address = :address AND flow.${side}Port = :port)`, { address, port: Number(port) });
          }
        }),
      );
    }
    const rows = await builder
      .orderBy('flow.id', 'DESC')
      .take(query.limit ?? this.options.keep)
      .getMany();
    return rows.reverse().map((row) => ({
      v: 1,
      seq: row.id!,
      replica: row.replica,
      receivedAt: row.receivedAt.getTime(),
      at: row.at,
      node: row.node,
      protocol: row.protocol as FlowEvent['protocol'],
      service: { address: row.serviceAddress, port: row.servicePort },
      backend: { address: row.backendAddress, port: row.backendPort },
      ...(row.serviceName === null ? {} : { serviceName: row.serviceName }),
      ...(row.sourceAddress === null ? {} : { source: { address: row.sourceAddress } }),
      ...(row.sourceName === null ? {} : { sourceName: row.sourceName }),
      verdict: row.verdict as FlowEvent['verdict'],
      count: row.count,
    }));
  }

  async count(): Promise<number> {
    return this.rows.count();
  }

  async close(): Promise<void> {
    if (this.source.isInitialized) await this.source.destroy();
  }
}
