import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareHostSpecificity, hostMatches, intersectHostnames, mostSpecificMatch } from './hostnames.js';

test('a wildcard covers one or more labels, never the bare domain', () => {
  assert.equal(hostMatches('*.example.com', 'foo.example.com'), true);
  assert.equal(hostMatches('*.example.com', 'a.b.example.com'), true);
  assert.equal(hostMatches('*.example.com', 'example.com'), false);
  assert.equal(hostMatches('*.example.com', 'fooexample.com'), false);
  assert.equal(hostMatches('*.example.com', '*.foo.example.com'), true);
  assert.equal(hostMatches('*.foo.example.com', '*.example.com'), false);
  assert.equal(hostMatches('', 'anything.org'), true);
  assert.equal(hostMatches('foo.example.com', 'bar.example.com'), false);
});

test('route hostnames are intersected with the listener hostname, keeping the more specific name', () => {
  // the cases of the spec's HTTPRoute hostnames documentation
  assert.deepEqual(intersectHostnames('very.specific.com', ['very.specific.com']), ['very.specific.com']);
  assert.deepEqual(intersectHostnames('*.specific.com', ['very.specific.com']), ['very.specific.com']);
  assert.deepEqual(intersectHostnames('very.specific.com', ['*.specific.com']), ['very.specific.com']);
  assert.deepEqual(intersectHostnames('*.wildcard.io', ['*.wildcard.io']), ['*.wildcard.io']);
  assert.deepEqual(intersectHostnames('*.foo.wildcard.io', ['*.wildcard.io']), ['*.foo.wildcard.io']);
  assert.deepEqual(intersectHostnames('', ['a.example.com', 'b.example.com']), ['a.example.com', 'b.example.com']);
  assert.deepEqual(intersectHostnames('*.example.com', []), ['*.example.com']);
  assert.deepEqual(intersectHostnames('', []), ['']);
  // no intersection: the route is refused with NoMatchingListenerHostname
  assert.deepEqual(intersectHostnames('foo.example.com', ['bar.example.com', '*.other.org']), []);
  assert.deepEqual(intersectHostnames('*.example.com', ['example.com']), []);
});

test('specificity: exact before wildcard, longer first, any host last', () => {
  const sorted = ['', '*.com', 'a.example.com', '*.example.com', 'example.com'].sort(compareHostSpecificity);
  assert.deepEqual(sorted, ['a.example.com', 'example.com', '*.example.com', '*.com', '']);
  assert.equal(mostSpecificMatch(['', '*.example.com', 'foo.example.com'], 'foo.example.com'), 'foo.example.com');
  assert.equal(mostSpecificMatch(['', '*.example.com', 'foo.example.com'], 'bar.example.com'), '*.example.com');
  assert.equal(mostSpecificMatch(['*.example.com'], 'example.org'), undefined);
});
