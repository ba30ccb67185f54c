/** `tendril services`: the L4 table the datapath programs (VIP, backends, algorithm, L7 redirect). */
import { BUCKETS, SUBJECTS, isLbServiceKey, lbServiceCodec, type LbService } from '@tendril/contract';
import { NotFoundError, print, table, type OutputFormat } from '../output.js';
import { waiting, type Session } from '../session.js';

/** What one node's datapath has programmed into its maps (tendril.datapath.dump.<node>). */
interface NodeDump {
  node: string;
  services: { key: string; frontends: { frontend: string; serviceId: number; algorithm: string; affinityTimeout?: number; l7ProxyPort?: number; backends: string[] }[] }[];
}

export async function nodeServices(session: Session, format: OutputFormat, node: string): Promise<void> {
  let dump: NodeDump;
  try {
    const reply = await waiting(`asking the datapath on ${node}`, () => session.nc.request(SUBJECTS.nodeEndpoint('datapath', 'dump', node), new Uint8Array(), { timeout: session.timeoutMs * 2 }));
    dump = JSON.parse(new TextDecoder().decode(reply.data)) as NodeDump;
  } catch (error) {
    throw new NotFoundError(`no datapath answered for node "${node}" (${(error as Error).message})`);
  }
  const rows = dump.services.flatMap((service) => service.frontends.map((frontend) => ({ service: service.key, ...frontend })));
  print(format, dump, () =>
    table(rows, [
      { header: 'SERVICE', value: (r) => r.service },
      { header: 'FRONTEND', value: (r) => r.frontend },
      { header: 'ID', value: (r) => r.serviceId },
      { header: 'SLOTS', value: (r) => (r.backends.length ? r.backends.join(', ') : '(none)') },
      { header: 'ALGORITHM', value: (r) => r.algorithm },
      { header: 'L7', value: (r) => (r.l7ProxyPort ? `proxy :${r.l7ProxyPort}` : '-') },
    ]),
  );
}

export async function services(session: Session, format: OutputFormat, namespace?: string): Promise<void> {
  const entries: LbService[] = [];
  for (const [key, bytes] of await session.entries(BUCKETS.lb)) {
    if (!isLbServiceKey(key)) continue; // the generation marker
    const entry = lbServiceCodec.decode(bytes);
    if (!namespace || entry.namespace === namespace) entries.push(entry);
  }
  const rows = entries.flatMap((entry) =>
    entry.frontends.map((frontend) => ({
      service: `${entry.namespace}/${entry.name}`,
      cluster: entry.cluster,
      frontend: `${frontend.address.includes(':') ? `[${frontend.address}]` : frontend.address}:${frontend.port}/${frontend.protocol}`,
      scope: frontend.scope,
      backends: entry.backends
        .filter((b) => b.portName === frontend.portName && b.protocol === frontend.protocol)
        .map((b) => `${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port}${b.state === 'terminating' ? ' (terminating)' : ''}${b.weight !== 1 ? ` w=${b.weight}` : ''}`),
      algorithm: entry.algorithm,
      affinity: entry.affinity ? `ClientIP ${entry.affinity.timeoutSeconds}s` : 'none',
      l7Proxy: entry.l7Proxy ? entry.l7Proxy.port : null,
    })),
  );
  print(format, format === 'table' ? rows : entries, () =>
    table(rows, [
      { header: 'SERVICE', value: (r) => r.service },
      { header: 'FRONTEND', value: (r) => r.frontend },
      { header: 'SCOPE', value: (r) => r.scope },
      { header: 'BACKENDS', value: (r) => (r.backends.length ? r.backends.join(', ') : '(none)') },
      { header: 'ALGORITHM', value: (r) => r.algorithm },
      { header: 'AFFINITY', value: (r) => r.affinity },
      { header: 'L7', value: (r) => (r.l7Proxy === null ? '-' : `proxy :${r.l7Proxy}`) },
    ]),
  );
}
