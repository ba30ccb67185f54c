// The IR -> Envoy emitters on everything the IR can say (more than Ingress uses today: Gateway API
// will): each feature shows up where Envoy expects it, and Envoy's own validation rules accept it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeResource, encodeResource, validateResource } from '@tendril/envoy';
import type { ClusterIR, ListenerIR, RouteIR, SecretIR } from '@tendril/model';
import { desiredCluster, desiredListener, desiredRouteConfiguration, desiredSecret } from './index.js';

const source = { kind: 'HTTPRoute', namespace: 'default', name: 'every-feature' };
const get = (value: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)?.[key], value);

const route: RouteIR = {
  name: 'default/gw/http/80',
  source,
  virtualHosts: [
    {
      name: 'shop',
      domains: ['shop.example.com', '*.shop.example.com'],
      requireTls: true,
      routes: [
        {
          name: 'split',
          match: { path: { kind: 'segment-prefix', value: '/cart/' }, headers: [{ name: 'x-canary', kind: 'exact', value: '1' }, { name: 'x-debug', kind: 'present', invert: true }], queryParameters: [{ name: 'v', kind: 'regex', value: '^[0-9]+$' }], method: 'POST' },
          action: {
            kind: 'forward',
            backends: [
              { clusterName: 'default/cart:80', weight: 75, requestHeaders: { set: [{ name: 'x-variant', value: 'a' }], add: [], remove: [] } },
              { clusterName: 'default/cart-v2:80', weight: 25 },
              { clusterName: 'default/cart-old:80', weight: 0 },
            ],
            timeoutMs: 2500,
            retry: { retryOn: ['5xx', 'reset'], numRetries: 3, perTryTimeoutMs: 500 },
            mirrors: [{ clusterName: 'default/shadow:80', percent: 10 }],
            rewrite: { pathPrefix: '/basket/', hostname: 'cart.internal' },
          },
          requestHeaders: { set: [{ name: 'x-env', value: 'prod' }], add: [{ name: 'x-trace', value: 'on' }], remove: ['x-secret'] },
          responseHeaders: { set: [], add: [], remove: ['server'] },
        },
        { name: 'grpc', match: { path: { kind: 'exact', value: '/shop.Cart/Get' }, grpc: true }, action: { kind: 'forward', backends: [{ clusterName: 'default/cart:80', weight: 1 }], rewrite: { fullPath: '/v2/get' } } },
        { name: 'moved', match: { path: { kind: 'regex', value: '/old/.*' } }, action: { kind: 'redirect', scheme: 'https', hostname: 'new.example.com', port: 8443, pathPrefix: '/new/', statusCode: 308 } },
        { name: 'teapot', match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'direct-response', status: 418, body: 'short and stout' } },
      ],
    },
  ],
};

const listener: ListenerIR = {
  name: 'default/gw/tls/443',
  kind: 'socket',
  address: '::',
  port: 443,
  source,
  filterChains: [
    { name: 'https', match: { serverNames: ['shop.example.com'], transportProtocol: 'tls' }, tls: { secretNames: ['default/shop-cert', 'default/shop-ecdsa'] }, action: { kind: 'http', routeName: 'default/gw/http/80', statPrefix: 'gw-https' } },
    { name: 'db', match: { serverNames: ['db.example.com'], transportProtocol: 'tls' }, action: { kind: 'tcp', statPrefix: 'gw-db', backends: [{ clusterName: 'default/db:5432', weight: 9 }, { clusterName: 'default/db-new:5432', weight: 1 }] } },
  ],
};

const cluster: ClusterIR = {
  name: 'default/cart:80',
  discovery: 'EDS',
  connectTimeoutMs: 1500,
  lbPolicy: 'RING_HASH',
  protocol: 'GRPC',
  upstreamTls: { sni: 'cart.internal' },
  outlierDetection: { consecutive5xx: 5, intervalMs: 10000, baseEjectionTimeMs: 30000, maxEjectionPercent: 50 },
  source,
};

const secret: SecretIR = { name: 'default/shop-cert', certificateChain: '-----BEGIN CERTIFICATE-----\n', privateKey: '-----BEGIN PRIVATE KEY-----\n', source };

