import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XDS_TYPES, type XdsType, xdsEnvelope } from '@tendril/contract';
import { decodeResource, encodeResource } from '@tendril/envoy';
import { type AdsRequest, AdsStreamState, XdsSnapshot, resourceOfEnvelope } from './index.js';

const CDS = XDS_TYPES.cluster;
const EDS = XDS_TYPES.endpoint;
const LDS = XDS_TYPES.listener;
const RDS = XDS_TYPES.route;
const node = { id: 'node-1', cluster: 'edge' };

function resource(type: XdsType, name: string, content = 'v1', nodeSelector?: { nodeIds?: string[]; clusters?: string[] }) {
  return xdsEnvelope(type, name, new TextEncoder().encode(`${name}:${content}`), nodeSelector);
}

function resourceOf(type: XdsType, name: string, content = 'v1') {
  return resourceOfEnvelope(resource(type, name, content));
}

function snapshot(generation: number, ...envelopes: ReturnType<typeof resource>[]) {
  return XdsSnapshot.fromEnvelopes(generation, envelopes);
}

function request(typeUrl: string, resourceNames: string[] = [], responseNonce = '', versionInfo = '', error?: string): AdsRequest {
  return { typeUrl, resourceNames, responseNonce, versionInfo, node, errorDetail: error ? { code: 3, message: error } : null };
}

const names = (r: { resources: { name: string }[] }) => r.resources.map((x) => x.name);

test('an empty first CDS request is a wildcard: every cluster is sent', () => {
  const stream = new AdsStreamState();
  const snap = snapshot(1, resource('cluster', 'a'), resource('cluster', 'b'));
  const { responses } = stream.handleRequest(request(CDS), snap);
  assert.equal(responses.length, 1);
  assert.deepEqual(names(responses[0]!), ['a', 'b']);
  assert.deepEqual(stream.typeStates()[0]!.subscribed, []);
});

test('named subscriptions get only what they name, and grow one request at a time', () => {
  const stream = new AdsStreamState();
  const snap = snapshot(1, resource('cluster', 'a'), resource('cluster', 'b'), resource('cluster', 'c'));
  const first = stream.handleRequest(request(CDS, ['a']), snap).responses[0]!;
  assert.deepEqual(names(first), ['a']);
  const second = stream.handleRequest(request(CDS, ['a', 'b'], first.nonce, first.versionInfo), snap);
  assert.deepEqual(second.events.map((e) => e.event), ['ack']);
  assert.deepEqual(names(second.responses[0]!), ['a', 'b']);
  assert.notEqual(second.responses[0]!.versionInfo, first.versionInfo);
});

test('an empty EDS request is not a wildcard', () => {
  const stream = new AdsStreamState();
  const { responses } = stream.handleRequest(request(EDS), snapshot(1, resource('endpoint', 'a')));
  assert.deepEqual(names(responses[0]!), []);
});

test('an ACK of the current version is recorded and sends nothing', () => {
  const stream = new AdsStreamState();
  const snap = snapshot(1, resource('cluster', 'a'));
  const sent = stream.handleRequest(request(CDS), snap).responses[0]!;
  const step = stream.handleRequest(request(CDS, [], sent.nonce, sent.versionInfo), snap);
  assert.deepEqual(step.responses, []);
  assert.deepEqual(step.events, [{ event: 'ack', typeUrl: CDS, version: sent.versionInfo, nonce: sent.nonce }]);
  assert.equal(stream.typeStates()[0]!.versionAcked, sent.versionInfo);
});

test('a NACK is recorded, the same version is not resent, and a fix is pushed', () => {
  const stream = new AdsStreamState();
  const bad = snapshot(1, resource('cluster', 'a', 'bad'));
  const sent = stream.handleRequest(request(CDS), bad).responses[0]!;
  const step = stream.handleRequest(request(CDS, [], sent.nonce, '', 'cluster a: bad'), bad);
  assert.deepEqual(step.responses, []);
  assert.equal(step.events[0]!.event, 'nack');
  assert.equal(step.events[0]!.error, 'cluster a: bad');
  assert.deepEqual(stream.typeStates()[0]!.lastNack, { version: sent.versionInfo, nonce: sent.nonce, error: 'cluster a: bad', resources: ['a'] });
  assert.equal(stream.typeStates()[0]!.versionAcked, '');
  // The same content again (another generation) does not loop.
  assert.deepEqual(stream.handleSnapshot(snapshot(2, resource('cluster', 'a', 'bad'))), []);
  const fixed = stream.handleSnapshot(snapshot(3, resource('cluster', 'a', 'good')));
  assert.equal(fixed.length, 1);
  const ack = stream.handleRequest(request(CDS, [], fixed[0]!.nonce, fixed[0]!.versionInfo), snapshot(3, resource('cluster', 'a', 'good')));
  assert.equal(ack.events[0]!.event, 'ack');
  assert.equal(stream.typeStates()[0]!.lastNack, null);
});

