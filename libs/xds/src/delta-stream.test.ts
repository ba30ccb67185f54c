import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XDS_TYPES, type XdsType, xdsEnvelope } from '@tendril/contract';
import { type DeltaRequest, type DeltaResponse, DeltaStreamState, XdsSnapshot, resourceOfEnvelope } from './index.js';

const CDS = XDS_TYPES.cluster;
const EDS = XDS_TYPES.endpoint;
const RDS = XDS_TYPES.route;
const node = { id: 'node-1', cluster: 'edge' };

function resource(type: XdsType, name: string, content = 'v1', nodeSelector?: { nodeIds?: string[] }) {
  return resourceOfEnvelope(xdsEnvelope(type, name, new TextEncoder().encode(`${name}:${content}`), nodeSelector));
}
function snapshot(generation: number, ...resources: ReturnType<typeof resource>[]) {
  return XdsSnapshot.fromResources(generation, resources);
}
function request(typeUrl: string, fields: Partial<DeltaRequest> = {}): DeltaRequest {
  return { typeUrl, resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], initialResourceVersions: {}, responseNonce: '', node, ...fields };
}
const ackOf = (r: DeltaResponse) => request(r.typeUrl, { responseNonce: r.nonce });
const nackOf = (r: DeltaResponse, message: string) => request(r.typeUrl, { responseNonce: r.nonce, errorDetail: { code: 3, message } });
const summary = (r: DeltaResponse) => [r.typeUrl, r.resources.map((x) => x.name), r.removedResources];

test('a first CDS request naming nothing is a wildcard; every resource carries its hash as version', () => {
  const stream = new DeltaStreamState();
  const snap = snapshot(1, resource('cluster', 'a'), resource('cluster', 'b'));
  const [response] = stream.handleRequest(request(CDS), snap).responses;
  assert.deepEqual(summary(response!), [CDS, ['a', 'b'], []]);
  assert.deepEqual(response!.resources.map((r) => r.hash), [snap.get(CDS, 'a', node)!.hash, snap.get(CDS, 'b', node)!.hash]);
  const ack = stream.handleRequest(ackOf(response!), snap);
  assert.deepEqual(ack.events, [{ event: 'ack', typeUrl: CDS, version: response!.systemVersionInfo, nonce: response!.nonce }]);
  assert.deepEqual(ack.responses, [], 'an ACK with nothing new gets no (empty) response');
  assert.deepEqual(stream.typeStates()[0]!.subscribed, [], 'wildcard, as in the contract');
});

test('an empty first EDS request subscribes to nothing and gets no response', () => {
  const stream = new DeltaStreamState();
  assert.deepEqual(stream.handleRequest(request(EDS), snapshot(1, resource('endpoint', 'a'))).responses, []);
});

test('named subscriptions: only changes of subscribed names are sent; unknown names are reported absent once', () => {
  const stream = new DeltaStreamState();
  let snap = snapshot(1, resource('endpoint', 'a'), resource('endpoint', 'b'));
  const first = stream.handleRequest(request(EDS, { resourceNamesSubscribe: ['a', 'missing'] }), snap).responses;
  assert.deepEqual(first.map(summary), [[EDS, ['a'], ['missing']]]);
  stream.handleRequest(ackOf(first[0]!), snap);
  snap = snap.apply(2, [resource('endpoint', 'b', 'v2')], []);
  assert.deepEqual(stream.handleSnapshot(snap), [], 'b is not subscribed');
  snap = snap.apply(3, [resource('endpoint', 'a', 'v2'), resource('endpoint', 'missing')], []);
  const pushed = stream.handleSnapshot(snap);
  assert.deepEqual(pushed.map(summary), [[EDS, ['a', 'missing'], []]]);
  stream.handleRequest(ackOf(pushed[0]!), snap);
  // Growing the subscription sends only the new name.
  const grown = stream.handleRequest(request(EDS, { resourceNamesSubscribe: ['b'] }), snap).responses;
  assert.deepEqual(grown.map(summary), [[EDS, ['b'], []]]);
  stream.handleRequest(ackOf(grown[0]!), snap);
  // After unsubscribing, changes of that name are not sent, and its removal is not announced.
  assert.deepEqual(stream.handleRequest(request(EDS, { resourceNamesUnsubscribe: ['a'] }), snap).responses, []);
  snap = snap.apply(4, [resource('endpoint', 'a', 'v3')], [{ typeUrl: EDS, name: 'b' }]);
  assert.deepEqual(stream.handleSnapshot(snap).map(summary), [[EDS, [], ['b']]]);
  assert.deepEqual(stream.typeStates()[0]!.subscribed, ['b', 'missing']);
});

