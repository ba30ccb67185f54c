/** `tendril proxy-status`: per proxy and xDS type, SYNCED / STALE / NACK with the error (as istioctl proxy-status). */
import { BUCKETS, XDS_TYPES, proxyStateCodec, xdsTypeOfUrl, type ProxyState } from '@tendril/contract';
import { typeSyncStatus } from '@tendril/traffic';
import { NotFoundError, print, table, type OutputFormat } from '../output.js';
import type { Session } from '../session.js';

export async function proxyStatus(session: Session, format: OutputFormat, node?: string): Promise<void> {
  const proxies: ProxyState[] = [];
  for (const [, bytes] of await session.entries(BUCKETS.proxies)) {
    try {
      proxies.push(proxyStateCodec.decode(bytes));
    } catch {
      // a record from another version: left out, not fatal
    }
  }
  const selected = node ? proxies.filter((p) => p.nodeId === node) : proxies;
  if (node && selected.length === 0) throw new NotFoundError(`no proxy with node id "${node}" has connected`);
  const rows = selected
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
    .map((proxy) => ({
      node: proxy.nodeId,
      cluster: proxy.nodeCluster,
      connected: proxy.connected,
      replica: proxy.replica,
      types: Object.fromEntries(
        proxy.types.map((type) => [
          xdsTypeOfUrl(type.typeUrl) ?? type.typeUrl,
          // rejected: the resources the NACK refused, when the xds-server could tell (empty otherwise)
          { state: typeSyncStatus(type), versionAcked: type.versionAcked, error: type.lastNack?.error ?? null, rejected: type.lastNack?.resources ?? [] },
        ]),
      ),
    }));
  const cell = (row: (typeof rows)[number], type: string) => {
    const entry = row.types[type];
    if (!entry) return '-';
    if (entry.state !== 'NACK') return entry.state;
    return entry.rejected.length ? `NACK ${entry.rejected.join(', ')} (${entry.error})` : `NACK (${entry.error})`;
  };
  print(format, rows, () =>
    table(rows, [
      { header: 'NODE', value: (r) => r.node },
      { header: 'CLUSTER', value: (r) => r.cluster || '-' },
      { header: 'CONNECTED', value: (r) => (r.connected ? `yes (${r.replica})` : 'no') },
      ...Object.keys(XDS_TYPES).map((type) => ({ header: type === 'endpoint' ? 'EDS' : `${type.slice(0, 1).toUpperCase()}DS`, value: (r: (typeof rows)[number]) => cell(r, type) })),
    ]),
  );
  if (rows.some((r) => Object.values(r.types).some((t) => t.state === 'NACK'))) process.exitCode = 1;
}
