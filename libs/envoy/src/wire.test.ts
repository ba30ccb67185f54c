import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deltaDiscoveryRequestCodec,
  deltaDiscoveryResponseCodec,
  discoveryRequestCodec,
  discoveryResponseCodec,
  encodeAnyWire,
  encodeDeltaDiscoveryResponseWire,
  encodeDeltaResourceWire,
  encodeDiscoveryResponseWire,
  encodeResource,
  lookupMessage,
} from './index.js';

// A resource large enough that its lengths take several varint bytes, with a name in UTF-8 beyond ASCII.
const endpoints = Array.from({ length: 1200 }, (_, i) => ({ endpoint: { address: { socketAddress: { address: `127.0.${i >> 8}.${i & 255}`, portValue: 8080 } } } }));
const bytes = encodeResource('endpoint', { clusterName: 'default/échο/8080', endpoints: [{ lbEndpoints: endpoints }] });
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

/** What protobufjs, from Envoy's own .proto files, reads in the bytes. */
function decodedWithProtos(messageName: string, wire: Uint8Array): Record<string, unknown> {
  const type = lookupMessage(messageName);
  return type.toObject(type.decode(wire), { longs: String, defaults: true, arrays: true, bytes: Array }) as Record<string, unknown>;
}

test('a DeltaDiscoveryResponse encoded by hand reads back in protobufjs as the message it stands for', () => {
  assert.ok(bytes.length > 16384, 'the resource needs a three-byte length');
  const resource = encodeDeltaResourceWire('default/échο/8080', 'v1-hash', { typeUrl: EDS, value: bytes });
  const heartbeat = encodeDeltaResourceWire('default/other', 'v2', undefined);
  const wire = encodeDeltaDiscoveryResponseWire({ systemVersionInfo: '7.3', typeUrl: EDS, nonce: '3', removedResources: ['gone/a', 'gone/b'], controlPlaneIdentifier: 'xds-1' }, [resource, heartbeat]);
  assert.deepEqual(decodedWithProtos('envoy.service.discovery.v3.DeltaDiscoveryResponse', wire), {
    systemVersionInfo: '7.3',
    typeUrl: EDS,
    nonce: '3',
    removedResources: ['gone/a', 'gone/b'],
    removedResourceNames: [],
    controlPlane: { identifier: 'xds-1' },
    resources: [
      { name: 'default/échο/8080', version: 'v1-hash', aliases: [], resource: { typeUrl: EDS, value: [...bytes] }, resourceName: null, ttl: null, cacheControl: null, metadata: null },
      { name: 'default/other', version: 'v2', aliases: [], resource: null, resourceName: null, ttl: null, cacheControl: null, metadata: null },
    ],
  });
});

test('a DiscoveryResponse encoded by hand reads back in protobufjs, empty resources and no control plane included', () => {
  const wire = encodeDiscoveryResponseWire({ versionInfo: 'abc', typeUrl: EDS, nonce: '12' }, [encodeAnyWire(EDS, bytes), encodeAnyWire(EDS, new Uint8Array(0))]);
  assert.deepEqual(decodedWithProtos('envoy.service.discovery.v3.DiscoveryResponse', wire), {
    versionInfo: 'abc',
    typeUrl: EDS,
    nonce: '12',
    canary: false,
    controlPlane: null,
    resources: [
      { typeUrl: EDS, value: [...bytes] },
      { typeUrl: EDS, value: [] },
    ],
  });
  const empty = encodeDiscoveryResponseWire({ versionInfo: '', typeUrl: EDS, nonce: '1' }, []);
  assert.deepEqual(decodedWithProtos('envoy.service.discovery.v3.DiscoveryResponse', empty), { versionInfo: '', typeUrl: EDS, nonce: '1', canary: false, controlPlane: null, resources: [] });
});

