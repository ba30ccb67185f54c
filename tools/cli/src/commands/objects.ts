/** `tendril objects`: what the watcher mirrors, with each object's status from the translator. */
import { BUCKETS, kubeObjectCodec, objectStatusCodec, parseObjectKey, type ObjectStatus } from '@tendril/contract';
import { print, table, type OutputFormat } from '../output.js';
import type { Session } from '../session.js';

/** Condition lines anywhere in a status (top-level, per listener, per parent). */
export function conditionsOf(status: unknown): string[] {
  const out: string[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record['type'] === 'string' && typeof record['status'] === 'string' && typeof record['reason'] === 'string') {
        out.push(`${record['type']}=${record['status']}${record['status'] === 'True' ? '' : ` (${record['reason']})`}`);
        return;
      }
      Object.values(record).forEach(visit);
    }
  };
  visit(status);
  return out;
}

export async function objects(session: Session, format: OutputFormat, kind?: string): Promise<void> {
  const statuses = new Map<string, ObjectStatus>();
  for (const [key, bytes] of await session.entries(BUCKETS.status).catch(() => [] as [string, Uint8Array][])) {
    try {
      statuses.set(key, objectStatusCodec.decode(bytes));
    } catch {
      // left out: written by another version
    }
  }
  const rows: { key: string; cluster: string; kind: string; namespace: string; name: string; generation: number | null; conditions: string[]; status: unknown }[] = [];
  for (const [key, bytes] of await session.entries(BUCKETS.objects)) {
    const ref = parseObjectKey(key);
    if (kind && ref.kind !== kind.toLowerCase()) continue;
    const object = kubeObjectCodec.decode(bytes);
    const status = statuses.get(key);
    rows.push({
      key,
      cluster: ref.cluster,
      kind: object.kind,
      namespace: ref.namespace ?? '',
      name: ref.name,
      generation: object.metadata.generation ?? null,
      conditions: status ? conditionsOf(status.status) : [],
      status: status?.status ?? null,
    });
  }
  print(format, rows, () =>
    table(rows, [
      { header: 'KIND', value: (r) => r.kind },
      { header: 'NAMESPACE', value: (r) => r.namespace || '-' },
      { header: 'NAME', value: (r) => r.name },
      { header: 'GEN', value: (r) => r.generation ?? '-' },
      { header: 'STATUS', value: (r) => (r.conditions.length ? r.conditions.join(' ') : '-') },
    ]),
  );
}
