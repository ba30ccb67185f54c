import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteMatchView } from '../../kube/routes.js';
import { compareMatches, type RankedMatch } from './precedence.js';

function ranked(label: string, match: Partial<RouteMatchView>, extra: Partial<RankedMatch> = {}): RankedMatch & { label: string } {
  return {
    label,
    host: '',
    match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [], ...match },
    creationTimestamp: '2026-01-01T00:00:00Z',
    namespace: 'default',
    name: 'route',
    ruleIndex: 0,
    matchIndex: 0,
    ...extra,
  };
}

const order = (items: (RankedMatch & { label: string })[]) => [...items].sort(compareMatches).map((item) => item.label);

test('Exact before the longest prefix, before shorter prefixes; trailing slashes do not lengthen a prefix', () => {
  const items = [
    ranked('prefix /', {}),
    ranked('prefix /match/', { path: { type: 'PathPrefix', value: '/match/' } }),
    ranked('prefix /match/prefix/one', { path: { type: 'PathPrefix', value: '/match/prefix/one' } }),
    ranked('exact /match', { path: { type: 'Exact', value: '/match' } }),
    ranked('prefix /matc', { path: { type: 'PathPrefix', value: '/matc' } }, { name: 'a' }),
    ranked('regex', { path: { type: 'RegularExpression', value: '/m.*' } }),
  ];
  assert.deepEqual(order(items), ['exact /match', 'regex', 'prefix /match/prefix/one', 'prefix /match/', 'prefix /matc', 'prefix /']);
});

test('on equal paths: method, then more headers, then more query parameters', () => {
  const header = { type: 'Exact' as const, name: 'version', value: 'one' };
  const items = [
    ranked('plain', {}),
    ranked('two headers', { headers: [header, { ...header, name: 'color' }] }),
    ranked('one header', { headers: [header] }),
    ranked('query', { queryParams: [header] }),
    ranked('method', { method: 'GET' }),
  ];
  assert.deepEqual(order(items), ['method', 'two headers', 'one header', 'query', 'plain']);
});

test('ties across routes: oldest first, then namespace/name, then rule and match order', () => {
  const items = [
    ranked('newer', {}, { creationTimestamp: '2026-02-01T00:00:00Z', name: 'a' }),
    ranked('older b', {}, { name: 'b' }),
    ranked('older a rule 1', {}, { name: 'a', ruleIndex: 1 }),
    ranked('older a rule 0 match 1', {}, { name: 'a', matchIndex: 1 }),
    ranked('older a rule 0', {}, { name: 'a' }),
  ];
  assert.deepEqual(order(items), ['older a rule 0', 'older a rule 0 match 1', 'older a rule 1', 'older b', 'newer']);
});

test('a more specific matching hostname wins over any path precedence', () => {
  const items = [ranked('wildcard host, exact path', { path: { type: 'Exact', value: '/x' } }, { host: '*.example.com' }), ranked('exact host, prefix /', {}, { host: 'foo.example.com' })];
  assert.deepEqual(order(items), ['exact host, prefix /', 'wildcard host, exact path']);
});
