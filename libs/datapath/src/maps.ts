/**
 * Codecs for the maps of bpf/lib/lb.h, one per C struct and named after it, with explicit byte
 * order: addresses and ports in network order (big-endian), ids, counts and slots in host order.
 * Each codec carries its layout (size and field offsets), which a test checks against the BTF of
 * the compiled object, so this file and the header cannot drift apart.
 */

export const MAP_NAMES = {
  services: 'tendril_lb4_services_v2',
  backends: 'tendril_lb4_backends_v1',
  revnat: 'tendril_lb4_revnat_v1',
  flows: 'tendril_lb4_flows_v1',
  flows6: 'tendril_lb6_flows_v1',
  services6: 'tendril_lb6_services_v1',
  backends6: 'tendril_lb6_backends_v1',
  revnat6: 'tendril_lb6_revnat_v1',
  maglev: 'tendril_lb_maglev_v1',
  affinity: 'tendril_lb_affinity_v1',
  counters: 'tendril_lb_counters_v1',
  /** North-south (bpf/nodeport.c): frontends reached from outside the node. */
  external: 'tendril_lb4_external_v1',
  extMaglev: 'tendril_lb4_ext_maglev_v1',
  nodeAddresses: 'tendril_lb4_node_addresses_v1',
  nat: 'tendril_lb4_nat_v1',
} as const;

/** Maps of older layouts that an agent migrates from (then unpins). */
export const LEGACY_MAP_NAMES = {
  /** Value struct lb4_service; replaced by tendril_lb4_services_v2 (struct lb_service). */
  servicesV1: 'tendril_lb4_services_v1',
} as const;

/** lb_service.algorithm */
export const ALGORITHMS = { random: 0, maglev: 1 } as const;
export type Algorithm = keyof typeof ALGORITHMS;

/** lb_counter_key.slot for connections that reached no backend. */
export const SLOT_REFUSED = 0xffffffff;
export const SLOT_L7 = 0xfffffffe;

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
const PROTOCOL_NUMBERS: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** lb4_service.flags */
export const SERVICE_FLAG_L7_REDIRECT = 0x01;
/** External frontends: externalTrafficPolicy Local (local backends only, no SNAT). */
export const SERVICE_FLAG_LOCAL = 0x02;
/** Entries of an external frontend's Maglev table (TENDRIL_EXT_MAGLEV_SIZE). */
export const EXT_MAGLEV_SIZE = 1021;

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

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4ToUint32(address: string): number {
  const match = IPV4.exec(address);
  if (!match) throw new Error(`not an IPv4 address: ${address}`);
  let out = 0;
  for (let index = 1; index <= 4; index++) {
    const octet = Number(match[index]);
    if (octet > 255) throw new Error(`not an IPv4 address: ${address}`);
    out = out * 256 + octet;
  }
  return out;
}