test('a NACK names the resources the rejected push changed, or those Envoy names', () => {
  const stream = new AdsStreamState();
  let snap = snapshot(1, resource('cluster', 'a'), resource('cluster', 'b'), resource('cluster', 'c'));
  const first = stream.handleRequest(request(CDS), snap).responses[0]!;
  stream.handleRequest(request(CDS, [], first.nonce, first.versionInfo), snap);
  // b and c change, d is new; a is as ACKed.
  snap = snapshot(2, resource('cluster', 'a'), resource('cluster', 'b', 'v2'), resource('cluster', 'c', 'v2'), resource('cluster', 'd'));
  const push = stream.handleSnapshot(snap)[0]!;
  const vague = stream.handleRequest(request(CDS, [], push.nonce, first.versionInfo, 'update rejected'), snap);
  assert.deepEqual(vague.events[0]!.resources, ['b', 'c', 'd']);
  assert.deepEqual(stream.typeStates()[0]!.lastNack?.resources, ['b', 'c', 'd']);
  // Envoy's CDS/LDS messages name the resources they refused: only those then.
  snap = snapshot(3, resource('cluster', 'a'), resource('cluster', 'b', 'v3'), resource('cluster', 'c', 'v2'), resource('cluster', 'd'));
  const again = stream.handleSnapshot(snap)[0]!;
  const named = stream.handleRequest(request(CDS, [], again.nonce, first.versionInfo, "Error adding/updating cluster(s) c: invalid 'connect_timeout', d: duplicate"), snap);
  assert.deepEqual(named.events[0]!.resources, ['c', 'd']);
  // An ACK clears it.
  snap = snapshot(4, resource('cluster', 'a'), resource('cluster', 'b', 'v3'), resource('cluster', 'c', 'v4'));
  const fixed = stream.handleSnapshot(snap)[0]!;
  stream.handleRequest(request(CDS, [], fixed.nonce, fixed.versionInfo), snap);
  assert.equal(stream.typeStates()[0]!.lastNack, null);
});

test('requests carrying a stale nonce are ignored', () => {
  const stream = new AdsStreamState();
  const snap1 = snapshot(1, resource('cluster', 'a'));
  const first = stream.handleRequest(request(CDS), snap1).responses[0]!;
  const pushed = stream.handleSnapshot(snapshot(2, resource('cluster', 'a', 'v2')));
  const stale = stream.handleRequest(request(CDS, [], first.nonce, first.versionInfo), snapshot(2, resource('cluster', 'a', 'v2')));
  assert.deepEqual(stale, { responses: [], events: [] });
  assert.equal(stream.typeStates()[0]!.versionAcked, '');
  assert.equal(stream.typeStates()[0]!.lastNonce, pushed[0]!.nonce);
});

test('no push when the snapshot changes outside what a stream subscribed to', () => {
  const stream = new AdsStreamState();
  const snap1 = snapshot(1, resource('endpoint', 'a'), resource('endpoint', 'b'));
  stream.handleRequest(request(EDS, ['a']), snap1);
  assert.deepEqual(stream.handleSnapshot(snapshot(2, resource('endpoint', 'a'), resource('endpoint', 'b', 'v2'))), []);
  const pushed = stream.handleSnapshot(snapshot(3, resource('endpoint', 'a', 'v2'), resource('endpoint', 'b', 'v2')));
  assert.deepEqual(pushed.map(names), [['a']]);
});

test('changes go out clusters, endpoints, listeners, routes; removals only after every addition is ACKed', () => {
  const stream = new AdsStreamState();
  const snap1 = snapshot(1, resource('cluster', 'old'), resource('endpoint', 'old'), resource('listener', 'l'), resource('route', 'r'));
  // Subscribe in the "wrong" order to show that the order comes from the type, not from arrival.
  const ack = (r: { typeUrl: string; nonce: string; versionInfo: string }, names: string[], snap: XdsSnapshot) => stream.handleRequest(request(r.typeUrl, names, r.nonce, r.versionInfo), snap);
  const subscriptions: [string, string[]][] = [[RDS, ['r']], [LDS, []], [EDS, ['old', 'new']], [CDS, []]];
  for (const [typeUrl, names] of subscriptions) {
    const sent = stream.handleRequest(request(typeUrl, names), snap1).responses[0]!;
    ack(sent, names, snap1);
  }
  const snap2 = snapshot(2, resource('cluster', 'new'), resource('endpoint', 'new'), resource('listener', 'l'), resource('route', 'r', 'points-at-new'));
  const pushed = stream.handleSnapshot(snap2);
  assert.deepEqual(
    pushed.map((r) => [r.typeUrl, names(r)]),
    [
      [CDS, ['new', 'old']],
      [EDS, ['new', 'old']],
      [RDS, ['r']],
    ],
  );
  assert.deepEqual(stream.handleSnapshot(snap2), [], 'nothing new while ACKs are awaited');
  const subscribed = new Map(subscriptions);
  assert.deepEqual(ack(pushed[0]!, [], snap2).responses, []);
  assert.deepEqual(ack(pushed[1]!, subscribed.get(EDS)!, snap2).responses, []);
  const removals = ack(pushed[2]!, ['r'], snap2).responses;
  assert.deepEqual(
    removals.map((r) => [r.typeUrl, names(r)]),
    [
      [CDS, ['new']],
      [EDS, ['new']],
    ],
  );
  assert.deepEqual(stream.handleSnapshot(snap2), []);
});

