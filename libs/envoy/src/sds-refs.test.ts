import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVOY_TYPE_URLS, encodeResource, sdsSecretNames } from './index.js';

const DOWNSTREAM = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const sds = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
const hcm = {
  name: 'envoy.filters.network.http_connection_manager',
  typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    statPrefix: 'web',
    rds: { routeConfigName: 'r', configSource: { ads: {}, resourceApiVersion: 'V3' } },
    httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
  },
};

test('a listener needs the certificates and validation contexts of its filter chains, the default chain included', () => {
  const listener = encodeResource('listener', {
    name: 'ns/gw/443',
    address: { socketAddress: { address: '0.0.0.0', portValue: 10443 } },
    filterChains: [
      {
        filterChainMatch: { serverNames: ['a.example'] },
        filters: [hcm],
        transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': DOWNSTREAM, commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds('ns/a-cert'), sds('ns/b-cert')], validationContextSdsSecretConfig: sds('ns/gw/443/client-ca') } } },
      },
      { filterChainMatch: { serverNames: ['plain.example'] }, filters: [hcm] },
    ],
    defaultFilterChain: {
      filters: [hcm],
      transportSocket: {
        name: 'envoy.transport_sockets.tls',
        typedConfig: { '@type': DOWNSTREAM, commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds('ns/default-cert')], combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: sds('ns/ca') } } },
      },
    },
  });
  assert.deepEqual(sdsSecretNames(ENVOY_TYPE_URLS.listener, listener), ['ns/a-cert', 'ns/b-cert', 'ns/ca', 'ns/default-cert', 'ns/gw/443/client-ca']);
});

test('a cluster needs the secrets of its transport socket and of its transport socket matches', () => {
  const cluster = encodeResource('cluster', {
    name: 'ns/backend:443',
    type: 'EDS',
    edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } },
    transportSocket: { name: 'tls', typedConfig: { '@type': UPSTREAM, sni: 'backend', commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds('client-cert')], validationContextSdsSecretConfig: sds('backend-ca') } } },
    transportSocketMatches: [{ name: 'mtls', match: {}, transportSocket: { name: 'tls', typedConfig: { '@type': UPSTREAM, commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds('other-cert')] } } } }],
  });
  assert.deepEqual(sdsSecretNames(ENVOY_TYPE_URLS.cluster, cluster), ['backend-ca', 'client-cert', 'other-cert']);
});

test('plaintext listeners and clusters, and other types, need no secret', () => {
  const listener = encodeResource('listener', { name: 'l', address: { socketAddress: { address: '127.0.0.1', portValue: 10000 } }, filterChains: [{ filters: [hcm] }] });
  assert.deepEqual(sdsSecretNames(ENVOY_TYPE_URLS.listener, listener), []);
  const cluster = encodeResource('cluster', { name: 'c', type: 'EDS', edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } });
  assert.deepEqual(sdsSecretNames(ENVOY_TYPE_URLS.cluster, cluster), []);
  const secret = encodeResource('secret', { name: 's', tlsCertificate: { certificateChain: { inlineString: 'transport_sockets.tls.v3' } } });
  assert.deepEqual(sdsSecretNames(ENVOY_TYPE_URLS.secret, secret), []);
});