test('a route configuration with every route feature is valid for Envoy and says what the IR says', () => {
  const resource = desiredRouteConfiguration(route);
  assert.deepEqual(validateResource('route', resource), []);
  const host = get(resource, 'virtualHosts', 0);
  assert.equal(get(host, 'requireTls'), 'ALL');
  const split = get(host, 'routes', 0);
  assert.deepEqual(get(split, 'match'), {
    pathSeparatedPrefix: '/cart',
    headers: [{ name: 'x-canary', stringMatch: { exact: '1' } }, { name: 'x-debug', presentMatch: true, invertMatch: true }, { name: ':method', stringMatch: { exact: 'POST' } }],
    queryParameters: [{ name: 'v', stringMatch: { safeRegex: { regex: '^[0-9]+$' } } }],
  });
  const action = get(split, 'route') as Record<string, unknown>;
  assert.deepEqual(get(action, 'weightedClusters', 'clusters'), [
    { name: 'default/cart:80', weight: 75, requestHeadersToAdd: [{ header: { key: 'x-variant', value: 'a' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }] },
    { name: 'default/cart-v2:80', weight: 25 },
  ]);
  assert.equal(action['timeout'], '2.500s');
  assert.deepEqual(action['retryPolicy'], { retryOn: '5xx,reset', numRetries: 3, perTryTimeout: '0.500s' });
  assert.deepEqual(action['requestMirrorPolicies'], [{ cluster: 'default/shadow:80', runtimeFraction: { defaultValue: { numerator: 10, denominator: 'HUNDRED' } } }]);
  // Whole-segment prefixes are replaced segment-wise (Gateway API's ReplacePrefixMatch): /cart/x -> /basket/x.
  assert.equal(action['prefixRewrite'], '/basket');
  assert.equal(action['hostRewriteLiteral'], 'cart.internal');
  assert.deepEqual(get(split, 'requestHeadersToRemove'), ['x-secret']);
  assert.deepEqual(get(split, 'responseHeadersToRemove'), ['server']);
  assert.equal((get(split, 'requestHeadersToAdd') as unknown[]).length, 2);
  assert.deepEqual(get(host, 'routes', 1, 'match'), { path: '/shop.Cart/Get', grpc: {} });
  assert.deepEqual(get(host, 'routes', 1, 'route', 'regexRewrite'), { pattern: { regex: '^/.*$' }, substitution: '/v2/get' });
  assert.deepEqual(get(host, 'routes', 2, 'redirect'), { responseCode: 'PERMANENT_REDIRECT', schemeRedirect: 'https', hostRedirect: 'new.example.com', portRedirect: 8443, prefixRewrite: '/new/' });
  assert.deepEqual(get(host, 'routes', 3, 'directResponse'), { status: 418, body: { inlineString: 'short and stout' } });
});

test('a listener with TLS termination by SNI and a weighted TCP proxy is valid for Envoy', () => {
  const resource = desiredListener(listener);
  assert.deepEqual(validateResource('listener', resource), []);
  assert.equal(get(resource, 'listenerFilters', 0, 'name'), 'envoy.filters.listener.tls_inspector');
  assert.deepEqual(
    (get(resource, 'filterChains', 0, 'transportSocket', 'typedConfig', 'commonTlsContext', 'tlsCertificateSdsSecretConfigs') as { name: string }[]).map((config) => config.name),
    ['default/shop-cert', 'default/shop-ecdsa'],
  );
  assert.deepEqual(get(resource, 'filterChains', 1, 'filters', 0, 'typedConfig', 'weightedClusters'), { clusters: [{ name: 'default/db:5432', weight: 9 }, { name: 'default/db-new:5432', weight: 1 }] });
});

test('socket listeners log HTTP requests and TCP connections to the gRPC access log service; API listeners do not', () => {
  const resource = desiredListener(listener);
  // Through Envoy's protos and back: the access loggers' Anys decode, and their PGV rules hold.
  const decoded = decodeResource('listener', encodeResource('listener', resource));
  const logOf = (chain: number) => get(decoded, 'filterChains', chain, 'filters', 0, 'typedConfig', 'accessLog');
  const common = { logName: 'default/gw/tls/443', grpcService: { envoyGrpc: { clusterName: 'tendril-als' } }, transportApiVersion: 'V3' };
  assert.deepEqual(logOf(0), [{ name: 'envoy.access_loggers.http_grpc', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig', commonConfig: common } }]);
  assert.deepEqual(logOf(1), [{ name: 'envoy.access_loggers.tcp_grpc', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig', commonConfig: common } }]);

  const elsewhere = desiredListener(listener, { alsCluster: 'node-als' });
  assert.deepEqual(validateResource('listener', elsewhere), []);
  assert.equal(get(elsewhere, 'filterChains', 1, 'filters', 0, 'typedConfig', 'accessLog', 0, 'typedConfig', 'commonConfig', 'grpcService', 'envoyGrpc', 'clusterName'), 'node-als');

  const off = desiredListener(listener, { alsCluster: '' });
  assert.equal(get(off, 'filterChains', 0, 'filters', 0, 'typedConfig', 'accessLog'), undefined);
  assert.equal(get(off, 'filterChains', 1, 'filters', 0, 'typedConfig', 'accessLog'), undefined);

  const api: ListenerIR = { name: 'cart.default.svc.cluster.local:80', kind: 'api', address: '', port: 0, source, filterChains: [{ name: 'api', match: { serverNames: [] }, action: { kind: 'http', routeName: 'cart:80', statPrefix: 'cart' } }] };
  const proxyless = desiredListener(api);
  assert.deepEqual(validateResource('listener', proxyless), []);
  assert.equal(get(proxyless, 'apiListener', 'apiListener', 'rds', 'routeConfigName'), 'cart:80');
  assert.equal(get(proxyless, 'apiListener', 'apiListener', 'accessLog'), undefined);
});

test('a cluster with ring hash, HTTP/2, upstream TLS and outlier detection is valid for Envoy', () => {
  const resource = desiredCluster(cluster);
  assert.deepEqual(validateResource('cluster', resource), []);
  assert.equal(resource['lbPolicy'], 'RING_HASH');
  assert.equal(get(resource, 'transportSocket', 'typedConfig', 'sni'), 'cart.internal');
  assert.deepEqual(resource['outlierDetection'], { consecutive_5xx: 5, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 });
  for (const policy of ['LEAST_REQUEST', 'RANDOM', 'MAGLEV'] as const) {
    const other = desiredCluster({ ...cluster, lbPolicy: policy });
    assert.deepEqual(validateResource('cluster', other), [], policy);
    assert.equal(other['lbPolicy'], undefined, `${policy} goes in load_balancing_policy, which gRPC reads`);
    assert.equal(get(other, 'loadBalancingPolicy', 'policies', 1, 'typedExtensionConfig', 'name'), 'envoy.load_balancing_policies.round_robin');
  }
});

test('a secret is valid for Envoy', () => {
  assert.deepEqual(validateResource('secret', desiredSecret(secret)), []);
});

test('upstream TLS that checks the backend (BackendTLSPolicy: CA or system roots, SANs) is valid for Envoy and survives encoding', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const checked = desiredCluster({ ...cluster, upstreamTls: { sni: 'secure.example.com', validation: { trustedCa: { kind: 'pem', pem }, subjectAltNames: [{ kind: 'DNS', value: 'secure.example.com' }, { kind: 'URI', value: 'spiffe://cluster.local/ns/a/sa/b' }] } } });
  assert.deepEqual(validateResource('cluster', checked), []);
  const decoded = decodeResource('cluster', encodeResource('cluster', checked));
  const validation = get(decoded, 'transportSocket', 'typedConfig', 'commonTlsContext', 'validationContext');
  assert.deepEqual(get(validation, 'trustedCa', 'inlineString'), pem);
  assert.deepEqual(get(validation, 'matchTypedSubjectAltNames'), [
    { sanType: 'DNS', matcher: { exact: 'secure.example.com' } },
    { sanType: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/a/sa/b' } },
  ]);
  assert.equal(get(decoded, 'transportSocket', 'typedConfig', 'sni'), 'secure.example.com');
  const system = desiredCluster({ ...cluster, upstreamTls: { sni: 'public.example.com', validation: { trustedCa: { kind: 'system' }, subjectAltNames: [{ kind: 'DNS', value: 'public.example.com' }] } } });
  assert.deepEqual(validateResource('cluster', system), []);
  assert.equal(get(decodeResource('cluster', encodeResource('cluster', system)), 'transportSocket', 'typedConfig', 'commonTlsContext', 'validationContext', 'trustedCa', 'filename'), '/etc/ssl/certs/ca-certificates.crt');
});