test('an unchanged type is not looked at when the snapshot says what changed', () => {
  const stream = new AdsStreamState();
  const snap1 = snapshot(1, resource('cluster', 'a'), resource('endpoint', 'a'), resource('endpoint', 'b'));
  for (const [typeUrl, subscribed] of [[CDS, []], [EDS, ['a']]] as const) {
    const sent = stream.handleRequest(request(typeUrl, [...subscribed]), snap1).responses[0]!;
    stream.handleRequest(request(typeUrl, [...subscribed], sent.nonce, sent.versionInfo), snap1);
  }
  const snap2 = snap1.apply(2, [resourceOf('endpoint', 'b', 'v2')], []);
  assert.deepEqual([...snap2.changedNames(EDS)!], ['b']);
  assert.deepEqual([...snap2.changedNames(CDS)!], []);
  assert.deepEqual(stream.handleSnapshot(snap2), []);
  const snap3 = snap2.apply(3, [resourceOf('endpoint', 'a', 'v2')], [{ typeUrl: CDS, name: 'a' }]);
  const pushed = stream.handleSnapshot(snap3);
  // The cluster's removal waits for the endpoint's ACK.
  assert.deepEqual(pushed.map((r) => [r.typeUrl, names(r)]), [[EDS, ['a']]]);
  const removal = stream.handleRequest(request(EDS, ['a'], pushed[0]!.nonce, pushed[0]!.versionInfo), snap3).responses;
  assert.deepEqual(removal.map((r) => [r.typeUrl, names(r)]), [[CDS, []]]);
});

test('node selectors decide which proxies see a resource', () => {
  const snap = snapshot(1, resource('cluster', 'all'), resource('cluster', 'mine', 'v1', { nodeIds: ['node-1'] }), resource('cluster', 'edge', 'v1', { clusters: ['edge'] }), resource('cluster', 'other', 'v1', { nodeIds: ['node-2'] }));
  const stream = new AdsStreamState();
  assert.deepEqual(names(stream.handleRequest(request(CDS), snap).responses[0]!), ['all', 'edge', 'mine']);
});

test('requests before the first snapshot are answered when it arrives', () => {
  const stream = new AdsStreamState();
  assert.deepEqual(stream.handleRequest(request(CDS), undefined).responses, []);
  const pushed = stream.handleSnapshot(XdsSnapshot.empty(0));
  assert.equal(pushed.length, 1);
  assert.deepEqual(names(pushed[0]!), []);
});

test('versions are content hashes: equal content gives equal versions across streams', () => {
  const real = encodeResource('cluster', { name: 'c', type: 'STATIC' });
  const snap = XdsSnapshot.fromEnvelopes(7, [xdsEnvelope('cluster', 'c', real)]);
  const a = new AdsStreamState().handleRequest(request(CDS), snap).responses[0]!;
  const b = new AdsStreamState().handleRequest(request(CDS, ['c']), snap).responses[0]!;
  assert.equal(a.versionInfo, b.versionInfo);
  assert.deepEqual(decodeResource('cluster', a.resources[0]!.bytes), { name: 'c', type: 'STATIC' });
  assert.equal(snap.summary().types.find((t) => t.type === 'cluster')!.version, a.versionInfo);
});

test('state of the world: a snapshot push holds every cluster, but only the endpoints that changed', () => {
  const stream = new AdsStreamState();
  const snap1 = snapshot(1, resource('cluster', 'a'), resource('cluster', 'b'), resource('endpoint', 'a'), resource('endpoint', 'b'));
  for (const [typeUrl, subscribed] of [[CDS, []], [EDS, ['a', 'b']]] as const) {
    const sent = stream.handleRequest(request(typeUrl, [...subscribed]), snap1).responses[0]!;
    assert.equal(sent.resources.length, 2);
    stream.handleRequest(request(typeUrl, [...subscribed], sent.nonce, sent.versionInfo), snap1);
  }
  const snap2 = snap1.apply(2, [resourceOf('endpoint', 'b', 'v2'), resourceOf('cluster', 'b', 'v2')], []);
  const pushed = stream.handleSnapshot(snap2);
  assert.deepEqual(pushed.map((r) => [r.typeUrl, names(r)]), [[CDS, ['a', 'b']], [EDS, ['b']]]);
  // The version still names the whole state: the same as a fresh stream's full response.
  const fresh = new AdsStreamState().handleRequest(request(EDS, ['a', 'b']), snap2).responses[0]!;
  assert.deepEqual(names(fresh), ['a', 'b']);
  assert.equal(pushed[1]!.versionInfo, fresh.versionInfo);
});
