/** The config history's settings, from the environment. */
import { envInt, envString } from '@tendril/platform';

export interface HistoryConfig {
  /** TENDRIL_DB_URL: `postgres://user:password@host:5432/db`, or `sqlite:<file>`; empty (default): sqlite file `translator.sqlite` in TENDRIL_DATA_DIR. */
  dbUrl: string;
  /** TENDRIL_HISTORY_KEEP: generations kept (default 1000). */
  keep: number;
}

export function readHistoryConfig(): HistoryConfig {
  return { dbUrl: envString('TENDRIL_DB_URL', ''), keep: envInt('TENDRIL_HISTORY_KEEP', 1000, 1, 10_000_000) };
}
