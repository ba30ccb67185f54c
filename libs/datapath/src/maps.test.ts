import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STRUCT_CODECS, bytesToIpv6, ipv6ToBytes, lb6FlowEvent, lb6RevnatKey, lb6ServiceKey, lbAffinity, lbService, lb4FlowEvent, lb4Backend, lb4BackendKey, lb4Revnat, lb4RevnatKey, lb4Service, lb4ServiceKey } from './index.js';

const object = fileURLToPath(new URL('../../../bpf/build/sock_lb.o', import.meta.url));

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}

function btfTypes(): Map<number, BtfType> {
  const dump = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', object], { encoding: 'utf8' })) as { types: BtfType[] };
  return new Map(dump.types.map((type) => [type.id, type]));
}

function sizeOf(types: Map<number, BtfType>, id: number): number {
  const type = types.get(id)!;
  if (type.size !== undefined) return type.size;
  if (type.kind === 'ARRAY') return type.nr_elems! * sizeOf(types, type.type_id!);
  return sizeOf(types, type.type_id!);
}

test('every codec matches its struct in the compiled object (size and field offsets)', () => {
  assert.ok(existsSync(object), `${object} missing: run npx nx run bpf:build`);
  const types = btfTypes();
  for (const codec of STRUCT_CODECS) {
    const struct = [...types.values()].find((type) => type.kind === 'STRUCT' && type.name === codec.struct);
    assert.ok(struct, `struct ${codec.struct} not in the BTF of ${object}`);
    assert.equal(struct.size, codec.size, `${codec.struct} size`);
    const fromBtf = Object.fromEntries(struct.members!.map((member) => [member.name, { offset: member.bits_offset / 8, size: sizeOf(types, member.type_id) }]));
    assert.deepEqual(codec.fields, fromBtf, `${codec.struct} fields`);
  }
});

test('addresses and ports are written in network byte order, ids in host order', () => {
  const key = lb4ServiceKey.encode({ address: '127.100.0.10', port: 80, protocol: 'TCP' });
  assert.deepEqual([...key], [127, 100, 0, 10, 0, 80, 6, 0]);
  const service = lb4Service.encode({ serviceId: 0x01020304, count: 3, flags: 1, proxyPort: 15001 });
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  assert.deepEqual([...service.subarray(0, 4)], le ? [4, 3, 2, 1] : [1, 2, 3, 4]);
  assert.deepEqual([...service.subarray(8, 10)], [15001 >> 8, 15001 & 0xff]);
});

test('codecs round-trip', () => {
  const cases: [{ encode(v: never): Uint8Array; decode(b: Uint8Array): unknown }, unknown][] = [
    [lb4ServiceKey, { address: '10.96.0.1', port: 443, protocol: 'UDP' }],
    [lb4Service, { serviceId: 7, count: 65535, flags: 1, proxyPort: 10000 }],
    [lb4BackendKey, { serviceId: 4_000_000_000, slot: 255 }],
    [lb4Backend, { address: '255.0.0.1', port: 65535, protocol: 'SCTP' }],
    [lb4RevnatKey, { cookie: 2n ** 63n + 5n, address: '127.0.0.2', port: 8080 }],
    [lb4Revnat, { address: '127.100.1.1', port: 80, serviceId: 12 }],
  ];
  for (const [codec, value] of cases) assert.deepEqual(codec.decode(codec.encode(value as never)), value);
  assert.throws(() => lb4ServiceKey.encode({ address: '::1', port: 80, protocol: 'TCP' }), /not an IPv4 address/);
  assert.throws(() => lb4Service.decode(new Uint8Array(8)), /expected 12 bytes/);
});

test('flow events decode from the ring buffer layout', () => {
  const event = { service: { address: '127.100.0.1', port: 80 }, backend: { address: '127.0.0.2', port: 8080 }, serviceId: 3, protocol: 'TCP' as const, verdict: 'l7-redirect' as const };
  const bytes = lb4FlowEvent.encode(event);
  assert.deepEqual([...bytes.subarray(0, 4)], [127, 100, 0, 1]);
  assert.equal(bytes[17], 2);
  assert.deepEqual(lb4FlowEvent.decode(bytes), event);
  const bound = lb4FlowEvent.encode({ ...event, source: '127.0.6.9' });
  assert.deepEqual([...bound.subarray(20, 24)], [127, 0, 6, 9], 'source address in network order');
  assert.equal(lb4FlowEvent.decode(bound).source, '127.0.6.9');
  // a record of the programs before source_address (20 bytes) still decodes, without a source
  assert.deepEqual(lb4FlowEvent.decode(bound.subarray(0, 20)), event);
  const six = lb6FlowEvent.encode({ ...event, service: { address: 'fd00::10', port: 80 }, backend: { address: '::1', port: 80 }, source: 'fd00::7' });
  assert.equal(lb6FlowEvent.decode(six).source, 'fd00::7');
  assert.equal(lb6FlowEvent.decode(six.subarray(0, 44)).source, undefined);
});

test('IPv6 addresses: every textual form in, the canonical one out, network order on the wire', () => {
  assert.deepEqual([...ipv6ToBytes('fd00::1')], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(bytesToIpv6(ipv6ToBytes('FD00:0:0:0:0:0:0:0010')), 'fd00::10');
  assert.equal(bytesToIpv6(ipv6ToBytes('::ffff:127.0.0.1')), '::ffff:7f00:1');
  assert.equal(bytesToIpv6(ipv6ToBytes('1:0:0:2:0:0:0:3')), '1:0:0:2::3');
  assert.equal(bytesToIpv6(new Uint8Array(16)), '::');
  for (const bad of ['fd00', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7::8']) assert.throws(() => ipv6ToBytes(bad), /not an IPv6 address/, bad);
  const key = lb6ServiceKey.encode({ address: 'fd00::10', port: 443, protocol: 'UDP' });
  assert.deepEqual([...key.subarray(14, 20)], [0, 0x10, 443 >> 8, 443 & 0xff, 17, 0]);
});

test('v2 and IPv6 codecs round-trip', () => {
  const cases: [{ encode(v: never): Uint8Array; decode(b: Uint8Array): unknown }, unknown][] = [
    [lbService, { serviceId: 9, count: 3, flags: 0, algorithm: 'maglev', proxyPort: 0, affinityTimeout: 10800, maglevSize: 16381 }],
    [lb6ServiceKey, { address: '2001:db8::7', port: 80, protocol: 'TCP' }],
    [lb6RevnatKey, { cookie: 77n, address: '::1', port: 9000 }],
    [lbAffinity, { lastUsedNs: 123456789n, slot: 4, backendHash: 0xdeadbeef }],
    [lb6FlowEvent, { service: { address: 'fd00::10', port: 80 }, backend: { address: '::1', port: 8080 }, serviceId: 5, protocol: 'TCP', verdict: 'translated' }],
  ];
  for (const [codec, value] of cases) assert.deepEqual(codec.decode(codec.encode(value as never)), value);
});
