import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '@tendril/contract';
import { InputDigest } from './record.js';

/** The digest of a set of objects, each added once. */
function inputDigest(objects: Iterable<readonly [string, KubeObject]>): string {
  const digest = new InputDigest();
  for (const [key, object] of objects) digest.change(key, undefined, object);
  return digest.hex;
}

const object = (name: string, port: number): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port }] } }) as unknown as KubeObject;

test('inputDigest: order-independent, equal for equal content whether hashed before or not, different when an object changes', () => {
  const a = object('a', 80);
  const b = object('b', 81);
  const digest = inputDigest([['v1/Service/default/a', a], ['v1/Service/default/b', b]]);
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.equal(inputDigest([['v1/Service/default/b', b], ['v1/Service/default/a', a]]), digest);
  // fresh copies (never hashed) of the same content: the same digest as the objects hashed above
  assert.equal(inputDigest([['v1/Service/default/a', object('a', 80)], ['v1/Service/default/b', object('b', 81)]]), digest);
  // a changed object is a new object (the KV mirror replaces it): a new digest
  assert.notEqual(inputDigest([['v1/Service/default/a', a], ['v1/Service/default/b', object('b', 82)]]), digest);
  assert.notEqual(inputDigest([['v1/Service/default/a', a]]), digest);
});

test('InputDigest kept up to date change by change (objects replaced and deleted) equals the digest of the objects held, added once each', () => {
  const running = new InputDigest();
  const held = new Map<string, KubeObject>();
  for (let i = 0; i < 60; i++) {
    const key = `v1/Service/default/s${i % 7}`;
    const previous = held.get(key);
    const value = i % 4 === 3 ? undefined : object(`s${i % 7}`, 80 + (i % 5));
    running.change(key, previous, value);
    if (value) held.set(key, value);
    else held.delete(key);
    assert.equal(running.hex, inputDigest(held), `after change ${i}`);
  }
});
