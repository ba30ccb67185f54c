import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ObjectStatus } from '@tendril/contract';
import { emptyIR, type MeshIR } from '@tendril/model';
import { translate, withProxyRejections, type ProxyRejection, type StatusOutput } from './index.js';
import { TEST_CLUSTER, manifestObjects } from './testing/golden.js';

const testdata = (name: string) => readFileSync(fileURLToPath(new URL(`../testdata/${name}.in.yaml`, import.meta.url)), 'utf8');
const translated = (name: string) => translate({ cluster: TEST_CLUSTER, objects: manifestObjects(testdata(name)) });
const options = { cluster: TEST_CLUSTER };

test('no rejection leaves the statuses as they are', () => {
  const output = translated('envoy-config-l7-lb');
  assert.equal(withProxyRejections(output.statuses, output.ir, [], options).statuses, output.statuses);
});

test('a CiliumEnvoyConfig lists its rejected resources among the refused, with Envoy message and the proxy count', () => {
  const output = translated('envoy-config-l7-lb');
  const listener = 'default/envoy-lb/envoy-lb-listener';
  const rejections: ProxyRejection[] = [
    { type: 'listener', name: listener, nodeId: 'node-b', error: `Error adding/updating listener(s) ${listener}: cannot bind` },
    { type: 'listener', name: listener, nodeId: 'node-a', error: `Error adding/updating listener(s) ${listener}: cannot bind` },
    { type: 'cluster', name: 'default/unrelated', nodeId: 'node-a', error: 'not ours' },
  ];
  const { statuses, notes } = withProxyRejections(output.statuses, output.ir, rejections, options);
  const key = output.statuses.find((entry) => entry.status.kind === 'CiliumEnvoyConfig')!.key;
  const before = output.statuses.find((entry) => entry.key === key)!.status.status as { resources: string[] };
  const after = statuses.find((entry) => entry.key === key)!.status.status as { resources: string[]; errors: string[]; conditions: { reason: string }[] };
  assert.ok(before.resources.includes(`listener ${listener}`));
  assert.ok(!after.resources.includes(`listener ${listener}`));
  assert.deepEqual(after.errors, [`listener ${listener}: rejected by 2 proxies: Error adding/updating listener(s) ${listener}: cannot bind`]);
  assert.equal(after.conditions[0]!.reason, 'PartiallyAccepted');
  assert.deepEqual(notes, [], 'a rejection of a resource no object generated is left out');
});

test('an Ingress has no conditions: its rejections (its own, or of a cluster its routes use) come back as notes', () => {
  const output = translated('ingress-basic');
  const routeName = output.ir.routes[0]!.name;
  const cluster = output.ir.clusters.find((item) => item.name.includes('details'))!.name;
  const { statuses, notes } = withProxyRejections(output.statuses, output.ir, [{ type: 'cluster', name: cluster, nodeId: 'n1', error: 'bad cluster' }], options);
  assert.equal(JSON.stringify(statuses), JSON.stringify(output.statuses));
  assert.deepEqual(
    notes.map((note) => [note.key.split('.')[1], note.message]),
    [
      ['ingress', `rejected by 1 proxy: bad cluster (cluster ${cluster})`],
      ['service', `rejected by 1 proxy: bad cluster (cluster ${cluster})`],
    ],
  );
  const own = withProxyRejections(output.statuses, output.ir, [{ type: 'route', name: routeName, nodeId: 'n1', error: 'bad regex' }], options);
  assert.deepEqual(own.notes.map((note) => note.message), [`rejected by 1 proxy: bad regex (route ${routeName})`]);
});

