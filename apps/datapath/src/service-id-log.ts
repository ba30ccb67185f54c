/**
 * The service id allocation on disk, as an append-only log: each batch of map writes appends the
 * ids it gave and released (one write), and the log is compacted (the live ids written to a new
 * file, renamed over the old) once it holds more dead lines than live ones. A change costs what it
 * changed, not the size of the table. The pinned maps stay the final word after a restart
 * (ServiceIds.adopt()), so a lost tail costs nothing but a re-adoption.
 *
 *   tendril-service-ids v2
 *   + 7 127.100.0.1:80/TCP        id 7 given to the frontend
 *   - 127.100.0.1:80/TCP          its id released
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ServiceIds } from '@tendril/datapath-core';
import type { Logger } from '@tendril/platform';

const HEADER = 'tendril-service-ids v2';
/** Dead lines tolerated beyond the live ones before a compaction. */
const COMPACT_SLACK = 1024;

export class ServiceIdLog {
  private fd?: number;
  /** Lines in the file after its header. */
  private lines = 0;
  /** Compactions done (a figure, and what tests look for). */
  compactions = 0;

  /** `legacyFile`: the JSON file older agents rewrote whole; read once when there is no log yet, then removed. */
  constructor(
    private readonly path: string,
    private readonly logger: Pick<Logger, 'warn' | 'log'>,
    private readonly legacyFile?: string,
  ) {}

  /** The allocation the log (or the legacy file) holds; what cannot be read is left to adoption. */
  load(): ServiceIds {
    if (existsSync(this.path)) {
      try {
        return this.replay(readFileSync(this.path, 'utf8'));
      } catch (error) {
        this.logger.warn(`ignoring ${this.path}: ${(error as Error).message} (ids are re-adopted from the pinned maps)`);
        return new ServiceIds();
      }
    }
    if (this.legacyFile && existsSync(this.legacyFile)) {
      try {
        const ids = ServiceIds.fromJSON(JSON.parse(readFileSync(this.legacyFile, 'utf8')));
        this.compact(ids);
        unlinkSync(this.legacyFile);
        this.logger.log(`moved ${ids.size} service ids from ${this.legacyFile} to ${this.path}`);
        return ids;
      } catch (error) {
        this.logger.warn(`ignoring ${this.legacyFile}: ${(error as Error).message} (ids are re-adopted from the pinned maps)`);
      }
    }
    return new ServiceIds();
  }

  /** Appends what changed in `ids` since the last save (one write), compacting when the log has grown. */
  save(ids: ServiceIds): void {
    const changes = ids.takeChanges();
    if (changes === 'all' || this.fd === undefined) return this.compact(ids);
    if (changes.length === 0) return;
    if (this.lines + changes.length > 2 * ids.size + COMPACT_SLACK) return this.compact(ids);
    let text = '';
    for (const [frontend, id] of changes) text += id === undefined ? `- ${frontend}\n` : `+ ${id} ${frontend}\n`;
    writeSync(this.fd, text);
    this.lines += changes.length;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Writes the live ids to a new file and renames it over the log; later saves append to it. */
  private compact(ids: ServiceIds): void {
    ids.takeChanges(); // all of them are in what is written now
    this.close();
    mkdirSync(dirname(this.path), { recursive: true });
    const entries = [...ids.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let text = `${HEADER}\n`;
    for (const [frontend, id] of entries) text += `+ ${id} ${frontend}\n`;
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.path);
    this.fd = openSync(this.path, 'a');
    this.lines = entries.length;
    this.compactions++;
  }

  private replay(text: string): ServiceIds {
    const lines = text.split('\n');
    if (lines[0] !== HEADER) throw new Error(`not a service id log (first line "${lines[0]!.slice(0, 40)}")`);
    // the last element is what follows the final newline: empty, or a line cut short by a crash
    if (lines[lines.length - 1] !== '') this.logger.warn(`${this.path}: dropping an unfinished last line`);
    const body = lines.slice(1, -1);
    const byFrontend = new Map<string, number>();
    let malformed = 0;
    for (const line of body) {
      const given = /^\+ (\d+) (\S+)$/.exec(line);
      const released = /^- (\S+)$/.exec(line);
      if (given) byFrontend.set(given[2]!, Number(given[1]));
      else if (released) byFrontend.delete(released[1]!);
      else malformed++;
    }
    if (malformed > 0) this.logger.warn(`${this.path}: ignored ${malformed} malformed lines`);
    const ids = ServiceIds.fromEntries(byFrontend);
    // start a fresh, compact log: the next save appends to it
    this.compact(ids);
    return ids;
  }
}
