/**
 * Codecs for the maps of bpf/lib/lb.h, one per C struct and named after it, with explicit byte
 * order: addresses and ports in network order (big-endian), ids, counts and slots in host order.
 * Each codec carries its layout (size and field offsets), which a test checks against the BTF of
 * the compiled object, so this file and the header cannot drift apart.
 */

export const MAP_NAMES = {
  services: 'tendril_lb4_services_v1',
  backends: 'tendril_lb4_backends_v1',
  revnat: 'tendril_lb4_revnat_v1',
  flows: 'tendril_lb4_flows_v1',
} as const;

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
const PROTOCOL_NUMBERS: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** lb4_service.flags */
export const SERVICE_FLAG_L7_REDIRECT = 0x01;

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface StructCodec<T> {
  /** The C struct in bpf/lib/lb.h this mirrors. */
  struct: string;
  size: number;
  fields: Record<string, FieldLayout>;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function view(bytes: Uint8Array, size: number, struct: string): DataView {
  if (bytes.length !== size) throw new Error(`${struct}: expected ${size} bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function ipv4ToUint32(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${address}`);
  let out = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!/^\d{1,3}$/.test(part) || octet > 255) throw new Error(`not an IPv4 address: ${address}`);
    out = out * 256 + octet;
  }
  return out;
}

function uint32ToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

export function isIpv4(address: string): boolean {
  try {
    ipv4ToUint32(address);
    return true;
  } catch {
    return false;
  }
}

function protocolNumber(protocol: Protocol): number {
  return PROTOCOL_NUMBERS[protocol];
}

function protocolName(value: number): Protocol {
  const found = (Object.keys(PROTOCOL_NUMBERS) as Protocol[]).find((name) => PROTOCOL_NUMBERS[name] === value);
  if (!found) throw new Error(`unknown IP protocol ${value}`);
  return found;
}

/** struct lb4_service_key: a frontend (VIP, port, protocol). */
export interface Lb4ServiceKey {
  address: string;
  port: number;
  protocol: Protocol;
}

export const lb4ServiceKey: StructCodec<Lb4ServiceKey> = {
  struct: 'lb4_service_key',
  size: 8,
  fields: { address: { offset: 0, size: 4 }, port: { offset: 4, size: 2 }, protocol: { offset: 6, size: 1 }, pad: { offset: 7, size: 1 } },
  encode(value) {
    const bytes = new Uint8Array(8);
    const data = view(bytes, 8, this.struct);
    data.setUint32(0, ipv4ToUint32(value.address), false);
    data.setUint16(4, value.port, false);
    data.setUint8(6, protocolNumber(value.protocol));
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 8, this.struct);
    return { address: uint32ToIpv4(data.getUint32(0, false)), port: data.getUint16(4, false), protocol: protocolName(data.getUint8(6)) };
  },
};

/** struct lb4_service: what a frontend leads to. */
export interface Lb4Service {
  serviceId: number;
  /** Backend slots 0..count-1. */
  count: number;
  flags: number;
  /** The local proxy port when flags has SERVICE_FLAG_L7_REDIRECT, else 0. */
  proxyPort: number;
}

export const lb4Service: StructCodec<Lb4Service> = {
  struct: 'lb4_service',
  size: 12,
  fields: {
    service_id: { offset: 0, size: 4 },
    count: { offset: 4, size: 2 },
    flags: { offset: 6, size: 1 },
    pad: { offset: 7, size: 1 },
    proxy_port: { offset: 8, size: 2 },
    pad2: { offset: 10, size: 2 },
  },
  encode(value) {
    const bytes = new Uint8Array(12);
    const data = view(bytes, 12, this.struct);
    data.setUint32(0, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint16(4, value.count, HOST_LITTLE_ENDIAN);
    data.setUint8(6, value.flags);
    data.setUint16(8, value.proxyPort, false);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 12, this.struct);
    return {
      serviceId: data.getUint32(0, HOST_LITTLE_ENDIAN),
      count: data.getUint16(4, HOST_LITTLE_ENDIAN),
      flags: data.getUint8(6),
      proxyPort: data.getUint16(8, false),
    };
  },
};

/** struct lb4_backend_key: one slot of a service. */
export interface Lb4BackendKey {
  serviceId: number;
  slot: number;
}

