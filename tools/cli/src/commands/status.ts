/** `tendril status`: every service instance NATS micro discovery finds, with readiness and key figures. */
import { SERVICES, microServiceName, serviceInfoSchema, type ServiceInfo } from '@tendril/contract';
import { NotFoundError, print, table, type OutputFormat } from '../output.js';
import { waiting, type Session } from '../session.js';

export interface InstanceStatus {
  service: string;
  instance: string;
  version: string;
  uptimeSeconds: number;
  ready: boolean;
  reason: string;
  /** Services with one active replica (the translator): active or standby. */
  role?: 'active' | 'standby';
  /** A standby waiting out a lease its holder does not renew: for how long, and who holds it. */
  waiting?: string;
  figures: Record<string, number>;
}

/**
 * The translator: the generation it published; the xds-server and the datapath: the one they hold
 * (loaded to push, or programmed into the maps) and how far behind the translator's they are.
 */
function generationColumn(instance: InstanceStatus): string {
  const { figures } = instance;
  if (instance.service === 'translator') return 'generation' in figures ? String(figures['generation']) : '-';
  const held = instance.service === 'xds-server' ? figures['generation'] : figures['generation_applied'];
  if (held === undefined || held < 0) return '-';
  const lag = figures['generation_lag'] ?? 0;
  return lag > 0 ? `${held} (${lag} behind)` : String(held);
}

/** The figures worth a column: one or two per service, the rest in -o json. */
const KEY_FIGURES: Record<string, string[]> = {
  'k8s-watcher': ['objects_seen', 'manifest_errors', 'object_errors'],
  translator: ['xds_resources', 'lb_entries', 'translation_errors'],
  'xds-server': ['proxies_connected', 'xds_nacks'],
  datapath: ['services_programmed', 'map_entries', 'sync_errors'],
  metrics: ['services_reporting'],
};

/**
 * The role of a replica elected by a Kubernetes Lease (the k8s-watcher in a cluster), from its
 * `leader-election` readiness check: `leader: …` writes (active), `standby: …` does not.
 */
function leaseRole(info: ServiceInfo | undefined): 'active' | 'standby' | undefined {
  const reason = info?.readiness['leader-election']?.reason ?? '';
  if (reason.startsWith('leader:')) return 'active';
  if (reason.startsWith('standby:')) return 'standby';
  return undefined;
}

export async function status(session: Session, format: OutputFormat): Promise<void> {
  const instances = await waiting('asking every Tendril service', async () => {
    const found: InstanceStatus[] = [];
    const stats = await session.nc.services.client().stats();
    for await (const reply of stats) {
      const service = SERVICES.find((name) => microServiceName(name) === reply.name);
      if (!service) continue;
      const data = reply.endpoints?.find((e) => e.data)?.data;
      const parsed = serviceInfoSchema.safeParse(data);
      const info: ServiceInfo | undefined = parsed.success ? parsed.data : undefined;
      const failing = info ? Object.entries(info.readiness).find(([, check]) => !check.ok) : undefined;
      found.push({
        service,
        instance: info?.instance ?? reply.id,
        version: reply.version,
        uptimeSeconds: Math.max(0, Math.round((Date.now() - Date.parse(reply.started)) / 1000)),
        ready: info?.ready ?? false,
        reason: info ? (failing ? `${failing[0]}: ${failing[1].reason}` : 'ready') : 'no readiness reported',
        ...(info?.role ? { role: info.role } : leaseRole(info) ? { role: leaseRole(info)! } : {}),
        ...(/waiting for the lease/.test(info?.readiness['lease']?.reason ?? '') ? { waiting: info!.readiness['lease']!.reason.replace(/^standby: /, '') } : {}),
        figures: info?.figures ?? {},
      });
    }
    return found.sort((a, b) => SERVICES.indexOf(a.service as never) - SERVICES.indexOf(b.service as never) || a.instance.localeCompare(b.instance));
  });
  const missing = SERVICES.filter((name) => !instances.some((i) => i.service === name));
  print(format, { instances, missing }, () => {
    const lines = [
      table(instances, [
        { header: 'SERVICE', value: (i) => i.service },
        { header: 'INSTANCE', value: (i) => i.instance },
        { header: 'VERSION', value: (i) => i.version },
        { header: 'UPTIME', value: (i) => formatDuration(i.uptimeSeconds) },
        { header: 'READY', value: (i) => (i.ready ? 'yes' : `no (${i.reason})`) },
        { header: 'ROLE', value: (i) => (i.role === 'standby' && i.waiting ? `standby (${i.waiting})` : (i.role ?? '-')) },
        { header: 'GENERATION', value: generationColumn },
        { header: 'FIGURES', value: (i) => (KEY_FIGURES[i.service] ?? []).filter((f) => f in i.figures).map((f) => `${f}=${i.figures[f]}`).join(' ') },
      ]),
    ];
    if (missing.length) lines.push('', `not running: ${missing.join(', ')}`);
    return lines.join('\n');
  });
  if (instances.length === 0) throw new NotFoundError('no Tendril service answered on this NATS');
  if (missing.length > 0 || instances.some((i) => !i.ready)) process.exitCode = 1;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}