/** A Gateway with one listener and route configuration, and an HTTPRoute attached to it and to another controller's Gateway. */
function gatewayCase(): { ir: MeshIR; statuses: StatusOutput[] } {
  const ir = emptyIR();
  const gateway = { kind: 'Gateway', namespace: 'default', name: 'gw' };
  ir.listeners.push({ name: 'default/gw/http', kind: 'socket', address: '0.0.0.0', port: 10080, source: gateway, filterChains: [{ name: 'http', match: { serverNames: [] }, action: { kind: 'http', routeName: 'default/gw/http/80', statPrefix: 'gw' } }] });
  ir.routes.push({
    name: 'default/gw/http/80',
    source: gateway,
    virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ name: 'default/HTTPRoute/web/spec.rules[0].matches[0]', match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'forward', backends: [{ clusterName: 'default/echo:80', weight: 1 }] } }] }],
  });
  ir.clusters.push({ name: 'default/echo:80', discovery: 'EDS', connectTimeoutMs: 5000, lbPolicy: 'ROUND_ROBIN', protocol: 'HTTP1', source: { kind: 'Service', namespace: 'default', name: 'echo' } });
  const status = (kind: string, name: string, body: Record<string, unknown>): StatusOutput => ({
    key: `${TEST_CLUSTER}.${kind.toLowerCase()}.default.${name}`,
    status: { v: 1, apiVersion: 'gateway.networking.k8s.io/v1', kind, namespace: 'default', name, observedGeneration: 2, status: body } satisfies ObjectStatus,
  });
  const accepted = { type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 2 };
  return {
    ir,
    statuses: [
      status('Gateway', 'gw', { conditions: [accepted, { type: 'Programmed', status: 'True', reason: 'Programmed', message: '', observedGeneration: 2 }], listeners: [] }),
      status('HTTPRoute', 'web', {
        parents: [
          { parentRef: { name: 'gw' }, controllerName: 'io.cilium/gateway-controller', conditions: [accepted] },
          { parentRef: { name: 'theirs' }, controllerName: 'example.com/other', conditions: [accepted] },
        ],
      }),
      status('HTTPRoute', 'idle', { parents: [{ parentRef: { name: 'gw' }, controllerName: 'io.cilium/gateway-controller', conditions: [accepted] }] }),
    ],
  };
}

test("a rejected Gateway route configuration makes the Gateway and its routes' parent entries Programmed=False", () => {
  const { ir, statuses } = gatewayCase();
  const error = 'Proto constraint validation failed: invalid regex';
  const rejections: ProxyRejection[] = ['n1', 'n2', 'n3'].map((nodeId) => ({ type: 'route', name: 'default/gw/http/80', nodeId, error }));
  const out = withProxyRejections(statuses, ir, rejections, options).statuses;
  const gateway = out[0]!.status.status as { conditions: Record<string, unknown>[] };
  assert.deepEqual(gateway.conditions[1], { type: 'Programmed', status: 'False', reason: 'Invalid', message: `rejected by 3 proxies: ${error} (route default/gw/http/80)`, observedGeneration: 2 });
  assert.deepEqual(gateway.conditions[0], (statuses[0]!.status.status as { conditions: unknown[] }).conditions[0], 'Accepted untouched');
  const route = out[1]!.status.status as { parents: { conditions: Record<string, unknown>[] }[] };
  assert.deepEqual(route.parents[0]!.conditions.map((c) => [c['type'], c['status'], c['reason']]), [
    ['Accepted', 'True', 'Accepted'],
    ['Programmed', 'False', 'RejectedByProxy'],
  ]);
  assert.deepEqual(route.parents[1], (statuses[1]!.status.status as { parents: unknown[] }).parents[1], "another controller's entry is left alone");
});

test('a rejected backend cluster marks the Gateway and the route whose rules use it, not every route attached to it', () => {
  const { ir, statuses } = gatewayCase();
  const { statuses: out, notes } = withProxyRejections(statuses, ir, [{ type: 'cluster', name: 'default/echo:80', nodeId: 'n1', error: 'bad' }], options);
  assert.equal((out[0]!.status.status as { conditions: { status: string }[] }).conditions[1]!.status, 'False');
  const web = out[1]!.status.status as { parents: { conditions: Record<string, unknown>[] }[] };
  assert.deepEqual(web.parents[0]!.conditions[1], { type: 'Programmed', status: 'False', reason: 'RejectedByProxy', message: 'rejected by 1 proxy: bad (cluster default/echo:80)', observedGeneration: 2 });
  assert.equal(out[2], statuses[2], 'a route without rules using the cluster is left alone');
  assert.deepEqual(notes.map((note) => note.key), [`${TEST_CLUSTER}.service.default.echo`]);
});
