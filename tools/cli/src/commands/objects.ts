/**
 * `tendril objects`: what the watcher mirrors, with each object's status from the translator, and
 * the objects the watcher could not mirror (refused, or not written yet), from `tendril.k8s-watcher.errors`.
 */
import { BUCKETS, SUBJECTS, kubeObjectCodec, objectStatusCodec, parseObjectKey, type ObjectStatus } from '@tendril/contract';
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

/** An entry of `tendril.k8s-watcher.errors`: a refused manifest document (standalone) or object (Kubernetes). */
interface WatcherError {
  source: string;
  object?: string | null;
  message: string;
  key?: string;
  reason?: string;
  /** Standalone: `ignored` for documents that are fine but not mirrored (kinds Tendril does not read). */
  severity?: string;
}

/** The watcher's errors; none when no watcher answers (the table then shows what the bucket holds). */
async function watcherErrors(session: Session): Promise<WatcherError[]> {
  try {
    const reply = await session.nc.request(SUBJECTS.endpoint('k8s-watcher', 'errors'), new Uint8Array(), { timeout: session.timeoutMs });
    const parsed = JSON.parse(new TextDecoder().decode(reply.data)) as unknown;
    return Array.isArray(parsed) ? (parsed as WatcherError[]) : [];
  } catch {
    return [];
  }
}

/** `namespace/Kind/name` or `Kind/name` into its parts. */
function splitObject(object: string): { kind: string; namespace: string; name: string } {
  const parts = object.split('/');
  return parts.length >= 3 ? { namespace: parts[0]!, kind: parts[1]!, name: parts.slice(2).join('/') } : { namespace: '', kind: parts[0] ?? '?', name: parts.slice(1).join('/') };
}

export async function objects(session: Session, format: OutputFormat, kind?: string): Promise<void> {
  // Secrets live in tendril-secrets, which only the watcher and the translator read
  if (kind?.toLowerCase() === 'secret') process.stderr.write(`Secrets are not listed: they are kept in ${BUCKETS.secrets}, which the cli user cannot read (only refusals are shown)\n`);
  const statuses = new Map<string, ObjectStatus>();
  for (const [key, bytes] of await session.entries(BUCKETS.status).catch(() => [] as [string, Uint8Array][])) {
    try {
      statuses.set(key, objectStatusCodec.decode(bytes));
    } catch {
      // left out: written by another version
    }
  }
  const rows: { key: string; cluster: string; kind: string; namespace: string; name: string; generation: number | null; conditions: string[]; status: unknown; error: string | null }[] = [];
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
      error: null,
    });
  }
  // objects the watcher refused or could not write: named with why (an older version may be in the bucket)
  for (const error of await watcherErrors(session)) {
    if (error.severity === 'ignored') continue;
    const why = `${error.reason ?? 'Refused'}: ${error.message}`;
    const row = error.key ? rows.find((r) => r.key === error.key) : undefined;
    if (row) {
      row.error = why;
      continue;
    }
    const ref = error.key ? parseObjectKey(error.key) : undefined;
    // a refusal of a whole file (or a document that did not get as far as its name) names the file
    const named = error.object ? splitObject(error.object) : { kind: '-', namespace: '', name: error.source };
    const errorKind = named.kind;
    if (kind && errorKind.toLowerCase() !== kind.toLowerCase() && ref?.kind !== kind.toLowerCase()) continue;
    rows.push({ key: error.key ?? error.source, cluster: ref?.cluster ?? '', kind: errorKind, namespace: ref?.namespace ?? named.namespace, name: ref?.name ?? named.name, generation: null, conditions: [], status: null, error: why });
  }
  print(format, rows, () =>
    table(rows, [
      { header: 'KIND', value: (r) => r.kind },
      { header: 'NAMESPACE', value: (r) => r.namespace || '-' },
      { header: 'NAME', value: (r) => r.name },
      { header: 'GEN', value: (r) => r.generation ?? '-' },
      { header: 'STATUS', value: (r) => [r.error ? `NOT MIRRORED (${r.error})` : '', r.conditions.join(' ')].filter(Boolean).join(' ') || '-' },
    ]),
  );
}