export const lb4BackendKey: StructCodec<Lb4BackendKey> = {
  struct: 'lb4_backend_key',
  size: 8,
  fields: { service_id: { offset: 0, size: 4 }, slot: { offset: 4, size: 4 } },
  encode(value) {
    const bytes = new Uint8Array(8);
    const data = view(bytes, 8, this.struct);
    data.setUint32(0, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint32(4, value.slot, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 8, this.struct);
    return { serviceId: data.getUint32(0, HOST_LITTLE_ENDIAN), slot: data.getUint32(4, HOST_LITTLE_ENDIAN) };
  },
};

/** struct lb4_backend: where a slot sends the connection. */
export interface Lb4Backend {
  address: string;
  port: number;
  protocol: Protocol;
}

export const lb4Backend: StructCodec<Lb4Backend> = {
  struct: 'lb4_backend',
  size: 8,
  fields: { address: { offset: 0, size: 4 }, port: { offset: 4, size: 2 }, protocol: { offset: 6, size: 1 }, pad: { offset: 7, size: 1 } },
  encode: (value) => lb4ServiceKey.encode(value),
  decode: (bytes) => lb4ServiceKey.decode(bytes),
};

/** struct lb4_revnat_key: written by the programs only; mirrored for inspection. */
export interface Lb4RevnatKey {
  cookie: bigint;
  address: string;
  port: number;
}

export const lb4RevnatKey: StructCodec<Lb4RevnatKey> = {
  struct: 'lb4_revnat_key',
  size: 16,
  fields: { cookie: { offset: 0, size: 8 }, address: { offset: 8, size: 4 }, port: { offset: 12, size: 2 }, pad: { offset: 14, size: 2 } },
  encode(value) {
    const bytes = new Uint8Array(16);
    const data = view(bytes, 16, this.struct);
    data.setBigUint64(0, value.cookie, HOST_LITTLE_ENDIAN);
    data.setUint32(8, ipv4ToUint32(value.address), false);
    data.setUint16(12, value.port, false);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 16, this.struct);
    return { cookie: data.getBigUint64(0, HOST_LITTLE_ENDIAN), address: uint32ToIpv4(data.getUint32(8, false)), port: data.getUint16(12, false) };
  },
};

/** struct lb4_revnat: the VIP a socket dialled. */
export interface Lb4Revnat {
  address: string;
  port: number;
  serviceId: number;
}

export const lb4Revnat: StructCodec<Lb4Revnat> = {
  struct: 'lb4_revnat',
  size: 12,
  fields: { address: { offset: 0, size: 4 }, port: { offset: 4, size: 2 }, pad: { offset: 6, size: 2 }, service_id: { offset: 8, size: 4 } },
  encode(value) {
    const bytes = new Uint8Array(12);
    const data = view(bytes, 12, this.struct);
    data.setUint32(0, ipv4ToUint32(value.address), false);
    data.setUint16(4, value.port, false);
    data.setUint32(8, value.serviceId, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 12, this.struct);
    return { address: uint32ToIpv4(data.getUint32(0, false)), port: data.getUint16(4, false), serviceId: data.getUint32(8, HOST_LITTLE_ENDIAN) };
  },
};

export const FLOW_VERDICTS = ['translated', 'no-backend', 'l7-redirect'] as const;
export type FlowVerdict = (typeof FLOW_VERDICTS)[number];

/** struct lb4_flow_event: one connect() to a VIP, from the ring buffer. */
export interface Lb4FlowEvent {
  service: { address: string; port: number };
  /** 0.0.0.0:0 when there was no backend. */
  backend: { address: string; port: number };
  serviceId: number;
  protocol: Protocol;
  verdict: FlowVerdict;
}

export const lb4FlowEvent: StructCodec<Lb4FlowEvent> = {
  struct: 'lb4_flow_event',
  size: 20,
  fields: {
    service_address: { offset: 0, size: 4 },
    backend_address: { offset: 4, size: 4 },
    service_port: { offset: 8, size: 2 },
    backend_port: { offset: 10, size: 2 },
    service_id: { offset: 12, size: 4 },
    protocol: { offset: 16, size: 1 },
    verdict: { offset: 17, size: 1 },
    pad: { offset: 18, size: 2 },
  },
  encode(value) {
    const bytes = new Uint8Array(20);
    const data = view(bytes, 20, this.struct);
    data.setUint32(0, ipv4ToUint32(value.service.address), false);
    data.setUint32(4, ipv4ToUint32(value.backend.address), false);
    data.setUint16(8, value.service.port, false);
    data.setUint16(10, value.backend.port, false);
    data.setUint32(12, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint8(16, protocolNumber(value.protocol));
    data.setUint8(17, FLOW_VERDICTS.indexOf(value.verdict));
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 20, this.struct);
    const verdict = FLOW_VERDICTS[data.getUint8(17)];
    if (!verdict) throw new Error(`lb4_flow_event: unknown verdict ${data.getUint8(17)}`);
    return {
      service: { address: uint32ToIpv4(data.getUint32(0, false)), port: data.getUint16(8, false) },
      backend: { address: uint32ToIpv4(data.getUint32(4, false)), port: data.getUint16(10, false) },
      serviceId: data.getUint32(12, HOST_LITTLE_ENDIAN),
      protocol: protocolName(data.getUint8(16)),
      verdict,
    };
  },
};

/** Every codec, for the layout test. */
export const STRUCT_CODECS: readonly StructCodec<never>[] = [lb4ServiceKey, lb4Service, lb4BackendKey, lb4Backend, lb4RevnatKey, lb4Revnat, lb4FlowEvent] as StructCodec<never>[];
