/**
 * Secrets go only to a proven node whose listeners or clusters refer to them: the snapshot's rule,
 * and how state-of-the-world and delta streams follow it as references come and go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XDS_TYPES, type XdsType, xdsEnvelope } from '@tendril/contract';
import { AdsStreamState, DeltaStreamState, type SnapshotResource, XdsSnapshot, resourceOfEnvelope } from './index.js';

const SDS = XDS_TYPES.secret;
const proven = { id: 'node-1', cluster: 'edge', proven: true };
const other = { id: 'node-2', cluster: 'edge', proven: true };

function resource(type: XdsType, name: string, options: { secrets?: string[]; nodeIds?: string[]; content?: string } = {}): SnapshotResource {
  const out = resourceOfEnvelope(xdsEnvelope(type, name, new TextEncoder().encode(`${name}:${options.content ?? 'v1'}:${options.secrets?.join(',')}`), options.nodeIds ? { nodeIds: options.nodeIds } : undefined));
  return options.secrets ? { ...out, secrets: options.secrets } : out;
}

const base = () =>
  XdsSnapshot.fromResources(1, [
    resource('listener', 'gw-1', { secrets: ['ns/cert-1'], nodeIds: ['node-1'] }),
    resource('cluster', 'upstream', { secrets: ['ns/client-ca'] }),
    resource('secret', 'ns/cert-1'),
    resource('secret', 'ns/cert-2'),
    resource('secret', 'ns/client-ca'),
  ]);

test('a proven node gets the secrets its listeners and clusters refer to, and no other', () => {
  const snap = base();
  assert.deepEqual([...snap.visible(SDS, proven).keys()].sort(), ['ns/cert-1', 'ns/client-ca']);
  assert.ok(snap.get(SDS, 'ns/cert-1', proven));
  assert.equal(snap.get(SDS, 'ns/cert-2', proven), undefined, 'named by no listener or cluster');
  assert.equal(snap.secretRefusal('ns/cert-2', proven), 'unreferenced');
  // node-2 is not selected by the listener that names cert-1; the cluster is everyone's
  assert.deepEqual([...snap.visible(SDS, other).keys()], ['ns/client-ca']);
  assert.equal(snap.secretRefusal('ns/cert-1', other), 'unreferenced');
});

test('a node whose id is not proven gets no secret at all, even one its listeners need', () => {
  const snap = base();
  const claimed = { id: 'node-1', cluster: 'edge' };
  assert.deepEqual([...snap.visible(SDS, claimed).keys()], []);
  assert.equal(snap.get(SDS, 'ns/cert-1', claimed), undefined);
  assert.equal(snap.secretRefusal('ns/cert-1', { ...claimed, proven: false }), 'unproven');
  // other types are served as before
  assert.ok(snap.get(XDS_TYPES.listener, 'gw-1', claimed));
});

test('state of the world: a secret follows the listener that refers to it', () => {
  const stream = new AdsStreamState(undefined, true);
  const request = (names: string[], nonce = '') => ({ typeUrl: SDS, resourceNames: names, responseNonce: nonce, versionInfo: '', node: proven });
  let snap = base();
  const first = stream.handleRequest(request(['ns/cert-1', 'ns/cert-2']), snap).responses[0]!;
  assert.deepEqual(first.resources.map((r) => r.name), ['ns/cert-1'], 'cert-2 is answered as absent');
  stream.handleRequest(request(['ns/cert-1', 'ns/cert-2'], first.nonce), snap);
  // a new listener of this node refers to cert-2: it is pushed
  snap = snap.apply(2, [resource('listener', 'gw-2', { secrets: ['ns/cert-2'], nodeIds: ['node-1'] })], []);
  const pushed = stream.handleSnapshot(snap);
  assert.deepEqual(pushed.map((r) => r.resources.map((x) => x.name)), [['ns/cert-2']]);
  stream.handleRequest(request(['ns/cert-1', 'ns/cert-2'], pushed[0]!.nonce), snap);
  // the listener goes: cert-2 is no longer this node's
  snap = snap.apply(3, [], [{ typeUrl: XDS_TYPES.listener, name: 'gw-2' }]);
  const after = stream.handleSnapshot(snap);
  assert.deepEqual(after.map((r) => r.resources.map((x) => x.name)), [['ns/cert-1']], 'the full state holds cert-1 alone');
});

test('an unproven state-of-the-world stream is answered for no secret', () => {
  const stream = new AdsStreamState(); // not proven
  const claimed = { id: 'node-1', cluster: 'edge' };
  const [response] = stream.handleRequest({ typeUrl: SDS, resourceNames: ['ns/cert-1'], responseNonce: '', versionInfo: '', node: claimed }, base()).responses;
  assert.deepEqual(response!.resources, []);
});

test('delta: an unreferenced name is answered as removed (does not exist), then sent once a listener refers to it', () => {
  const stream = new DeltaStreamState(undefined, true);
  const request = (fields: object) => ({ typeUrl: SDS, resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], initialResourceVersions: {}, responseNonce: '', node: proven, ...fields });
  let snap = base();
  const [first] = stream.handleRequest(request({ resourceNamesSubscribe: ['ns/cert-1', 'ns/cert-2'] }), snap).responses;
  assert.deepEqual(first!.resources.map((r) => r.name), ['ns/cert-1']);
  assert.deepEqual(first!.removedResources, ['ns/cert-2']);
  stream.handleRequest(request({ responseNonce: first!.nonce }), snap);
  snap = snap.apply(2, [resource('cluster', 'needs-cert-2', { secrets: ['ns/cert-2'] })], []);
  const [pushed] = stream.handleSnapshot(snap);
  assert.deepEqual(pushed!.resources.map((r) => r.name), ['ns/cert-2']);
  stream.handleRequest(request({ responseNonce: pushed!.nonce }), snap);
  // the listener referring to cert-1 is moved to another node: cert-1 is removed from this one
  snap = snap.apply(3, [resource('listener', 'gw-1', { secrets: ['ns/cert-1'], nodeIds: ['node-2'] })], []);
  const removal = stream.handleSnapshot(snap);
  assert.deepEqual(removal.map((r) => r.removedResources), [['ns/cert-1']]);
});

test('delta: an unproven stream holding secrets from before (initial versions) has them removed', () => {
  const stream = new DeltaStreamState(); // not proven
  const snap = base();
  const held = snap.visible(SDS, proven);
  const initialResourceVersions = Object.fromEntries([...held].map(([name, r]) => [name, r.hash]));
  const claimed = { id: 'node-1', cluster: 'edge' };
  const step = stream.handleRequest({ typeUrl: SDS, resourceNamesSubscribe: [...held.keys()], resourceNamesUnsubscribe: [], initialResourceVersions, responseNonce: '', node: claimed }, snap);
  assert.deepEqual(step.responses.flatMap((r) => r.resources), []);
  assert.deepEqual(step.responses.flatMap((r) => r.removedResources).sort(), ['ns/cert-1', 'ns/client-ca']);
});

test('a workload certificate goes to the proven nodes its own node selector names, referred to or not', () => {
  const id = 'spiffe://cluster.local/ns/shop/sa/frontend';
  const snap = XdsSnapshot.fromResources(1, [resource('secret', id, { nodeIds: ['node-1'] }), resource('secret', 'spiffe://cluster.local/ns/shop/sa/everywhere'), resource('secret', 'ns/selected', { nodeIds: ['node-1'] })]);
  assert.ok(snap.get(SDS, id, proven));
  assert.deepEqual([...snap.visible(SDS, proven).keys()], [id]);
  assert.equal(snap.get(SDS, id, other), undefined, 'another node');
  assert.equal(snap.get(SDS, id, { ...proven, proven: false }), undefined, 'a node that did not prove its id');
  // without a node selector a SPIFFE-named Secret needs a referrer like any other; other names always do
  assert.equal(snap.secretRefusal('spiffe://cluster.local/ns/shop/sa/everywhere', proven), 'unreferenced');
  assert.equal(snap.secretRefusal('ns/selected', proven), 'unreferenced');
});
