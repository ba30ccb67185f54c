/** `tendril config dump --node N [--type T]`: the xDS resources that node is served, decoded to JSON. */
import { BUCKETS, XDS_GENERATION_KEY, XDS_TYPE_NAMES, envelopeBytes, proxyStateCodec, xdsGenerationCodec, xdsResourceCodec, type XdsType } from '@tendril/contract';
import { decodeResource } from '@tendril/envoy';
import { selects } from '@tendril/xds';
import { NotFoundError, UsageError, print, table, type OutputFormat } from '../output.js';
import type { Session } from '../session.js';

export interface DumpedResource {
  type: XdsType;
  name: string;
  version: string;
  resource: unknown;
}

export async function configDump(session: Session, format: OutputFormat, node: string, type?: string): Promise<void> {
  if (type !== undefined && !XDS_TYPE_NAMES.includes(type as XdsType)) throw new UsageError(`unknown type "${type}" (one of ${XDS_TYPE_NAMES.join(', ')})`);
  const proxies = await session.entries(BUCKETS.proxies);
  const proxy = proxies.map(([, bytes]) => proxyStateCodec.decode(bytes)).find((p) => p.nodeId === node);
  if (!proxy) throw new NotFoundError(`no proxy with node id "${node}" has connected (see: tendril proxy-status)`);
  let generation: number | undefined;
  const resources: DumpedResource[] = [];
  for (const [key, bytes] of await session.entries(BUCKETS.xds)) {
    if (key === XDS_GENERATION_KEY) {
      generation = xdsGenerationCodec.decode(bytes).generation;
      continue;
    }
    const envelope = xdsResourceCodec.decode(bytes);
    if (type && envelope.type !== type) continue;
    if (!selects(envelope.nodeSelector, { id: proxy.nodeId, cluster: proxy.nodeCluster })) continue;
    resources.push({ type: envelope.type, name: envelope.name, version: envelope.hash.slice(0, 16), resource: decodeResource(envelope.type, envelopeBytes(envelope)) });
  }
  resources.sort((a, b) => XDS_TYPE_NAMES.indexOf(a.type) - XDS_TYPE_NAMES.indexOf(b.type) || a.name.localeCompare(b.name));
  const dump = { node: proxy.nodeId, cluster: proxy.nodeCluster, generation: generation ?? null, resources };
  print(format, dump, () =>
    [
      `node ${proxy.nodeId} (cluster ${proxy.nodeCluster || '-'}), generation ${generation ?? '-'}; -o json for the resources themselves`,
      table(resources, [
        { header: 'TYPE', value: (r) => r.type },
        { header: 'NAME', value: (r) => r.name },
        { header: 'VERSION', value: (r) => r.version },
      ]),
    ].join('\n'),
  );
}