test('a reconnect with initial_resource_versions gets only what changed and what vanished', () => {
  const before = snapshot(1, resource('cluster', 'same'), resource('cluster', 'changes'), resource('cluster', 'goes'));
  const first = new DeltaStreamState();
  const held = Object.fromEntries(first.handleRequest(request(CDS), before).responses[0]!.resources.map((r) => [r.name, r.hash]));
  const after = snapshot(2, resource('cluster', 'same'), resource('cluster', 'changes', 'v2'), resource('cluster', 'new'));
  const second = new DeltaStreamState();
  const { responses } = second.handleRequest(request(CDS, { initialResourceVersions: held }), after);
  assert.deepEqual(responses.map(summary), [[CDS, ['changes', 'new'], []]]);
  // The vanished cluster goes once the additions are ACKed.
  assert.deepEqual(second.handleRequest(ackOf(responses[0]!), after).responses.map(summary), [[CDS, [], ['goes']]]);
  // Nothing changed at all: no response.
  const third = new DeltaStreamState();
  const current = Object.fromEntries(['same', 'changes', 'new'].map((name) => [name, after.get(CDS, name, node)!.hash]));
  assert.deepEqual(third.handleRequest(request(CDS, { initialResourceVersions: current }), after).responses, []);
});

test('a NACK leaves the client on its versions; the rejected version is not resent, a fixed one is', () => {
  const stream = new DeltaStreamState();
  let snap = snapshot(1, resource('cluster', 'a'));
  const first = stream.handleRequest(request(CDS), snap).responses[0]!;
  stream.handleRequest(ackOf(first), snap);
  snap = snap.apply(2, [resource('cluster', 'a', 'bad')], []);
  const bad = stream.handleSnapshot(snap)[0]!;
  const step = stream.handleRequest(nackOf(bad, 'cluster a: bad'), snap);
  assert.deepEqual(step.responses, []);
  assert.deepEqual(step.events, [{ event: 'nack', typeUrl: CDS, version: bad.systemVersionInfo, nonce: bad.nonce, error: 'cluster a: bad', resources: ['a'] }]);
  assert.deepEqual(stream.typeStates()[0]!.lastNack, { version: bad.systemVersionInfo, nonce: bad.nonce, error: 'cluster a: bad', resources: ['a'] });
  assert.deepEqual(stream.handleSnapshot(snap.apply(3, [resource('cluster', 'a', 'bad')], [])), [], 'the rejected version again');
  // Back to the version the client holds: nothing to send either.
  snap = snap.apply(4, [resource('cluster', 'a', 'v1')], []);
  assert.deepEqual(stream.handleSnapshot(snap), []);
  snap = snap.apply(5, [resource('cluster', 'a', 'good')], []);
  const fixed = stream.handleSnapshot(snap)[0]!;
  assert.deepEqual(summary(fixed), [CDS, ['a'], []]);
  assert.notEqual(fixed.systemVersionInfo, bad.systemVersionInfo);
  stream.handleRequest(ackOf(fixed), snap);
  assert.equal(stream.typeStates()[0]!.lastNack, null);
  assert.equal(stream.typeStates()[0]!.versionAcked, fixed.systemVersionInfo);
});

