import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectorMatches, type ListenerView } from '../../kube/gateway-api.js';
import type { ParentRefView, RouteView } from '../../kube/routes.js';
import { attachToGateway } from './attach.js';
import type { GatewayState, ListenerState } from './gateways.js';

const HTTP_ROUTE = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' };

function listener(name: string, port: number, extra: Partial<ListenerView> = {}, kinds = [HTTP_ROUTE]): ListenerState {
  return { view: { name, port, hostname: '', protocol: 'HTTP', allowedRoutes: { from: 'Same' }, at: `spec.listeners[${name}]`, ...extra }, family: 'http', supportedKinds: kinds, secretNames: [], attachedRoutes: new Set() };
}

function gateway(listeners: ListenerState[]): GatewayState {
  const source = { kind: 'Gateway', namespace: 'infra', name: 'gw' };
  return { object: {}, apiVersion: 'gateway.networking.k8s.io/v1', listeners, listenerSets: [], view: { key: 'k', source, namespace: 'infra', name: 'gw', generation: 4, creationTimestamp: '', labels: {}, className: 'cilium', addresses: [], listeners: listeners.map((l) => l.view) } };
}

function route(namespace: string, hostnames: string[] = []): RouteView {
  return { key: `c.httproute.${namespace}.r`, source: { kind: 'HTTPRoute', namespace, name: 'r' }, namespace, name: 'r', generation: 7, creationTimestamp: '', labels: {}, kind: 'HTTPRoute', parentRefs: [], hostnames, rules: [] };
}

const parent = (extra: Partial<ParentRefView> = {}): ParentRefView => ({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'infra', echo: {}, ...extra });

test('selectors: matchLabels and every matchExpressions operator', () => {
  const labels = { team: 'a', tier: 'web' };
  assert.equal(selectorMatches({ matchLabels: { team: 'a' }, matchExpressions: [] }, labels), true);
  assert.equal(selectorMatches({ matchLabels: { team: 'b' }, matchExpressions: [] }, labels), false);
  assert.equal(selectorMatches({ matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, labels), true);
  assert.equal(selectorMatches({ matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels), false);
  assert.equal(selectorMatches({ matchLabels: {}, matchExpressions: [{ key: 'env', operator: 'Exists', values: [] }] }, labels), false);
  assert.equal(selectorMatches({ matchLabels: {}, matchExpressions: [{ key: 'env', operator: 'DoesNotExist', values: [] }] }, labels), true);
});

test('a parentRef attaches to the listeners it names that allow the route and share a hostname', () => {
  const open = listener('open', 80, { allowedRoutes: { from: 'All' }, hostname: '*.example.com' });
  const same = listener('same', 80);
  const selected = listener('selected', 8080, { allowedRoutes: { from: 'Selector', selector: { matchLabels: { team: 'a' }, matchExpressions: [] } } });
  const labels = new Map([['apps', { team: 'a' }]]);
  const gw = gateway([open, same, selected]);

  const all = attachToGateway(route('apps', ['foo.example.com', 'foo.example.org']), parent(), gw, labels);
  assert.deepEqual(all.attachments.map((a) => [a.listener.view.name, a.hosts]), [['open', ['foo.example.com']], ['selected', ['foo.example.com', 'foo.example.org']]]);
  assert.deepEqual([all.accepted.status, all.accepted.reason, all.accepted.observedGeneration], ['True', 'Accepted', 7]);

  const byPort = attachToGateway(route('apps'), parent({ port: 8080 }), gw, labels);
  assert.deepEqual(byPort.attachments.map((a) => a.listener.view.name), ['selected']);
});

test('refusals say which step failed', () => {
  const gw = gateway([listener('same', 80, { hostname: 'foo.example.com' }), listener('tls-only', 443, {}, [{ group: 'gateway.networking.k8s.io', kind: 'TLSRoute' }])]);
  const reason = (r: RouteView, p: ParentRefView) => attachToGateway(r, p, gw, new Map()).accepted.reason;
  assert.equal(reason(route('infra'), parent({ sectionName: 'nope' })), 'NoMatchingParent');
  assert.equal(reason(route('infra'), parent({ sectionName: 'same', port: 443 })), 'NoMatchingParent');
  assert.equal(reason(route('other'), parent({ sectionName: 'same' })), 'NotAllowedByListeners');
  assert.equal(reason(route('infra'), parent({ sectionName: 'tls-only' })), 'NotAllowedByListeners');
  assert.equal(reason(route('infra', ['bar.example.com']), parent()), 'NoMatchingListenerHostname');
  const notAccepted = { ...gw, notAccepted: ['InvalidParameters', 'no'] as [string, string] };
  assert.equal(attachToGateway(route('infra'), parent(), notAccepted, new Map()).accepted.reason, 'NoMatchingParent');
});
