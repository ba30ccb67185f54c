/**
 * The config history's storage, through TypeORM (0.3): sqlite in TENDRIL_DATA_DIR by default, Postgres
 * when TENDRIL_DB_URL says so. The table is created on first use (synchronize: one table, owned by
 * this service alone). Only the last `keep` generations are kept.
 */
import { databaseTarget } from '@tendril/platform';
import { DataSource, EntitySchema, LessThan, type DataSourceOptions, type Repository } from 'typeorm';
import type { GenerationRecord } from './record.js';

export interface HistoryStore {
  record(entry: GenerationRecord): Promise<void>;
  /** The newest `count` entries, newest first. */
  last(count: number): Promise<GenerationRecord[]>;
  close(): Promise<void>;
}

interface Row extends Omit<GenerationRecord, 'publishedAt'> {
  id?: number;
  publishedAt: Date;
}

const generationTable = new EntitySchema<Row>({
  name: 'Generation',
  tableName: 'tendril_translator_generation',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    generation: { type: Number },
    publishedAt: { type: 'datetime', name: 'published_at' },
    inputDigest: { type: String, length: 64, name: 'input_digest' },
    objects: { type: Number },
    counts: { type: 'simple-json' },
    added: { type: 'simple-json' },
    changed: { type: 'simple-json' },
    removed: { type: 'simple-json' },
    errors: { type: 'simple-json' },
  },
  indices: [{ name: 'tendril_translator_generation_by_generation', columns: ['generation'] }],
});

export interface HistoryStoreOptions {
  /** TENDRIL_DB_URL: `postgres://...` or `postgresql://...`; empty: sqlite. */
  url: string;
  /** TENDRIL_DATA_DIR: where the sqlite file goes. */
  dataDir: string;
  /** TENDRIL_HISTORY_KEEP */
  keep: number;
}

export function dataSourceOptions(options: HistoryStoreOptions): DataSourceOptions {
  const common = { entities: [generationTable], synchronize: true, logging: false };
  const target = databaseTarget(options.url, options.dataDir, 'translator.sqlite');
  // Postgres has no `datetime`: the column maps to a timestamp there.
  if (target.type === 'postgres') return { ...common, ...target, entities: [postgresTable()] };
  return { ...common, ...target };
}

function postgresTable(): EntitySchema<Row> {
  const columns = { ...generationTable.options.columns, publishedAt: { type: 'timestamptz' as const, name: 'published_at' } };
  return new EntitySchema<Row>({ ...generationTable.options, columns });
}

export class TypeOrmHistoryStore implements HistoryStore {
  private constructor(
    private readonly source: DataSource,
    private readonly rows: Repository<Row>,
    private readonly keep: number,
  ) {}

  static async open(options: HistoryStoreOptions): Promise<TypeOrmHistoryStore> {
    const source = new DataSource(dataSourceOptions(options));
    await source.initialize();
    return new TypeOrmHistoryStore(source, source.getRepository<Row>('Generation'), options.keep);
  }

  /** Where the history lives, for logs: the sqlite file or the Postgres database (no password). */
  get where(): string {
    const options = this.source.options;
    return options.type === 'sqlite' ? `sqlite ${options.database}` : `${options.type} ${this.source.driver.database ?? ''}`;
  }

  async record(entry: GenerationRecord): Promise<void> {
    const saved = await this.rows.save({ ...entry, publishedAt: new Date(entry.publishedAt) });
    if (saved.id !== undefined && saved.id > this.keep) await this.rows.delete({ id: LessThan(saved.id - this.keep + 1) });
  }

  async last(count: number): Promise<GenerationRecord[]> {
    const rows = await this.rows.find({ order: { id: 'DESC' }, take: count });
    return rows.map(({ id: _id, publishedAt, ...rest }) => ({ ...rest, publishedAt: publishedAt.toISOString() }));
  }

  async close(): Promise<void> {
    if (this.source.isInitialized) await this.source.destroy();
  }
}