test('a rejection stands through ACKs of other resources until the rejected one is replaced or removed', () => {
  const stream = new DeltaStreamState();
  let snap = snapshot(1, resource('cluster', 'a'), resource('cluster', 'b'));
  stream.handleRequest(ackOf(stream.handleRequest(request(CDS), snap).responses[0]!), snap);
  snap = snap.apply(2, [resource('cluster', 'a', 'bad')], []);
  stream.handleRequest(nackOf(stream.handleSnapshot(snap)[0]!, 'cluster a: bad'), snap);
  // b changes and is ACKed: a is still rejected (the proxy still holds its old version).
  snap = snap.apply(3, [resource('cluster', 'b', 'v2')], []);
  stream.handleRequest(ackOf(stream.handleSnapshot(snap)[0]!), snap);
  assert.deepEqual(stream.typeStates()[0]!.lastNack?.resources, ['a']);
  assert.equal(stream.typeStates()[0]!.lastNack?.error, 'cluster a: bad');
  // a goes away: the removal's ACK clears it.
  snap = snap.apply(4, [], [resource('cluster', 'a', 'bad')]);
  const removal = stream.handleSnapshot(snap)[0]!;
  assert.deepEqual(removal.removedResources, ['a']);
  stream.handleRequest(ackOf(removal), snap);
  assert.equal(stream.typeStates()[0]!.lastNack, null);
});

test('additions go out clusters before endpoints before routes; removals after the ACKs, referrers first', () => {
  const stream = new DeltaStreamState();
  let snap = snapshot(1, resource('cluster', 'old'), resource('endpoint', 'old'), resource('route', 'r'));
  for (const [typeUrl, names] of [[RDS, ['r']], [EDS, ['old', 'new']], [CDS, []]] as const) {
    const sent = stream.handleRequest(request(typeUrl, { resourceNamesSubscribe: [...names] }), snap).responses.find((r) => r.typeUrl === typeUrl)!;
    stream.handleRequest(ackOf(sent), snap);
  }
  snap = snap.apply(2, [resource('cluster', 'new'), resource('endpoint', 'new'), resource('route', 'r', 'to-new')], [
    { typeUrl: CDS, name: 'old' },
    { typeUrl: EDS, name: 'old' },
  ]);
  const pushed = stream.handleSnapshot(snap);
  assert.deepEqual(pushed.map(summary), [
    [CDS, ['new'], []],
    [EDS, ['new'], []],
    [RDS, ['r'], []],
  ]);
  assert.deepEqual(stream.handleRequest(ackOf(pushed[0]!), snap).responses, []);
  assert.deepEqual(stream.handleRequest(ackOf(pushed[2]!), snap).responses, []);
  const removals = stream.handleRequest(ackOf(pushed[1]!), snap).responses;
  assert.deepEqual(removals.map(summary), [
    [CDS, [], ['old']],
    [EDS, [], ['old']],
  ]);
});

test('unsubscribing "*" ends the wildcard; node selectors hide what is not for this node', () => {
  const stream = new DeltaStreamState();
  const snap = snapshot(1, resource('cluster', 'all'), resource('cluster', 'mine', 'v1', { nodeIds: ['node-1'] }), resource('cluster', 'theirs', 'v1', { nodeIds: ['node-2'] }));
  const first = stream.handleRequest(request(CDS, { resourceNamesSubscribe: ['*', 'theirs'] }), snap).responses;
  assert.deepEqual(first.map(summary), [[CDS, ['all', 'mine'], ['theirs']]]);
  stream.handleRequest(ackOf(first[0]!), snap);
  stream.handleRequest(request(CDS, { resourceNamesUnsubscribe: ['*'], resourceNamesSubscribe: ['all'] }), snap);
  const next = snap.apply(2, [resource('cluster', 'mine', 'v2'), resource('cluster', 'all', 'v2')], []);
  assert.deepEqual(stream.handleSnapshot(next).map(summary), [[CDS, ['all'], []]]);
});

test('a per-type stream ignores other types and fills in an empty type URL', () => {
  const stream = new DeltaStreamState(CDS);
  const snap = snapshot(1, resource('cluster', 'a'), resource('endpoint', 'a'));
  assert.deepEqual(stream.handleRequest(request(EDS, { resourceNamesSubscribe: ['a'] }), snap).responses, []);
  assert.deepEqual(stream.handleRequest(request('', { resourceNamesSubscribe: ['*'] }), snap).responses.map(summary), [[CDS, ['a'], []]]);
});

test('a subscription before the first snapshot is answered when it arrives', () => {
  const stream = new DeltaStreamState();
  assert.deepEqual(stream.handleRequest(request(CDS), undefined).responses, []);
  assert.deepEqual(stream.handleSnapshot(snapshot(1, resource('cluster', 'a'))).map(summary), [[CDS, ['a'], []]]);
});
