/** A discovery.k8s.io/v1 EndpointSlice read into the fields translation uses. */
import { ipFamily, type L4Protocol, type SourceObject } from '@tendril/model';
import type { Problems } from '../problems.js';
import { FieldReader, type Json } from './fields.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface SlicePortView {
  name: string;
  port: number;
  protocol: L4Protocol;
  /** Index in the slice's ports, for error messages. */
  index: number;
}

export interface SliceEndpointView {
  addresses: string[];
  /** Conditions with Kubernetes' defaults applied: unknown ready is ready, serving follows ready. */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
}

export interface SliceView {
  source: SourceObject;
  /** From the kubernetes.io/service-name label; slices without it belong to no Service. */
  serviceName?: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports: SlicePortView[];
  endpoints: SliceEndpointView[];
}

export function readEndpointSlice(object: Json, source: SourceObject, problems: Problems): SliceView {
  const read = new FieldReader(problems, source);
  const metadata = read.object(object['metadata'], 'metadata') ?? {};
  const labels = read.object(metadata['labels'], 'metadata.labels') ?? {};
  const serviceName = read.string(labels[SERVICE_NAME_LABEL], `metadata.labels.${SERVICE_NAME_LABEL}`);
  const addressType = read.oneOf(object['addressType'], 'addressType', ['IPv4', 'IPv6', 'FQDN'] as const);
  if (addressType === undefined && object['addressType'] === undefined) read.report('addressType', 'missing');

  const ports: SlicePortView[] = [];
  read.array(object['ports'], 'ports').forEach((item, i) => {
    const port = read.object(item, `ports[${i}]`);
    if (!port) return;
    const number = read.integer(port['port'], `ports[${i}].port`, 1, 65535);
    if (number === undefined) {
      if (port['port'] === undefined) read.report(`ports[${i}].port`, 'missing');
      return;
    }
    const protocol = read.oneOf(port['protocol'], `ports[${i}].protocol`, ['TCP', 'UDP', 'SCTP'] as const) ?? 'TCP';
    ports.push({ name: read.string(port['name'], `ports[${i}].name`) ?? '', port: number, protocol, index: i });
  });

  const endpoints: SliceEndpointView[] = [];
  read.array(object['endpoints'], 'endpoints').forEach((item, i) => {
    const at = `endpoints[${i}]`;
    const endpoint = read.object(item, at);
    if (!endpoint) return;
    const addresses: string[] = [];
    read.array(endpoint['addresses'], `${at}.addresses`).forEach((value, j) => {
      const address = read.string(value, `${at}.addresses[${j}]`);
      if (address === undefined || addressType === undefined || addressType === 'FQDN') return;
      if (ipFamily(address) !== addressType) read.report(`${at}.addresses[${j}]`, `"${address}" is not an ${addressType} address`);
      else if (!addresses.includes(address)) addresses.push(address);
    });
    const conditions = read.object(endpoint['conditions'], `${at}.conditions`) ?? {};
    const ready = read.boolean(conditions['ready'], `${at}.conditions.ready`) ?? true;
    const view: SliceEndpointView = {
      addresses,
      ready,
      serving: read.boolean(conditions['serving'], `${at}.conditions.serving`) ?? ready,
      terminating: read.boolean(conditions['terminating'], `${at}.conditions.terminating`) ?? false,
    };
    const nodeName = read.string(endpoint['nodeName'], `${at}.nodeName`);
    if (nodeName) view.nodeName = nodeName;
    const zone = read.string(endpoint['zone'], `${at}.zone`);
    if (zone) view.zone = zone;
    endpoints.push(view);
  });

  const view: SliceView = { source, addressType: addressType ?? 'IPv4', ports, endpoints };
  if (serviceName) view.serviceName = serviceName;
  return view;
}

/** The Service an EndpointSlice's label names, read as readEndpointSlice() reads it (none when absent or not a string). */
export function sliceServiceName(object: Json): string | undefined {
  const record = (value: unknown) => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);
  const name = record(record(object['metadata'])?.['labels'])?.[SERVICE_NAME_LABEL];
  return typeof name === 'string' && name !== '' ? name : undefined;
}