test('the response codecs round-trip through the hand-written encoders', () => {
  const delta = { systemVersionInfo: '1.1', typeUrl: EDS, nonce: '1', removedResources: ['x'], resources: [{ name: 'n', version: 'v', resource: { typeUrl: EDS, value: bytes } }], controlPlane: { identifier: 'r' } };
  const back = deltaDiscoveryResponseCodec.decode(deltaDiscoveryResponseCodec.encode(delta));
  assert.equal(back.resources[0]!.name, 'n');
  assert.deepEqual([...back.resources[0]!.resource!.value], [...bytes]);
  assert.deepEqual(back.removedResources, ['x']);
  const sotw = { versionInfo: 'v', typeUrl: EDS, nonce: '2', resources: [{ typeUrl: EDS, value: bytes }] };
  const again = discoveryResponseCodec.decode(discoveryResponseCodec.encode(sotw));
  assert.equal(again.nonce, '2');
  assert.deepEqual([...again.resources[0]!.value], [...bytes]);
});

test('requests are read by hand as protobufjs wrote them, fields the server does not act on skipped', () => {
  const node = {
    id: 'router~10.0.0.1~pod.ns~ns.svc.cluster.local',
    cluster: 'ingress',
    metadata: { fields: { ISTIO_VERSION: { stringValue: '1.2' }, nested: { structValue: { fields: { n: { numberValue: 2.5 } } } } } },
    locality: { region: 'eu', zone: 'eu-1', subZone: 'rack 7' },
    userAgentName: 'envoy',
    userAgentVersion: '1.31.0',
    clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
  };
  const sotw = lookupMessage('envoy.service.discovery.v3.DiscoveryRequest');
  const sotwBytes = sotw
    .encode(sotw.fromObject({ versionInfo: 'v7', node, resourceNames: ['a', 'ünïcode', ''], typeUrl: EDS, responseNonce: '42', errorDetail: { code: -3, message: 'rejected: é', details: [{ typeUrl: 'x', value: [1, 2] }] }, resourceLocators: [{ name: 'loc' }] }))
    .finish();
  assert.deepEqual(discoveryRequestCodec.decode(sotwBytes), {
    versionInfo: 'v7',
    node: { id: node.id, cluster: 'ingress', userAgentName: 'envoy', userAgentVersion: '1.31.0', locality: { region: 'eu', zone: 'eu-1', subZone: 'rack 7' } },
    resourceNames: ['a', 'ünïcode', ''],
    typeUrl: EDS,
    responseNonce: '42',
    errorDetail: { code: -3, message: 'rejected: é' },
  });
  assert.deepEqual(discoveryRequestCodec.decode(new Uint8Array(0)), { versionInfo: '', node: null, resourceNames: [], typeUrl: '', responseNonce: '', errorDetail: null });

  const delta = lookupMessage('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const deltaBytes = delta
    .encode(delta.fromObject({ node: { id: 'n1' }, typeUrl: EDS, resourceNamesSubscribe: ['*', 'b'], resourceNamesUnsubscribe: ['c'], initialResourceVersions: { 'x/1': 'h1', __proto__: 'h2', toString: 'h3' }, responseNonce: '5', resourceLocatorsSubscribe: [{ name: 'l' }] }))
    .finish();
  const read = deltaDiscoveryRequestCodec.decode(deltaBytes);
  assert.deepEqual({ ...read, initialResourceVersions: { ...read.initialResourceVersions } }, {
    node: { id: 'n1', cluster: '', userAgentName: '', userAgentVersion: '', locality: null },
    typeUrl: EDS,
    resourceNamesSubscribe: ['*', 'b'],
    resourceNamesUnsubscribe: ['c'],
    initialResourceVersions: { 'x/1': 'h1', toString: 'h3' },
    responseNonce: '5',
    errorDetail: null,
  });
  assert.equal(Object.getPrototypeOf(read.initialResourceVersions), null, 'a map of client-chosen names has no prototype');
  assert.throws(() => deltaDiscoveryRequestCodec.decode(deltaBytes.subarray(0, deltaBytes.length - 3)), /wire: truncated/);
});
