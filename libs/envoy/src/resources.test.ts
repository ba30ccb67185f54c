import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeResource,
  discoveryRequestCodec,
  discoveryResponseCodec,
  encodeResource,
  packAny,
  unpackAny,
  validateResource,
} from './index.js';

const cluster = {
  name: 'default/echo/8080',
  type: 'EDS',
  connectTimeout: '2.500s',
  edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: 'default/echo/8080' },
  lbPolicy: 'LEAST_REQUEST',
  metadata: { filterMetadata: { tendril: { owner: 'default/echo', weight: 3, tags: ['a', null] } } },
  typedExtensionProtocolOptions: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicitHttpConfig: { http2ProtocolOptions: { maxConcurrentStreams: 100 } },
    },
  },
};

const assignment = {
  clusterName: 'default/echo/8080',
  endpoints: [
    {
      locality: { zone: 'a' },
      lbEndpoints: [
        { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 8080 } } }, loadBalancingWeight: 2 },
        { endpoint: { address: { socketAddress: { address: '127.0.0.2', portValue: 8080 } } }, healthStatus: 'DRAINING' },
      ],
    },
  ],
};

test('a cluster round-trips through bytes, Durations, Structs and nested Anys included', () => {
  const bytes = encodeResource('cluster', cluster);
  assert.deepEqual(decodeResource('cluster', bytes), cluster);
});

test('decodeResource accepts a type URL', () => {
  const bytes = encodeResource('endpoint', assignment);
  assert.deepEqual(decodeResource('type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', bytes), assignment);
});

test('encoding is deterministic: field and map key order of the input do not matter', () => {
  const reordered = Object.fromEntries(Object.entries(cluster).reverse());
  const shuffled = { ...reordered, metadata: { filterMetadata: { tendril: { weight: 3, tags: ['a', null], owner: 'default/echo' } } } };
  assert.deepEqual(encodeResource('cluster', shuffled), encodeResource('cluster', cluster));
});

test('proto3 defaults are not encoded, so explicit zero equals absent', () => {
  const withZero = { ...assignment, endpoints: [{ ...assignment.endpoints[0], priority: 0 }] };
  assert.deepEqual(encodeResource('endpoint', withZero), encodeResource('endpoint', assignment));
});

test('unknown fields are refused with their path', () => {
  assert.throws(() => encodeResource('cluster', { ...cluster, connectTimeOut: '1s' }), /Cluster\.connectTimeOut: unknown field/);
  const bad = { clusterName: 'x', endpoints: [{ lbEndpoints: [{ endpoint: { adress: {} } }] }] };
  assert.throws(() => encodeResource('endpoint', bad), /ClusterLoadAssignment\.endpoints\[0\]\.lbEndpoints\[0\]\.endpoint\.adress: unknown field/);
});

test('wrong types are refused with their path', () => {
  assert.throws(() => encodeResource('cluster', { ...cluster, connectTimeout: 5 }), /Cluster\.connectTimeout: expected a duration/);
  assert.throws(() => encodeResource('cluster', { ...cluster, lbPolicy: 'FASTEST' }), /Cluster\.lbPolicy: unknown LbPolicy value "FASTEST"/);
  const port = { clusterName: 'x', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: 'a', portValue: 'eighty' } } } }] }] };
  assert.throws(() => encodeResource('endpoint', port), /socketAddress\.portValue: expected an integer/);
  assert.throws(() => encodeResource('cluster', { name: 'x', type: 'EDS', clusterType: { name: 'y' } }), /oneof clusterDiscoveryType already set/);
});

test('an Any naming a type that is not loaded is refused', () => {
  const listener = { name: 'l', filterChains: [{ filters: [{ name: 'f', typedConfig: { '@type': 'type.googleapis.com/no.such.Type' } }] }] };
  assert.throws(() => encodeResource('listener', listener), /typedConfig\.@type: unknown type type\.googleapis\.com\/no\.such\.Type/);
});

