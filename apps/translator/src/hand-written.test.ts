import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectKey, type KubeObject } from '@tendril/contract';
import { translate } from '@tendril/translation';
import { checkHandWritten } from './hand-written.js';

const config: KubeObject = {
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumEnvoyConfig',
  metadata: { name: 'edge', namespace: 'default', generation: 2 },
  spec: {
    resources: [
      // valid
      { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'good', type: 'EDS', connect_timeout: '1s' },
      // protoc-gen-validate: connect_timeout must be > 0
      { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'zero-timeout', type: 'EDS', connect_timeout: '0s' },
      // not a field of a Cluster
      { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'typo', type: 'EDS', conect_timeout: '1s' },
      // a route configuration whose virtual host has no domains (min_items: 1)
      { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'routes', virtual_hosts: [{ name: 'all', domains: [] }] },
    ],
  },
};
const key = objectKey({ cluster: 'c1', kind: 'ciliumenvoyconfig', namespace: 'default', name: 'edge' });
const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'default' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }] } };
const serviceKey = objectKey({ cluster: 'c1', kind: 'service', namespace: 'default', name: 'echo' });

test("resources breaking Envoy's rules are left out and reported on their config; the rest is served", () => {
  const output = checkHandWritten(translate({ cluster: 'c1', objects: [[key, config], [serviceKey, service]] }));
  assert.ok(output.xds.some((item) => item.name === 'default/edge/good'));
  assert.ok(!output.xds.some((item) => ['default/edge/zero-timeout', 'default/edge/typo', 'default/edge/routes'].includes(item.name)));

  const status = output.statuses.find((entry) => entry.key === key)!.status;
  const body = status.status as { conditions: { status: string; reason: string; observedGeneration?: number }[]; resources: string[]; errors: string[] };
  assert.deepEqual(body.resources, ['cluster default/edge/good']);
  assert.equal(body.errors.length, 3);
  assert.match(body.errors.find((line) => line.startsWith('cluster default/edge/zero-timeout'))!, /connectTimeout: must be longer than 0s/);
  assert.match(body.errors.find((line) => line.startsWith('cluster default/edge/typo'))!, /conect_timeout: unknown field/);
  assert.match(body.errors.find((line) => line.startsWith('route default/edge/routes'))!, /domains/);
  assert.deepEqual(body.conditions.map((c) => [c.status, c.reason, c.observedGeneration]), [['True', 'PartiallyAccepted', 2]]);
  assert.equal(output.errors.filter((error) => error.object === 'default/CiliumEnvoyConfig/edge').length, 3);
});

test('generated resources and valid configs pass through untouched', () => {
  const valid = { ...config, spec: { resources: [(config.spec as { resources: unknown[] }).resources[0]] } };
  const before = translate({ cluster: 'c1', objects: [[key, valid], [serviceKey, service]] });
  assert.equal(checkHandWritten(before), before);
});

test('a Service redirected to a refused listener keeps going to its backends, and the config says why', () => {
  const redirecting: KubeObject = {
    ...config,
    spec: {
      services: [{ name: 'echo' }],
      resources: [
        // Envoy requires a filter's name: the listener is refused
        { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'front', filter_chains: [{ filters: [{ name: '' }] }] },
      ],
    },
  };
  const translated = translate({ cluster: 'c1', objects: [[key, redirecting], [serviceKey, service]] });
  const port = translated.lb.find((entry) => entry.name === 'echo')!.l7Proxy?.port;
  assert.ok(port, 'translation redirects the Service to the listener');
  const output = checkHandWritten(translated);
  assert.equal(output.lb.find((entry) => entry.name === 'echo')!.l7Proxy, null);
  const errors = (output.statuses.find((entry) => entry.key === key)!.status.status as { errors: string[] }).errors;
  assert.ok(errors.some((line) => line.startsWith('listener default/edge/front: refused by Envoy')), errors.join('\n'));
  assert.ok(errors.includes(`lb default/echo: not redirected: its listener on port ${port} was refused`), errors.join('\n'));
});

test('routes and listeners using a refused cluster are refused with it, and the redirect to the listener is dropped', () => {
  const hcm = (route: string) => ({
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 'front',
      rds: { route_config_name: route },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    },
  });
  const routeTo = (name: string, cluster: string) => ({ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: cluster, weight: 1 }] } } }] }] });
  const chained: KubeObject = {
    ...config,
    spec: {
      services: [{ name: 'echo', listener: 'front' }],
      resources: [
        { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'good', type: 'EDS', connect_timeout: '1s' },
        { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'broken', type: 'EDS', connect_timeout: '0s' },
        routeTo('to-broken', 'broken'),
        routeTo('to-good', 'good'),
        { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'front', filter_chains: [{ filters: [hcm('to-broken')] }] },
        { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'side', filter_chains: [{ filters: [hcm('to-good')] }] },
        // a TCP proxy straight to the refused cluster
        { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'tcp', filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', cluster: 'broken' } }] }] },
      ],
    },
  };
  const translated = translate({ cluster: 'c1', objects: [[key, chained], [serviceKey, service]] });
  const port = translated.lb.find((entry) => entry.name === 'echo')!.l7Proxy?.port;
  assert.ok(port);
  const output = checkHandWritten(translated);
  assert.deepEqual(output.xds.filter((item) => item.objectKey === key).map((item) => `${item.type} ${item.name}`).sort(), ['cluster default/edge/good', 'listener default/edge/side', 'route default/edge/to-good']);
  const errors = (output.statuses.find((entry) => entry.key === key)!.status.status as { errors: string[] }).errors;
  assert.ok(errors.some((line) => line.startsWith('cluster default/edge/broken: refused by Envoy')), errors.join('\n'));
  assert.ok(errors.includes('route default/edge/to-broken: refused with cluster default/edge/broken, which it uses and which was refused'), errors.join('\n'));
  assert.ok(errors.includes('listener default/edge/front: refused with route default/edge/to-broken, which it uses and which was refused'), errors.join('\n'));
  assert.ok(errors.includes('listener default/edge/tcp: refused with cluster default/edge/broken, which it uses and which was refused'), errors.join('\n'));
  assert.equal(output.lb.find((entry) => entry.name === 'echo')!.l7Proxy, null, 'the Service is not sent to a listener that is not served');
  assert.ok(errors.includes(`lb default/echo: not redirected: its listener on port ${port} was refused`), errors.join('\n'));
});
