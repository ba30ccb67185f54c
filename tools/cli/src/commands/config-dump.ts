/**
 * `tendril config dump --node N [--type T]`: the xDS resources that node is served, decoded to JSON.
 * Secrets are never shown: they live in `tendril-sds`, which the CLI's user cannot read; the dump
 * names the Secrets the node's listeners and clusters refer to, each with `"resource": "redacted"`.
 */
import { BUCKETS, XDS_GENERATION_KEY, XDS_TYPES, XDS_TYPE_NAMES, envelopeBytes, proxyStateCodec, xdsGenerationCodec, xdsResourceCodec, type XdsType } from '@tendril/contract';
import { decodeResource, sdsSecretNames } from '@tendril/envoy';
import { selects } from '@tendril/xds';
import { NotFoundError, UsageError, print, table, type OutputFormat } from '../output.js';
import type { Session } from '../session.js';

export interface DumpedResource {
  type: XdsType;
  name: string;
  version: string;
  resource: unknown;
}

/** What stands for a Secret's content. */
export const REDACTED = 'redacted';

export async function configDump(session: Session, format: OutputFormat, node: string, type?: string): Promise<void> {
  if (type !== undefined && !XDS_TYPE_NAMES.includes(type as XdsType)) throw new UsageError(`unknown type "${type}" (one of ${XDS_TYPE_NAMES.join(', ')})`);
  const proxies = await session.entries(BUCKETS.proxies);
  const proxy = proxies.map(([, bytes]) => proxyStateCodec.decode(bytes)).find((p) => p.nodeId === node);
  if (!proxy) throw new NotFoundError(`no proxy with node id "${node}" has connected (see: tendril proxy-status)`);
  let generation: number | undefined;
  const resources: DumpedResource[] = [];
  const secrets = new Set<string>();
  for (const [key, bytes] of await session.entries(BUCKETS.xds)) {
    if (key === XDS_GENERATION_KEY) {
      generation = xdsGenerationCodec.decode(bytes).generation;
      continue;
    }
    const envelope = xdsResourceCodec.decode(bytes);
    if (!selects(envelope.nodeSelector, { id: proxy.nodeId, cluster: proxy.nodeCluster })) continue;
    // key material is never decoded, not even a Secret an older version left in tendril-xds
    if (envelope.type === 'secret') continue;
    if (envelope.type === 'listener' || envelope.type === 'cluster') {
      try {
        for (const name of sdsSecretNames(XDS_TYPES[envelope.type], envelopeBytes(envelope))) secrets.add(name);
      } catch {
        // a resource that does not decode names no Secret
      }
    }
    if (type && envelope.type !== type) continue;
    resources.push({ type: envelope.type, name: envelope.name, version: envelope.hash.slice(0, 16), resource: decodeResource(envelope.type, envelopeBytes(envelope)) });
  }
  if (!type || type === 'secret') for (const name of secrets) resources.push({ type: 'secret', name, version: '-', resource: REDACTED });
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
      ...(secrets.size > 0 ? [`secrets: content redacted (in ${BUCKETS.sds}, which only the xds-server reads)`] : []),
    ].join('\n'),
  );
}