test('a valid resource has no violations', () => {
  assert.deepEqual(validateResource('cluster', cluster), []);
  assert.deepEqual(validateResource('endpoint', assignment), []);
});

test('validation reports every protoc-gen-validate violation with its path', () => {
  const bad = {
    clusterName: '',
    endpoints: [
      {
        lbEndpoints: [
          { endpoint: { address: { socketAddress: { address: '', portValue: 70000 } } } },
          { endpoint: { address: { socketAddress: { address: '10.0.0.1' } } }, loadBalancingWeight: 0 },
        ],
      },
    ],
  };
  const violations = validateResource('endpoint', bad);
  assert.deepEqual(violations.sort(), [
    'ClusterLoadAssignment.clusterName: must be at least 1 characters long, is ""',
    'ClusterLoadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address: must be at least 1 characters long, is ""',
    'ClusterLoadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue: must be at most 65535, is 70000',
    'ClusterLoadAssignment.endpoints[0].lbEndpoints[1].endpoint.address.socketAddress: one of portValue, namedPort is required',
    'ClusterLoadAssignment.endpoints[0].lbEndpoints[1].loadBalancingWeight: must be at least 1, is 0',
  ]);
});

test('validation: durations, required messages, repeated min_items, enums inside Anys', () => {
  assert.deepEqual(validateResource('cluster', { name: 'c', connectTimeout: '0s' }), ['Cluster.connectTimeout: must be longer than 0s, is 0s']);
  const route = {
    name: 'r',
    virtualHosts: [
      { name: 'vh', domains: [], routes: [{ route: { cluster: 'c' } }, { match: { prefix: '/' }, route: { weightedClusters: { clusters: [] } } }] },
    ],
  };
  assert.deepEqual(validateResource('route', route).sort(), [
    'RouteConfiguration.virtualHosts[0].domains: needs at least 1 items, has 0',
    'RouteConfiguration.virtualHosts[0].routes[0].match: is required',
    'RouteConfiguration.virtualHosts[0].routes[1].route.weightedClusters.clusters: needs at least 1 items, has 0',
  ]);
  const listener = {
    name: 'l',
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              statPrefix: 'http',
              codecType: 99,
              rds: { routeConfigName: 'r', configSource: { ads: {} } },
              httpFilters: [{ name: 'router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          },
        ],
      },
    ],
  };
  assert.deepEqual(validateResource('listener', listener), [
    'Listener.filterChains[0].filters[0].typedConfig<envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager>.codecType: 99 is not a defined CodecType value',
  ]);
});

test('validation reports structural errors instead of throwing', () => {
  assert.deepEqual(validateResource('cluster', { name: 'c', bogus: 1 }), ['Cluster.bogus: unknown field of envoy.config.cluster.v3.Cluster']);
});

test('discovery messages round-trip through their codecs with Any resources', () => {
  const bytes = encodeResource('endpoint', assignment);
  const response = discoveryResponseCodec.decode(
    discoveryResponseCodec.encode({ versionInfo: 'v1', nonce: 'n1', typeUrl: packAny('endpoint', bytes).typeUrl, resources: [packAny('endpoint', bytes)] }),
  );
  assert.equal(response.versionInfo, 'v1');
  assert.equal(response.nonce, 'n1');
  assert.deepEqual(unpackAny(response.resources[0]!), { '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', ...assignment });
  const request = discoveryRequestCodec.decode(
    discoveryRequestCodec.encode({
      versionInfo: '',
      node: { id: 'node-1', cluster: 'c' },
      resourceNames: ['a', 'b'],
      typeUrl: 't',
      responseNonce: '',
      errorDetail: { code: 3, message: 'bad' },
    }),
  );
  assert.equal(request.node?.id, 'node-1');
  assert.deepEqual(request.resourceNames, ['a', 'b']);
  assert.equal(request.errorDetail?.message, 'bad');
});
