import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rejectedResources } from './rejected.js';

test('a message naming none of the candidates rejects them all', () => {
  assert.deepEqual(rejectedResources(['b', 'a'], 'Proto constraint validation failed'), ['a', 'b']);
});

test("Envoy's listener and cluster messages narrow the list to the names they mention", () => {
  const listeners = ['default/a/l', 'default/b/l', 'default/c/l'];
  assert.deepEqual(rejectedResources(listeners, "Error adding/updating listener(s) default/b/l: cannot bind '127.0.0.1:10001': Address already in use"), ['default/b/l']);
  assert.deepEqual(rejectedResources(listeners, "Error adding/updating listener(s) 'default/a/l': x\ndefault/c/l: y."), ['default/a/l', 'default/c/l']);
});

test('a name is not found inside a longer one', () => {
  assert.deepEqual(rejectedResources(['default/echo:80', 'default/echo:8080'], 'cluster default/echo:8080: bad'), ['default/echo:8080']);
  assert.deepEqual(rejectedResources(['default/echo', 'default/echo:80'], 'cluster default/echo:80 refused'), ['default/echo:80']);
  assert.deepEqual(rejectedResources(['default/a', 'default/a/l'], 'listener default/a/l: bad'), ['default/a/l']);
  // Only a longer name mentioned, and not a candidate: nothing is named, so all are rejected.
  assert.deepEqual(rejectedResources(['default/a', 'x'], 'listener default/a/l: bad'), ['default/a', 'x']);
});
