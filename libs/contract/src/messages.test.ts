import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ContractError,
  envelopeBytes,
  GenerationDigest,
  KeyedGenerationDigest,
  generationDigest,
  kubeObjectCodec,
  lbServiceCodec,
  withoutManagedFields,
  xdsEnvelope,
  xdsResourceCodec,
  type LbService,
} from './index.js';

describe('message codecs', () => {
  it('round-trips an xds envelope and its bytes', () => {
    const bytes = new Uint8Array([8, 1, 18, 3, 97, 98, 99]);
    const envelope = xdsEnvelope('cluster', 'outbound|80||a', bytes);
    const decoded = xdsResourceCodec.decode(xdsResourceCodec.encode(envelope));
    assert.deepEqual(decoded, envelope);
    assert.deepEqual(envelopeBytes(decoded), bytes);
    assert.equal(decoded.typeUrl, 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  });

  it('refuses an envelope whose typeUrl does not match its type, naming the field', () => {
    const envelope = { ...xdsEnvelope('cluster', 'x', new Uint8Array([1])), typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener' };
    assert.throws(() => xdsResourceCodec.encode(envelope), /typeUrl/);
  });

  it('names every bad field of an lb entry', () => {
    const bad = {
      v: 1, cluster: 'default', namespace: 'default', name: 'svc',
      frontends: [{ address: 'not-an-ip', port: 80, protocol: 'TCP', portName: '', scope: 'ClusterIP' }],
      backends: [{ address: '127.0.0.2', port: 70000, protocol: 'TCP', portName: '', weight: 1, state: 'active' }],
      algorithm: 'random', affinity: null, l7Proxy: null,
    };
    assert.throws(() => lbServiceCodec.check(bad), (error: Error) => {
      assert.ok(error instanceof ContractError);
      assert.match(error.message, /frontends\.0\.address/);
      assert.match(error.message, /backends\.0\.port/);
      return true;
    });
  });

  it('round-trips an lb entry with IPv6 addresses', () => {
    const entry: LbService = {
      v: 1, cluster: 'default', namespace: 'default', name: 'svc',
      frontends: [{ address: 'fd00::10', port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' }],
      backends: [{ address: '::1', port: 8080, protocol: 'TCP', portName: 'http', weight: 1, state: 'active' }],
      algorithm: 'maglev', affinity: { timeoutSeconds: 10800 }, l7Proxy: null,
    };
    assert.deepEqual(lbServiceCodec.decode(lbServiceCodec.encode(entry)), entry);
  });

  it('decodes garbage to a ContractError, not a crash', () => {
    assert.throws(() => kubeObjectCodec.decode(new TextEncoder().encode('{not json')), /kube object: not JSON/);
    assert.throws(() => kubeObjectCodec.decode(new TextEncoder().encode('{"kind":"Service"}')), /apiVersion/);
  });

  it('drops managedFields and keeps the rest', () => {
    const object = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', managedFields: [{}], labels: { x: 'y' } }, spec: {} };
    assert.deepEqual(withoutManagedFields(object), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', labels: { x: 'y' } }, spec: {} });
  });

  it('digests a generation independently of order, and sensitively to content', () => {
    const a = generationDigest([['cluster.YQ', '1'.repeat(64)], ['endpoint.YQ', '2'.repeat(64)]]);
    const b = generationDigest([['endpoint.YQ', '2'.repeat(64)], ['cluster.YQ', '1'.repeat(64)]]);
    const c = generationDigest([['endpoint.YQ', '3'.repeat(64)], ['cluster.YQ', '1'.repeat(64)]]);
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.match(a, /^[0-9a-f]{64}$/);
  });

  it('keeps a generation digest up to date pair by pair, equal to one computed from scratch', () => {
    const digest = new GenerationDigest();
    const held = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      const key = `endpoint.k${i % 37}`;
      const old = held.get(key);
      if (old !== undefined) digest.remove(key, old);
      if (i % 5 === 4) held.delete(key);
      else {
        const hash = String(i % 10).repeat(64);
        digest.add(key, hash);
        held.set(key, hash);
      }
      assert.equal(digest.hex, generationDigest(held), `after step ${i}`);
    }
    for (const [key, hash] of held) digest.remove(key, hash);
    assert.equal(digest.hex, generationDigest([]), 'everything removed: the empty digest');
  });

  it('keeps the digest of keys set, replaced and deleted (KeyedGenerationDigest), equal to one computed from scratch', () => {
    const keyed = new KeyedGenerationDigest();
    const held = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const key = `cluster.k${i % 23}`;
      const hash = i % 6 === 5 ? undefined : String(i % 9).repeat(64);
      keyed.set(key, hash);
      if (hash === undefined) held.delete(key);
      else held.set(key, hash);
      assert.equal(keyed.hex, generationDigest(held), `after step ${i}`);
      assert.equal(keyed.size, held.size);
    }
    assert.equal(new KeyedGenerationDigest(held).hex, keyed.hex, 'the same keys given at once');
  });
});