function uint32ToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** 16 bytes of an IPv6 address in any textual form ('::' compression, embedded IPv4). */
export function ipv6ToBytes(address: string): Uint8Array {
  const fail = () => new Error(`not an IPv6 address: ${address}`);
  if (!address.includes(':')) throw fail();
  const halves = address.split('::');
  if (halves.length > 2) throw fail();
  const words = (text: string): number[] => {
    if (text === '') return [];
    const out: number[] = [];
    const parts = text.split(':');
    parts.forEach((part, index) => {
      if (index === parts.length - 1 && part.includes('.')) {
        const v4 = ipv4ToUint32(part);
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else throw fail();
    });
    return out;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) throw fail();
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((word, index) => {
    bytes[index * 2] = word >> 8;
    bytes[index * 2 + 1] = word & 0xff;
  });
  return bytes;
}

/** The canonical text of 16 address bytes (RFC 5952: lower case, longest zero run as '::'). */
export function bytesToIpv6(bytes: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, index) => (bytes[index * 2]! << 8) | bytes[index * 2 + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    if (words[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && words[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hexWords = words.map((word) => word.toString(16));
  if (bestStart < 0) return hexWords.join(':');
  return `${hexWords.slice(0, bestStart).join(':')}::${hexWords.slice(bestStart + bestLength).join(':')}`;
}

export function isIpv6(address: string): boolean {
  try {
    ipv6ToBytes(address);
    return true;
  } catch {
    return false;
  }
}

/** The canonical form of an IPv4 or IPv6 address (so '::0001' and '::1' name one frontend). */
export function canonicalAddress(address: string): string {
  return isIpv4(address) ? address : bytesToIpv6(ipv6ToBytes(address));
}

export function isIpv4(address: string): boolean {
  const match = IPV4.exec(address);
  return match !== null && match.slice(1).every((octet) => Number(octet) <= 255);
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

/** struct lb4_service: what a frontend led to in tendril_lb4_services_v1 (read only, to migrate). */
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

/** struct lb_service: what a frontend leads to (tendril_lb4_services_v2, tendril_lb6_services_v1). */
export interface LbServiceValue {
  serviceId: number;
  count: number;
  flags: number;
  algorithm: Algorithm;
  proxyPort: number;
  /** Seconds; 0: no affinity. */
  affinityTimeout: number;
  /** Entries of the service's Maglev table; 0 unless algorithm is maglev. */
  maglevSize: number;
}

export const lbService: StructCodec<LbServiceValue> = {
  struct: 'lb_service',
  size: 20,
  fields: {
    service_id: { offset: 0, size: 4 },
    count: { offset: 4, size: 2 },
    flags: { offset: 6, size: 1 },
    algorithm: { offset: 7, size: 1 },
    proxy_port: { offset: 8, size: 2 },
    pad: { offset: 10, size: 2 },
    affinity_timeout: { offset: 12, size: 4 },
    maglev_size: { offset: 16, size: 4 },
  },
  encode(value) {
    const bytes = new Uint8Array(20);
    const data = view(bytes, 20, this.struct);
    data.setUint32(0, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint16(4, value.count, HOST_LITTLE_ENDIAN);
    data.setUint8(6, value.flags);
    data.setUint8(7, ALGORITHMS[value.algorithm]);
    data.setUint16(8, value.proxyPort, false);
    data.setUint32(12, value.affinityTimeout, HOST_LITTLE_ENDIAN);
    data.setUint32(16, value.maglevSize, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 20, this.struct);
    const number = data.getUint8(7);
    const algorithm = (Object.keys(ALGORITHMS) as Algorithm[]).find((name) => ALGORITHMS[name] === number);
    if (!algorithm) throw new Error(`lb_service: unknown algorithm ${number}`);
    return {
      serviceId: data.getUint32(0, HOST_LITTLE_ENDIAN),
      count: data.getUint16(4, HOST_LITTLE_ENDIAN),
      flags: data.getUint8(6),
      algorithm,
      proxyPort: data.getUint16(8, false),
      affinityTimeout: data.getUint32(12, HOST_LITTLE_ENDIAN),
      maglevSize: data.getUint32(16, HOST_LITTLE_ENDIAN),
    };
  },
};

/** struct lb6_service_key: an IPv6 frontend. */
export const lb6ServiceKey: StructCodec<Lb4ServiceKey> = {
  struct: 'lb6_service_key',
  size: 20,
  fields: { address: { offset: 0, size: 16 }, port: { offset: 16, size: 2 }, protocol: { offset: 18, size: 1 }, pad: { offset: 19, size: 1 } },
  encode(value) {
    const bytes = new Uint8Array(20);
    const data = view(bytes, 20, this.struct);
    bytes.set(ipv6ToBytes(value.address), 0);
    data.setUint16(16, value.port, false);
    data.setUint8(18, protocolNumber(value.protocol));
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 20, this.struct);
    return { address: bytesToIpv6(bytes.subarray(0, 16)), port: data.getUint16(16, false), protocol: protocolName(data.getUint8(18)) };
  },
};

/** struct lb6_backend: where an IPv6 slot sends the connection. */
export const lb6Backend: StructCodec<Lb4Backend> = {
  struct: 'lb6_backend',
  size: 20,
  fields: lb6ServiceKey.fields,
  encode: (value) => lb6ServiceKey.encode(value),
  decode: (bytes) => lb6ServiceKey.decode(bytes),
};

/** struct lb6_revnat_key: written by the programs only. */
export const lb6RevnatKey: StructCodec<Lb4RevnatKey> = {
  struct: 'lb6_revnat_key',
  size: 32,
  fields: {
    cookie: { offset: 0, size: 8 },
    address: { offset: 8, size: 16 },
    port: { offset: 24, size: 2 },
    pad: { offset: 26, size: 2 },
    pad2: { offset: 28, size: 4 },
  },
  encode(value) {
    const bytes = new Uint8Array(32);
    const data = view(bytes, 32, this.struct);
    data.setBigUint64(0, value.cookie, HOST_LITTLE_ENDIAN);
    bytes.set(ipv6ToBytes(value.address), 8);
    data.setUint16(24, value.port, false);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 32, this.struct);
    return { cookie: data.getBigUint64(0, HOST_LITTLE_ENDIAN), address: bytesToIpv6(bytes.subarray(8, 24)), port: data.getUint16(24, false) };
  },
};

/** struct lb6_revnat: the IPv6 VIP a socket dialled. */
export const lb6Revnat: StructCodec<Lb4Revnat> = {
  struct: 'lb6_revnat',
  size: 24,
  fields: { address: { offset: 0, size: 16 }, port: { offset: 16, size: 2 }, pad: { offset: 18, size: 2 }, service_id: { offset: 20, size: 4 } },
  encode(value) {
    const bytes = new Uint8Array(24);
    const data = view(bytes, 24, this.struct);
    bytes.set(ipv6ToBytes(value.address), 0);
    data.setUint16(16, value.port, false);
    data.setUint32(20, value.serviceId, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 24, this.struct);
    return { address: bytesToIpv6(bytes.subarray(0, 16)), port: data.getUint16(16, false), serviceId: data.getUint32(20, HOST_LITTLE_ENDIAN) };
  },
};

/** struct lb_affinity_key: a client (bound source address or network namespace cookie) and service. */
export interface LbAffinityKey {
  client: bigint;
  serviceId: number;
}

export const lbAffinityKey: StructCodec<LbAffinityKey> = {
  struct: 'lb_affinity_key',
  size: 16,
  fields: { client: { offset: 0, size: 8 }, service_id: { offset: 8, size: 4 }, pad: { offset: 12, size: 4 } },
  encode(value) {
    const bytes = new Uint8Array(16);
    const data = view(bytes, 16, this.struct);
    data.setBigUint64(0, value.client, HOST_LITTLE_ENDIAN);
    data.setUint32(8, value.serviceId, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 16, this.struct);
    return { client: data.getBigUint64(0, HOST_LITTLE_ENDIAN), serviceId: data.getUint32(8, HOST_LITTLE_ENDIAN) };
  },
};

/** struct lb_affinity: the slot a client was given, and when it last used it. */
export interface LbAffinity {
  lastUsedNs: bigint;
  slot: number;
  backendHash: number;
}

export const lbAffinity: StructCodec<LbAffinity> = {
  struct: 'lb_affinity',
  size: 16,
  fields: { last_used_ns: { offset: 0, size: 8 }, slot: { offset: 8, size: 4 }, backend_hash: { offset: 12, size: 4 } },
  encode(value) {
    const bytes = new Uint8Array(16);
    const data = view(bytes, 16, this.struct);
    data.setBigUint64(0, value.lastUsedNs, HOST_LITTLE_ENDIAN);
    data.setUint32(8, value.slot, HOST_LITTLE_ENDIAN);
    data.setUint32(12, value.backendHash, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 16, this.struct);
    return { lastUsedNs: data.getBigUint64(0, HOST_LITTLE_ENDIAN), slot: data.getUint32(8, HOST_LITTLE_ENDIAN), backendHash: data.getUint32(12, HOST_LITTLE_ENDIAN) };
  },
};

/** struct lb_counter: one CPU's count of connections for a (service id, slot). */
export const lbCounter: StructCodec<{ connections: bigint }> = {
  struct: 'lb_counter',
  size: 8,
  fields: { connections: { offset: 0, size: 8 } },
  encode(value) {
    const bytes = new Uint8Array(8);
    view(bytes, 8, this.struct).setBigUint64(0, value.connections, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes) {
    return { connections: view(bytes, 8, this.struct).getBigUint64(0, HOST_LITTLE_ENDIAN) };
  },
};

/** A Maglev table entry's value (a backend slot), a plain __u32 in host order. */
export const maglevSlot = {
  size: 4,
  encode(slot: number): Uint8Array {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, slot, HOST_LITTLE_ENDIAN);
    return bytes;
  },
  decode(bytes: Uint8Array): number {
    return view(bytes, 4, 'maglev slot').getUint32(0, HOST_LITTLE_ENDIAN);
  },
};

export const FLOW_VERDICTS = ['translated', 'no-backend', 'l7-redirect'] as const;
export type FlowVerdict = (typeof FLOW_VERDICTS)[number];

/** struct lb4_flow_event: one connect() to a VIP, from the ring buffer (lb6_flow_event decodes to it too). */
export interface Lb4FlowEvent {
  service: { address: string; port: number };
  /** 0.0.0.0:0 (IPv6: ::0) when there was no backend. */
  backend: { address: string; port: number };
  serviceId: number;
  protocol: Protocol;
  verdict: FlowVerdict;
  /** The socket's bound source address; absent when connect() had not chosen one yet (or an older program). */
  source?: string;
}

/** Records of programs from before source_address was appended: decoded without a source. */
const LB4_FLOW_EVENT_V1_SIZE = 20;
const LB6_FLOW_EVENT_V1_SIZE = 44;

export const lb4FlowEvent: StructCodec<Lb4FlowEvent> = {
  struct: 'lb4_flow_event',
  size: 24,
  fields: {
    service_address: { offset: 0, size: 4 },
    backend_address: { offset: 4, size: 4 },
    service_port: { offset: 8, size: 2 },
    backend_port: { offset: 10, size: 2 },
    service_id: { offset: 12, size: 4 },
    protocol: { offset: 16, size: 1 },
    verdict: { offset: 17, size: 1 },
    pad: { offset: 18, size: 2 },
    source_address: { offset: 20, size: 4 },
  },
  encode(value) {
    const bytes = new Uint8Array(24);
    const data = view(bytes, 24, this.struct);
    data.setUint32(0, ipv4ToUint32(value.service.address), false);
    data.setUint32(4, ipv4ToUint32(value.backend.address), false);
    data.setUint16(8, value.service.port, false);
    data.setUint16(10, value.backend.port, false);
    data.setUint32(12, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint8(16, protocolNumber(value.protocol));
    data.setUint8(17, FLOW_VERDICTS.indexOf(value.verdict));
    data.setUint32(20, value.source ? ipv4ToUint32(value.source) : 0, false);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, bytes.length === LB4_FLOW_EVENT_V1_SIZE ? LB4_FLOW_EVENT_V1_SIZE : 24, this.struct);
    const source = bytes.length > LB4_FLOW_EVENT_V1_SIZE ? data.getUint32(20, false) : 0;
    const verdict = FLOW_VERDICTS[data.getUint8(17)];
    if (!verdict) throw new Error(`lb4_flow_event: unknown verdict ${data.getUint8(17)}`);
    return {
      service: { address: uint32ToIpv4(data.getUint32(0, false)), port: data.getUint16(8, false) },
      backend: { address: uint32ToIpv4(data.getUint32(4, false)), port: data.getUint16(10, false) },
      serviceId: data.getUint32(12, HOST_LITTLE_ENDIAN),
      protocol: protocolName(data.getUint8(16)),
      verdict,
      ...(source ? { source: uint32ToIpv4(source) } : {}),
    };
  },
};

/** struct lb6_flow_event: one connect() to an IPv6 VIP, from its ring buffer. */
export const lb6FlowEvent: StructCodec<Lb4FlowEvent> = {
  struct: 'lb6_flow_event',
  size: 60,
  fields: {
    service_address: { offset: 0, size: 16 },
    backend_address: { offset: 16, size: 16 },
    service_port: { offset: 32, size: 2 },
    backend_port: { offset: 34, size: 2 },
    service_id: { offset: 36, size: 4 },
    protocol: { offset: 40, size: 1 },
    verdict: { offset: 41, size: 1 },
    pad: { offset: 42, size: 2 },
    source_address: { offset: 44, size: 16 },
  },
  encode(value) {
    const bytes = new Uint8Array(60);
    const data = view(bytes, 60, this.struct);
    bytes.set(ipv6ToBytes(value.service.address), 0);
    bytes.set(ipv6ToBytes(value.backend.address), 16);
    data.setUint16(32, value.service.port, false);
    data.setUint16(34, value.backend.port, false);
    data.setUint32(36, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint8(40, protocolNumber(value.protocol));
    data.setUint8(41, FLOW_VERDICTS.indexOf(value.verdict));
    if (value.source) bytes.set(ipv6ToBytes(value.source), 44);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, bytes.length === LB6_FLOW_EVENT_V1_SIZE ? LB6_FLOW_EVENT_V1_SIZE : 60, this.struct);
    const source = bytes.length > LB6_FLOW_EVENT_V1_SIZE && bytes.subarray(44, 60).some((byte) => byte !== 0) ? bytesToIpv6(bytes.subarray(44, 60)) : undefined;
    const verdict = FLOW_VERDICTS[data.getUint8(41)];
    if (!verdict) throw new Error(`lb6_flow_event: unknown verdict ${data.getUint8(41)}`);
    return {
      service: { address: bytesToIpv6(bytes.subarray(0, 16)), port: data.getUint16(32, false) },
      backend: { address: bytesToIpv6(bytes.subarray(16, 32)), port: data.getUint16(34, false) },
      serviceId: data.getUint32(36, HOST_LITTLE_ENDIAN),
      protocol: protocolName(data.getUint8(40)),
      verdict,
      ...(source ? { source } : {}),
    };
  },
};

/** struct lb_ext_maglev: an external frontend's whole Maglev table (entry -> slot), keyed by service id. */
export const lbExtMaglev: StructCodec<number[]> = {
  struct: 'lb_ext_maglev',
  size: EXT_MAGLEV_SIZE * 2 + 2,
  fields: { slot: { offset: 0, size: EXT_MAGLEV_SIZE * 2 }, pad: { offset: EXT_MAGLEV_SIZE * 2, size: 2 } },
  encode(table) {
    if (table.length !== EXT_MAGLEV_SIZE) throw new Error(`lb_ext_maglev: expected ${EXT_MAGLEV_SIZE} entries, got ${table.length}`);
    const bytes = new Uint8Array(this.size);
    const data = view(bytes, this.size, this.struct);
    table.forEach((slot, index) => data.setUint16(index * 2, slot, HOST_LITTLE_ENDIAN));
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, this.size, this.struct);
    return Array.from({ length: EXT_MAGLEV_SIZE }, (_, index) => data.getUint16(index * 2, HOST_LITTLE_ENDIAN));
  },
};

/** A node address key (__be32) of tendril_lb4_node_addresses_v1. */
export const nodeAddressKey = {
  size: 4,
  encode(address: string): Uint8Array {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, ipv4ToUint32(address), false);
    return bytes;
  },
  decode(bytes: Uint8Array): string {
    return uint32ToIpv4(view(bytes, 4, 'node address').getUint32(0, false));
  },
};

export interface Lb4NatKey {
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  protocol: Protocol;
  direction: 'forward' | 'reverse';
}

/** struct lb4_nat_key: a tracked packet's tuple (written by the programs; read for tests and dumps). */
export const lb4NatKey: StructCodec<Lb4NatKey> = {
  struct: 'lb4_nat_key',
  size: 16,
  fields: {
    source: { offset: 0, size: 4 },
    destination: { offset: 4, size: 4 },
    source_port: { offset: 8, size: 2 },
    destination_port: { offset: 10, size: 2 },
    protocol: { offset: 12, size: 1 },
    direction: { offset: 13, size: 1 },
    pad: { offset: 14, size: 2 },
  },
  encode(value) {
    const bytes = new Uint8Array(16);
    const data = view(bytes, 16, this.struct);
    data.setUint32(0, ipv4ToUint32(value.source), false);
    data.setUint32(4, ipv4ToUint32(value.destination), false);
    data.setUint16(8, value.sourcePort, false);
    data.setUint16(10, value.destinationPort, false);
    data.setUint8(12, protocolNumber(value.protocol));
    data.setUint8(13, value.direction === 'forward' ? 0 : 1);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 16, this.struct);
    return {
      source: uint32ToIpv4(data.getUint32(0, false)),
      destination: uint32ToIpv4(data.getUint32(4, false)),
      sourcePort: data.getUint16(8, false),
      destinationPort: data.getUint16(10, false),
      protocol: protocolName(data.getUint8(12)),
      direction: data.getUint8(13) === 0 ? 'forward' : 'reverse',
    };
  },
};

export interface Lb4Nat {
  lastSeenNs: bigint;
  address: string;
  natAddress: string;
  port: number;
  natPort: number;
  serviceId: number;
  slot: number;
  flags: number;
}

/** struct lb4_nat: where a tracked flow goes (forward) or comes back from (reverse). */
export const lb4Nat: StructCodec<Lb4Nat> = {
  struct: 'lb4_nat',
  size: 32,
  fields: {
    last_seen_ns: { offset: 0, size: 8 },
    address: { offset: 8, size: 4 },
    nat_address: { offset: 12, size: 4 },
    port: { offset: 16, size: 2 },
    nat_port: { offset: 18, size: 2 },
    service_id: { offset: 20, size: 4 },
    slot: { offset: 24, size: 4 },
    flags: { offset: 28, size: 1 },
    pad: { offset: 29, size: 3 },
  },
  encode(value) {
    const bytes = new Uint8Array(32);
    const data = view(bytes, 32, this.struct);
    data.setBigUint64(0, value.lastSeenNs, HOST_LITTLE_ENDIAN);
    data.setUint32(8, ipv4ToUint32(value.address), false);
    data.setUint32(12, ipv4ToUint32(value.natAddress), false);
    data.setUint16(16, value.port, false);
    data.setUint16(18, value.natPort, false);
    data.setUint32(20, value.serviceId, HOST_LITTLE_ENDIAN);
    data.setUint32(24, value.slot, HOST_LITTLE_ENDIAN);
    data.setUint8(28, value.flags);
    return bytes;
  },
  decode(bytes) {
    const data = view(bytes, 32, this.struct);
    return {
      lastSeenNs: data.getBigUint64(0, HOST_LITTLE_ENDIAN),
      address: uint32ToIpv4(data.getUint32(8, false)),
      natAddress: uint32ToIpv4(data.getUint32(12, false)),
      port: data.getUint16(16, false),
      natPort: data.getUint16(18, false),
      serviceId: data.getUint32(20, HOST_LITTLE_ENDIAN),
      slot: data.getUint32(24, HOST_LITTLE_ENDIAN),
      flags: data.getUint8(28),
    };
  },
};

/** Every codec, for the layout test. */
export const STRUCT_CODECS: readonly StructCodec<never>[] = [
  lb4ServiceKey,
  lb4Service,
  lbService,
  lb4BackendKey,
  lb4Backend,
  lb4RevnatKey,
  lb4Revnat,
  lb4FlowEvent,
  lb6FlowEvent,
  lb6ServiceKey,
  lb6Backend,
  lb6RevnatKey,
  lb6Revnat,
  lbAffinityKey,
  lbAffinity,
  lbCounter,
  lbExtMaglev,
  lb4NatKey,
  lb4Nat,
] as StructCodec<never>[];
