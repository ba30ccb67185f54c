import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkKey, decodeChunkedHead, encodeChunkedHead, isChunkKey, objectKey, parseChunkKey, sha256Hex, xdsKey } from './index.js';

describe('large values: chunk keys and heads', () => {
  const digest = sha256Hex(new TextEncoder().encode('value'));

  it('a chunk key names its head, digest and index, under the head key', () => {
    const head = objectKey({ cluster: 'c1', kind: 'ingress', namespace: 'default', name: 'paths' });
    const key = chunkKey(head, digest, 12);
    assert.ok(key.startsWith(`${head}.`), 'same prefix as its head, so key-class rights cover it');
    assert.deepEqual(parseChunkKey(key), { head, sha256: digest, index: 12 });
    const route = xdsKey({ type: 'route', name: 'default/cilium-ingress-paths/insecure' });
    assert.deepEqual(parseChunkKey(chunkKey(route, digest, 0))?.head, route);
  });

  it('no key of the contract is taken for a chunk', () => {
    for (const key of [
      objectKey({ cluster: 'c1', kind: 'service', namespace: 'default', name: 'chunk' }),
      xdsKey({ type: 'cluster', name: 'default/=chunk:80' }),
      'meta.generation',
    ]) {
      assert.equal(isChunkKey(key), false, key);
    }
  });

  it('a head round-trips; plain JSON and protobuf values are no heads; a damaged head is an error', () => {
    const head = { v: 1 as const, size: 3_000_000, sha256: digest, chunks: 3 };
    assert.deepEqual(decodeChunkedHead(encodeChunkedHead(head)), head);
    assert.equal(decodeChunkedHead(new TextEncoder().encode('{"kind":"Service"}')), undefined);
    assert.equal(decodeChunkedHead(new Uint8Array([0x0a, 0x03, 0x61, 0x62, 0x63])), undefined);
    const damaged = encodeChunkedHead(head).slice(0, -5);
    assert.throws(() => decodeChunkedHead(damaged));
  });
});
