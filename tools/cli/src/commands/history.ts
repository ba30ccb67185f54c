/** `tendril history` and `tendril history diff A B`: the translator's published generations and what changed. */
import { SUBJECTS, configHistoryCodec, type GenerationRecordMessage } from '@tendril/contract';
import { NotFoundError, UnreachableError, UsageError, print, table, type OutputFormat } from '../output.js';
import { waiting, type Session } from '../session.js';

async function fetchHistory(session: Session, last: number): Promise<GenerationRecordMessage[]> {
  try {
    const reply = await waiting('asking the translator', () =>
      session.nc.request(SUBJECTS.endpoint('translator', 'history'), new TextEncoder().encode(JSON.stringify({ last })), { timeout: session.timeoutMs * 2 }),
    );
    const error = reply.headers?.get('Nats-Service-Error');
    if (error) throw new NotFoundError(`translator: ${error}`);
    return configHistoryCodec.decode(reply.data);
  } catch (error) {
    if (error instanceof NotFoundError) throw error;
    throw new UnreachableError(`the translator's history did not answer: ${(error as Error).message}`);
  }
}

export async function history(session: Session, format: OutputFormat, last: number): Promise<void> {
  const records = await fetchHistory(session, last);
  print(format, records, () =>
    table(records, [
      { header: 'GENERATION', value: (r) => r.generation },
      { header: 'PUBLISHED', value: (r) => r.publishedAt },
      { header: 'OBJECTS', value: (r) => r.objects },
      { header: 'ADDED', value: (r) => r.added.length },
      { header: 'CHANGED', value: (r) => r.changed.length },
      { header: 'REMOVED', value: (r) => r.removed.length },
      { header: 'ERRORS', value: (r) => r.errors.length },
      { header: 'INPUT', value: (r) => r.inputDigest.slice(0, 12) },
    ]),
  );
}

export interface HistoryDiff {
  from: number;
  to: number;
  added: string[];
  changed: string[];
  removed: string[];
}

/**
 * Net change from generation `from` to generation `to`: each name's effect through the records in
 * between (added then removed is nothing; removed then added is a change).
 */
export function diffGenerations(records: GenerationRecordMessage[], from: number, to: number): HistoryDiff {
  const state = new Map<string, 'added' | 'changed' | 'removed'>();
  const between = records.filter((r) => r.generation > from && r.generation <= to).sort((a, b) => a.generation - b.generation);
  for (const record of between) {
    for (const name of record.added) state.set(name, state.get(name) === 'removed' ? 'changed' : 'added');
    for (const name of record.changed) if (state.get(name) !== 'added') state.set(name, 'changed');
    for (const name of record.removed) {
      if (state.get(name) === 'added') state.delete(name);
      else state.set(name, 'removed');
    }
  }
  const of = (kind: string) => [...state].filter(([, s]) => s === kind).map(([name]) => name).sort();
  return { from, to, added: of('added'), changed: of('changed'), removed: of('removed') };
}

export async function historyDiff(session: Session, format: OutputFormat, a: number, b: number): Promise<void> {
  if (!Number.isInteger(a) || !Number.isInteger(b)) throw new UsageError('history diff takes two generation numbers');
  const [from, to] = a <= b ? [a, b] : [b, a];
  const records = await fetchHistory(session, 1000);
  const known = new Set(records.map((r) => r.generation));
  for (const generation of [from, to]) if (generation !== 0 && !known.has(generation)) throw new NotFoundError(`generation ${generation} is not in the translator's history`);
  const diff = diffGenerations(records, from, to);
  print(format, diff, () =>
    [`generation ${from} -> ${to}`, ...diff.added.map((n) => `+ ${n}`), ...diff.changed.map((n) => `~ ${n}`), ...diff.removed.map((n) => `- ${n}`)].join('\n'),
  );
}
