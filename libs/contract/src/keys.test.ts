import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  ContractError,
  lbKey,
  nodeToken,
  objectKey,
  objectKeyFilter,
  parseLbKey,
  parseNodeToken,
  parseObjectKey,
  parseXdsKey,
  XDS_GENERATION_KEY,
  objectBucketOf,
  xdsBucketOf,
  xdsKey,
  type ObjectRef,
} from './index.js';

// NATS KV accepts keys of these characters, with no empty dot-separated token.
const VALID_KV_KEY = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;

describe('object keys', () => {
  const cases: ObjectRef[] = [
    { cluster: 'default', kind: 'service', namespace: 'default', name: 'details' },
    { cluster: 'default', kind: 'service', namespace: 'shop', name: 'api.v2.internal' },
    { cluster: 'eu-1', kind: 'gatewayclass', name: 'cilium' },
    { cluster: 'default', kind: 'ciliumclusterwideenvoyconfig', name: 'envoy.lb.global' },
    { cluster: 'default', kind: 'secret', namespace: 'default', name: 'weird name:with|chars=and_ünïcode' },
    { cluster: 'default', kind: 'service', namespace: 'default', name: '.leading..double.trailing.' },
  ];
  for (const ref of cases) {
    it(`round-trips ${ref.kind} ${ref.namespace ?? '(cluster)'}/${ref.name}`, () => {
      const key = objectKey(ref);
      assert.match(key, VALID_KV_KEY);
      assert.deepEqual(parseObjectKey(key), ref);
    });
  }

  it('keeps dotted names readable and the namespace in its own token', () => {
    const key = objectKey({ cluster: 'default', kind: 'service', namespace: 'shop', name: 'api.v2' });
    assert.equal(key, 'default.service.shop.api.v2');
  });

  it('writes cluster-scoped objects with _ as namespace', () => {
    assert.equal(objectKey({ cluster: 'default', kind: 'gatewayclass', name: 'cilium' }), 'default.gatewayclass._.cilium');
  });

  it('refuses unknown kinds and the reserved namespace', () => {
    assert.throws(() => objectKey({ cluster: 'c', kind: 'deployment' as never, namespace: 'd', name: 'x' }), ContractError);
    assert.throws(() => objectKey({ cluster: 'c', kind: 'service', namespace: '_', name: 'x' }), ContractError);
    assert.throws(() => parseObjectKey('default.deployment.default.x'), /unknown kind/);
    assert.throws(() => parseObjectKey('default.service'), ContractError);
  });

  it('builds watch filters per kind', () => {
    assert.equal(objectKeyFilter('service'), '*.service.>');
    assert.equal(objectKeyFilter('service', 'eu-1'), 'eu-1.service.>');
  });
});

describe('xds keys', () => {
  const names = [
    'default/my-gateway/http/80',
    'outbound|9080||details.default.svc.cluster.local',
    'listener:0.0.0.0:80',
    'xdstp://tendril/envoy.config.cluster.v3.Cluster/a?b=c',
    'ünïcode',
  ];
  for (const name of names) {
    it(`round-trips ${name}`, () => {
      const key = xdsKey({ type: 'cluster', name });
      assert.match(key, VALID_KV_KEY);
      assert.deepEqual(parseXdsKey(key), { type: 'cluster', name });
    });
  }
  it('refuses unknown types and malformed names', () => {
    assert.throws(() => xdsKey({ type: 'runtime' as never, name: 'x' }), ContractError);
    assert.throws(() => parseXdsKey('cluster.a+b'), ContractError);
    assert.throws(() => parseXdsKey('scoped-route.YQ'), ContractError);
  });
});

describe('lb and node keys', () => {
  it('round-trips services with dotted names', () => {
    const ref = { cluster: 'default', namespace: 'default', name: 'my.service' };
    assert.equal(lbKey(ref), 'default.default.my.service');
    assert.deepEqual(parseLbKey(lbKey(ref)), ref);
  });
  it('round-trips any node id as one token', () => {
    for (const node of ['sidecar~10.1.2.3~pod.ns~ns.svc.cluster.local', 'node-1', 'a.b/c:d|e']) {
      const token = nodeToken(node);
      assert.match(token, /^[A-Za-z0-9_-]+$/);
      assert.equal(parseNodeToken(token), node);
    }
  });
});

test('Secrets and SDS Secrets have buckets of their own; their keys, chunks included, say which', () => {
  const secret = objectKey({ cluster: 'default', kind: 'secret', namespace: 'secret', name: 'tls.cert' });
  assert.equal(objectBucketOf(secret), 'tendril-secrets');
  assert.equal(objectBucketOf(`${secret}.=chunk.${'a'.repeat(64)}.0`), 'tendril-secrets');
  // a namespace or name that reads "secret" is not the kind
  assert.equal(objectBucketOf(objectKey({ cluster: 'secret', kind: 'service', namespace: 'secret', name: 'secret' })), 'tendril-objects');
  assert.equal(xdsBucketOf(xdsKey({ type: 'secret', name: 'ns/cert' })), 'tendril-sds');
  assert.equal(xdsBucketOf(xdsKey({ type: 'listener', name: 'secret' })), 'tendril-xds');
  assert.equal(xdsBucketOf(XDS_GENERATION_KEY), 'tendril-xds');
});
