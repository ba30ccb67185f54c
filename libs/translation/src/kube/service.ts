/** A core/v1 Service read into the fields translation uses; every bad field is reported, not thrown. */
import { OWNED_MARK } from '@tendril/contract';
import { ipFamily, isPort, type IpFamily, type L4Protocol, type SourceObject } from '@tendril/model';
import type { TranslationContext } from '../context.js';
import type { IndexedObject } from '../objects.js';
import type { Problems } from '../problems.js';
import { FieldReader, type Json } from './fields.js';

export interface ServicePortView {
  /** '' when unnamed */
  name: string;
  port: number;
  protocol: L4Protocol;
  nodePort?: number;
  appProtocol?: string;
}

export interface ServiceView {
  source: SourceObject;
  namespace: string;
  name: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** clusterIP: None */
  headless: boolean;
  /** Valid cluster IPs, primary first. */
  clusterIPs: string[];
  ipFamilies: IpFamily[];
  externalIPs: string[];
  loadBalancerIPs: string[];
  ports: ServicePortView[];
  sessionAffinity: 'None' | 'ClientIP';
  affinityTimeoutSeconds?: number;
  /** spec.externalTrafficPolicy ('Cluster' when unset or unknown). */
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** spec.healthCheckNodePort (the API server allocates it for a LoadBalancer Service with policy Local). */
  healthCheckNodePort?: number;
  annotations: Record<string, string>;
  /** Labelled `app.kubernetes.io/managed-by: tendril`: a load balancer's Service that Tendril owns (owned/). */
  managedByTendril: boolean;
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;

export function readService(object: Json, source: SourceObject & { namespace: string }, problems: Problems): ServiceView {
  const read = new FieldReader(problems, source);
  const metadata = read.object(object['metadata'], 'metadata') ?? {};
  const spec = read.object(object['spec'], 'spec') ?? {};
  const status = read.object(object['status'], 'status') ?? {};

  const ip = (value: unknown, path: string): string | undefined => {
    const text = read.string(value, path);
    if (text === undefined || text === 'None' || text === '') return undefined;
    if (ipFamily(text) !== undefined) return text;
    read.report(path, `"${text}" is not an IP address`);
    return undefined;
  };
  const ips = (value: unknown, path: string): string[] => {
    const out: string[] = [];
    read.array(value, path).forEach((item, i) => {
      const text = ip(item, `${path}[${i}]`);
      if (text !== undefined && !out.includes(text)) out.push(text);
    });
    return out;
  };

  const clusterIP = read.string(spec['clusterIP'], 'spec.clusterIP');
  const headless = clusterIP === 'None';
  // clusterIPs is authoritative when set; older objects only carry clusterIP.
  const listed = ips(spec['clusterIPs'], 'spec.clusterIPs');
  const single = listed.length > 0 || headless ? undefined : ip(clusterIP, 'spec.clusterIP');
  const clusterIPs = single === undefined ? listed : [single];

  const ipFamilies: IpFamily[] = [];
  read.array(spec['ipFamilies'], 'spec.ipFamilies').forEach((item, i) => {
    const family = read.oneOf(item, `spec.ipFamilies[${i}]`, ['IPv4', 'IPv6'] as const);
    if (family && !ipFamilies.includes(family)) ipFamilies.push(family);
  });
  if (ipFamilies.length === 0) for (const ip of clusterIPs) if (!ipFamilies.includes(ipFamily(ip)!)) ipFamilies.push(ipFamily(ip)!);
  if (ipFamilies.length === 0) ipFamilies.push('IPv4');

  const ports: ServicePortView[] = [];
  read.array(spec['ports'], 'spec.ports').forEach((item, i) => {
    const at = `spec.ports[${i}]`;
    const port = read.object(item, at);
    if (!port) return;
    const name = read.string(port['name'], `${at}.name`) ?? '';
    const number = read.integer(port['port'], `${at}.port`, 1, 65535);
    if (number === undefined) {
      if (port['port'] === undefined) read.report(`${at}.port`, 'missing');
      return;
    }
    if (ports.some((other) => other.name === name)) {
      read.report(`${at}.name`, name ? `duplicate port name "${name}"` : 'several ports need names');
      return;
    }
    const protocol = read.oneOf(port['protocol'], `${at}.protocol`, PROTOCOLS);
    if (protocol === undefined && port['protocol'] !== undefined) return; // reported; guessing would mislead
    const view: ServicePortView = { name, port: number, protocol: protocol ?? 'TCP' };
    const nodePort = read.integer(port['nodePort'], `${at}.nodePort`, 1, 65535);
    if (nodePort !== undefined && isPort(nodePort)) view.nodePort = nodePort;
    const appProtocol = read.string(port['appProtocol'], `${at}.appProtocol`);
    if (appProtocol) view.appProtocol = appProtocol;
    ports.push(view);
  });

  const loadBalancerIPs: string[] = [];
  const loadBalancer = read.object(status['loadBalancer'], 'status.loadBalancer') ?? {};
  read.array(loadBalancer['ingress'], 'status.loadBalancer.ingress').forEach((item, i) => {
    const ingress = read.object(item, `status.loadBalancer.ingress[${i}]`);
    if (ingress?.['ip'] === undefined) return; // hostname-only ingress: nothing to program
    const address = ip(ingress['ip'], `status.loadBalancer.ingress[${i}].ip`);
    if (address !== undefined && !loadBalancerIPs.includes(address)) loadBalancerIPs.push(address);
  });

  const sessionAffinity = read.oneOf(spec['sessionAffinity'], 'spec.sessionAffinity', ['None', 'ClientIP'] as const) ?? 'None';
  const affinityConfig = read.object(read.object(spec['sessionAffinityConfig'], 'spec.sessionAffinityConfig')?.['clientIP'], 'spec.sessionAffinityConfig.clientIP');
  const affinityTimeoutSeconds = read.integer(affinityConfig?.['timeoutSeconds'], 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', 1, 86400);

  const externalTrafficPolicy = read.oneOf(spec['externalTrafficPolicy'], 'spec.externalTrafficPolicy', ['Cluster', 'Local'] as const) ?? 'Cluster';
  const healthCheckNodePort = read.integer(spec['healthCheckNodePort'], 'spec.healthCheckNodePort', 1, 65535);

  const annotations: Record<string, string> = {};
  const rawAnnotations = read.object(metadata['annotations'], 'metadata.annotations') ?? {};
  for (const [key, value] of Object.entries(rawAnnotations)) {
    const text = read.string(value, `metadata.annotations.${key}`);
    if (text !== undefined) annotations[key] = text;
  }

  const view: ServiceView = {
    source,
    namespace: source.namespace,
    name: source.name,
    type: read.oneOf(spec['type'], 'spec.type', TYPES) ?? 'ClusterIP',
    headless,
    clusterIPs: headless ? [] : clusterIPs,
    ipFamilies,
    externalIPs: ips(spec['externalIPs'], 'spec.externalIPs'),
    loadBalancerIPs,
    ports,
    sessionAffinity,
    externalTrafficPolicy,
    annotations,
    managedByTendril: (metadata['labels'] as Record<string, unknown> | undefined)?.[OWNED_MARK.label] === OWNED_MARK.value,
  };
  if (affinityTimeoutSeconds !== undefined) view.affinityTimeoutSeconds = affinityTimeoutSeconds;
  if (healthCheckNodePort !== undefined && isPort(healthCheckNodePort)) view.healthCheckNodePort = healthCheckNodePort;
  return view;
}

/** A Service's view, read once per object while it is unchanged; its problems go to `problems`. */
export function serviceView(context: TranslationContext, entry: IndexedObject, problems: Problems): ServiceView {
  return context.view(entry.object, 'service', problems, (sink) => readService(entry.object, { ...entry.source, namespace: entry.ref.namespace ?? '' }, sink));
}
