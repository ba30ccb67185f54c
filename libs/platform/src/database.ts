import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where a service's TypeORM database lives: Postgres by URL, or a sqlite file (its folder made). */
export type DatabaseTarget = { type: 'postgres'; url: string } | { type: 'sqlite'; database: string };

/**
 * Reads TENDRIL_DB_URL: `postgres://...` (or `postgresql://`), `sqlite:<file>` (`sqlite::memory:` too),
 * or empty for `<dataDir>/<defaultFile>`; anything else is an error that names the variable.
 */
export function databaseTarget(url: string, dataDir: string, defaultFile: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//.test(url)) return { type: 'postgres', url };
  if (url !== '' && !url.startsWith('sqlite:')) throw new Error(`TENDRIL_DB_URL=${url}: expected postgres://... or sqlite:<file>`);
  const database = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : join(dataDir, defaultFile);
  if (database !== ':memory:') mkdirSync(join(database, '..'), { recursive: true });
  return { type: 'sqlite', database };
}
