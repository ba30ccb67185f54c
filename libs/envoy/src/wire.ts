/**
 * The xDS response messages written by hand on the protobuf wire format, for the server's hot path: a
 * response is a few strings around resources that are already bytes, so it needs no message
 * definitions (and no .proto files loaded), and each resource's part of it (an Any, or a delta
 * Resource) can be encoded once per resource version and shared by every stream that sends it.
 * Field numbers are those of envoy/service/discovery/v3/discovery.proto; strings equal to the proto3
 * default ("") are left out, as proto3 encoders do. Tests decode the output with protobufjs.
 */

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;

const utf8 = new TextEncoder();

/** One length-delimited field: its tag, its length, its bytes. */
function sizeOfField(field: number, length: number): number {
  return varintSize((field << 3) | WIRE_BYTES) + varintSize(length) + length;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

class Writer {
  readonly bytes: Uint8Array;
  private at = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  private varint(value: number): void {
    while (value >= 0x80) {
      this.bytes[this.at++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.at++] = value;
  }

  field(field: number, content: Uint8Array): this {
    this.varint((field << 3) | WIRE_BYTES);
    this.varint(content.length);
    this.bytes.set(content, this.at);
    this.at += content.length;
    return this;
  }

  bool(field: number, value: boolean): this {
    this.varint((field << 3) | WIRE_VARINT);
    this.varint(value ? 1 : 0);
    return this;
  }

  done(): Uint8Array {
    if (this.at !== this.bytes.length) throw new Error(`wire: wrote ${this.at} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

/**
 * A message as a list of length-delimited fields (strings as UTF-8, messages as their bytes); an empty
 * singular field is left out, an element of a repeated one (`repeated`) never is.
 */
type Fields = [field: number, content: Uint8Array | string | undefined, repeated?: true][];

function message(fields: Fields, extra?: (writer: Writer) => void, extraSize = 0): Uint8Array {
  const encoded: [number, Uint8Array][] = [];
  let size = extraSize;
  for (const [field, content, repeated] of fields) {
    if (content === undefined || (content.length === 0 && !repeated)) continue;
    const bytes = typeof content === 'string' ? utf8.encode(content) : content;
    encoded.push([field, bytes]);
    size += sizeOfField(field, bytes.length);
  }
  const writer = new Writer(size);
  for (const [field, bytes] of encoded) writer.field(field, bytes);
  extra?.(writer);
  return writer.done();
}

/** google.protobuf.Any { type_url = 1; value = 2 } */
export function encodeAnyWire(typeUrl: string, value: Uint8Array): Uint8Array {
  // an empty resource (every field at its default) is still sent: its Any keeps the field
  const typeBytes = utf8.encode(typeUrl);
  const writer = new Writer(sizeOfField(1, typeBytes.length) + sizeOfField(2, value.length));
  return writer.field(1, typeBytes).field(2, value).done();
}

/** envoy.service.discovery.v3.Resource { version = 1; resource = 2 (Any, absent for a heartbeat); name = 3 } */
export function encodeDeltaResourceWire(name: string, version: string, resource: { typeUrl: string; value: Uint8Array } | undefined): Uint8Array {
  return message([
    [1, version],
    [2, resource && encodeAnyWire(resource.typeUrl, resource.value)],
    [3, name],
  ]);
}

/** config.core.v3.ControlPlane { identifier = 1 } */
function controlPlane(identifier: string | undefined): Uint8Array | undefined {
  return identifier ? message([[1, identifier]]) : undefined;
}

export interface DiscoveryResponseHead {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  controlPlaneIdentifier?: string;
}

/**
 * envoy.service.discovery.v3.DiscoveryResponse { version_info = 1; resources = 2 (Any); canary = 3;
 * type_url = 4; nonce = 5; control_plane = 6 }, from resources already encoded as Anys (encodeAnyWire).
 */
export function encodeDiscoveryResponseWire(head: DiscoveryResponseHead, anys: readonly Uint8Array[], canary = false): Uint8Array {
  return message(
    [[1, head.versionInfo], ...anys.map((any): [number, Uint8Array, true] => [2, any, true]), [4, head.typeUrl], [5, head.nonce], [6, controlPlane(head.controlPlaneIdentifier)]],
    canary ? (writer) => writer.bool(3, true) : undefined,
    canary ? 2 : 0,
  );
}

export interface DeltaDiscoveryResponseHead {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  removedResources: readonly string[];
  controlPlaneIdentifier?: string;
}

/**
 * envoy.service.discovery.v3.DeltaDiscoveryResponse { system_version_info = 1; resources = 2
 * (Resource); type_url = 4; nonce = 5; removed_resources = 6; control_plane = 7 }, from resources
 * already encoded (encodeDeltaResourceWire).
 */
export function encodeDeltaDiscoveryResponseWire(head: DeltaDiscoveryResponseHead, resources: readonly Uint8Array[]): Uint8Array {
  return message([
    [1, head.systemVersionInfo],
    ...resources.map((resource): [number, Uint8Array, true] => [2, resource, true]),
    [4, head.typeUrl],
    [5, head.nonce],
    ...head.removedResources.map((name): [number, string, true] => [6, name, true]),
    [7, controlPlane(head.controlPlaneIdentifier)],
  ]);
}

/**
 * Reading requests: only the fields a server acts on are decoded (the node's identity, the type, the
 * names, the nonce, the error); every other field is skipped by its wire type, as protobuf readers do
 * with fields they do not know, so a request is read without Envoy's message definitions.
 */
class Reader {
  private at = 0;
  private readonly end: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.at = start;
    this.end = end;
  }

  get more(): boolean {
    return this.at < this.end;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.end) throw new Error('wire: truncated varint');
      const byte = this.bytes[this.at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('wire: varint too long');
    }
  }

  /** An int32: its low 32 bits, sign included (a negative one comes as a ten-byte varint). */
  int32(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (this.at >= this.end || shift > 63) throw new Error('wire: truncated varint');
      const byte = this.bytes[this.at++]!;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value | 0;
    }
  }

  /** The next field's number and wire type. */
  tag(): [field: number, wireType: number] {
    const tag = this.varint();
    return [Math.floor(tag / 8), tag & 7];
  }

  /** A length-delimited field's content, as a reader of its own. */
  sub(): Reader {
    const length = this.varint();
    if (this.at + length > this.end) throw new Error('wire: truncated field');
    const reader = new Reader(this.bytes, this.at, this.at + length);
    this.at += length;
    return reader;
  }

  string(): string {
    const length = this.varint();
    if (this.at + length > this.end) throw new Error('wire: truncated string');
    const text = utf8Decoder.decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.at += 8;
    else if (wireType === 2) this.sub();
    else if (wireType === 5) this.at += 4;
    else throw new Error(`wire: unsupported wire type ${wireType}`);
    if (this.at > this.end) throw new Error('wire: truncated field');
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export interface WireNode {
  id: string;
  cluster: string;
  userAgentName: string;
  userAgentVersion: string;
  locality: { region: string; zone: string; subZone: string } | null;
}

export interface WireStatus {
  code: number;
  message: string;
}

/** config.core.v3.Node: id = 1, cluster = 2, locality = 4, user_agent_name = 6, user_agent_version = 7. */
function readNode(reader: Reader): WireNode {
  const node: WireNode = { id: '', cluster: '', userAgentName: '', userAgentVersion: '', locality: null };
  while (reader.more) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) node.id = reader.string();
    else if (field === 2 && wireType === 2) node.cluster = reader.string();
    else if (field === 4 && wireType === 2) node.locality = readLocality(reader.sub());
    else if (field === 6 && wireType === 2) node.userAgentName = reader.string();
    else if (field === 7 && wireType === 2) node.userAgentVersion = reader.string();
    else reader.skip(wireType);
  }
  return node;
}

function readLocality(reader: Reader): { region: string; zone: string; subZone: string } {
  const locality = { region: '', zone: '', subZone: '' };
  while (reader.more) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) locality.region = reader.string();
    else if (field === 2 && wireType === 2) locality.zone = reader.string();
    else if (field === 3 && wireType === 2) locality.subZone = reader.string();
    else reader.skip(wireType);
  }
  return locality;
}

/** google.rpc.Status: code = 1, message = 2 (details skipped). */
function readStatus(reader: Reader): WireStatus {
  const status: WireStatus = { code: 0, message: '' };
  while (reader.more) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 0) status.code = reader.int32();
    else if (field === 2 && wireType === 2) status.message = reader.string();
    else reader.skip(wireType);
  }
  return status;
}

export interface WireDiscoveryRequest {
  versionInfo: string;
  node: WireNode | null;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail: WireStatus | null;
}

/** envoy.service.discovery.v3.DiscoveryRequest: version_info = 1, node = 2, resource_names = 3, type_url = 4, response_nonce = 5, error_detail = 6. */
export function decodeDiscoveryRequestWire(bytes: Uint8Array): WireDiscoveryRequest {
  const request: WireDiscoveryRequest = { versionInfo: '', node: null, resourceNames: [], typeUrl: '', responseNonce: '', errorDetail: null };
  const reader = new Reader(bytes);
  while (reader.more) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) request.versionInfo = reader.string();
    else if (field === 2 && wireType === 2) request.node = readNode(reader.sub());
    else if (field === 3 && wireType === 2) request.resourceNames.push(reader.string());
    else if (field === 4 && wireType === 2) request.typeUrl = reader.string();
    else if (field === 5 && wireType === 2) request.responseNonce = reader.string();
    else if (field === 6 && wireType === 2) request.errorDetail = readStatus(reader.sub());
    else reader.skip(wireType);
  }
  return request;
}

export interface WireDeltaDiscoveryRequest {
  node: WireNode | null;
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail: WireStatus | null;
}

/**
 * envoy.service.discovery.v3.DeltaDiscoveryRequest: node = 1, type_url = 2, resource_names_subscribe
 * = 3, resource_names_unsubscribe = 4, initial_resource_versions = 5 (map entries: key = 1, value =
 * 2), response_nonce = 6, error_detail = 7.
 */
export function decodeDeltaDiscoveryRequestWire(bytes: Uint8Array): WireDeltaDiscoveryRequest {
  // a map keyed by names the client chose: no prototype whose keys it could name
  const initialResourceVersions = Object.create(null) as Record<string, string>;
  const request: WireDeltaDiscoveryRequest = { node: null, typeUrl: '', resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], initialResourceVersions, responseNonce: '', errorDetail: null };
  const reader = new Reader(bytes);
  while (reader.more) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) request.node = readNode(reader.sub());
    else if (field === 2 && wireType === 2) request.typeUrl = reader.string();
    else if (field === 3 && wireType === 2) request.resourceNamesSubscribe.push(reader.string());
    else if (field === 4 && wireType === 2) request.resourceNamesUnsubscribe.push(reader.string());
    else if (field === 5 && wireType === 2) {
      const entry = reader.sub();
      let key = '';
      let value = '';
      while (entry.more) {
        const [entryField, entryWireType] = entry.tag();
        if (entryField === 1 && entryWireType === 2) key = entry.string();
        else if (entryField === 2 && entryWireType === 2) value = entry.string();
        else entry.skip(entryWireType);
      }
      request.initialResourceVersions[key] = value;
    } else if (field === 6 && wireType === 2) request.responseNonce = reader.string();
    else if (field === 7 && wireType === 2) request.errorDetail = readStatus(reader.sub());
    else reader.skip(wireType);
  }
  return request;
}
