/**
 * The resolver on small hand-written configurations: each Envoy rule it models has a case that fails
 * when the rule is wrong (a different order, a missing condition, a swapped default).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LbService } from '@tendril/contract';
import { Headers } from './headers.js';
import {
  applyHeaderMutations,
  endpointsOf,
  headerMatches,
  redirectLocation,
  resolveHttp,
  resolveTls,
  routeMatches,
  selectFilterChain,
  selectVirtualHost,
  splitPath,
  type EnvoyConfig,
  type ProxyRequest,
} from './envoy-resolver.js';

type Plain = Record<string, unknown>;
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function lbEntry(ports: number[], proxy: { port: number; frontendPorts?: Record<string, number> }): LbService {
  return {
    v: 1,
    cluster: 'c1',
    namespace: 'ns',
    name: 'cilium-gateway-gw',
    frontends: ports.map((port) => ({ address: '127.101.0.1', port, protocol: 'TCP' as const, portName: String(port), scope: 'LoadBalancer' as const })),
    backends: [],
    algorithm: 'random',
    affinity: null,
    l7Proxy: proxy,
  };
}

const hcmChain = (name: string, routeConfigName: string, match: Plain = {}, extra: Plain = {}): Plain => ({
  name,
  filterChainMatch: match,
  filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, rds: { routeConfigName }, httpFilters: [{ name: 'envoy.filters.http.router' }] } }],
  ...extra,
});

function config(routes: Plain[], options: { chains?: Plain[]; clusters?: string[]; endpoints?: Record<string, string[]>; lb?: LbService } = {}): EnvoyConfig {
  const clusters = new Map<string, Plain>((options.clusters ?? ['a', 'b']).map((name) => [name, { name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } } }]));
  const endpoints = new Map<string, Plain>();
  for (const [name, addresses] of Object.entries(options.endpoints ?? { a: ['127.0.0.1'], b: ['127.0.0.2'] })) {
    endpoints.set(name, { clusterName: name, endpoints: [{ locality: {}, lbEndpoints: addresses.map((address) => ({ endpoint: { address: { socketAddress: { address, portValue: 3000 } } }, healthStatus: 'HEALTHY' })) }] });
  }
  return {
    listeners: [{ name: 'ns/gw/80', address: { socketAddress: { address: '0.0.0.0', portValue: 10001 } }, filterChains: options.chains ?? [hcmChain('insecure', 'rc', { transportProtocol: 'raw_buffer' })] }],
    routes: new Map([['rc', { name: 'rc', virtualHosts: [{ name: 'all', domains: ['*'], routes }] }]]),
    clusters,
    endpoints,
    secrets: new Map(),
    lb: new Map([['ns/cilium-gateway-gw', options.lb ?? lbEntry([80], { port: 10001 })]]),
  };
}

function request(path: string, extra: Partial<ProxyRequest> = {}): ProxyRequest {
  return { service: 'ns/cilium-gateway-gw', port: 80, method: 'GET', path, authority: 'example.org', headers: new Headers(), ...extra };
}

const view = (path: string, headers: Record<string, string> = {}, method = 'GET') => ({ method, path: splitPath(path), authority: 'example.org', scheme: 'http', headers: new Headers(headers) });

describe('connection: LB entry, listener, filter chain', () => {
  it('a frontend port listed in l7Proxy.frontendPorts goes to its own proxy port; others to l7Proxy.port', () => {
    const lb = lbEntry([80, 8080], { port: 10001, frontendPorts: { '8080': 10002 } });
    const cfg = config([{ match: { prefix: '/' }, route: { cluster: 'a' } }], { lb });
    cfg.listeners.push({ name: 'ns/gw/8080', address: { socketAddress: { portValue: 10002 } }, filterChains: [hcmChain('insecure', 'rc8080')] });
    cfg.routes.set('rc8080', { name: 'rc8080', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'b' } }] }] });
    assert.equal(resolveHttp(cfg, request('/')).upstreams?.[0]?.cluster, 'a');
    assert.equal(resolveHttp(cfg, request('/', { port: 8080 })).upstreams?.[0]?.cluster, 'b');
  });

  it('a port without a frontend refuses the connection', () => {
    const cfg = config([{ match: { prefix: '/' }, route: { cluster: 'a' } }]);
    const resolution = resolveHttp(cfg, request('/', { port: 8080 }));
    assert.equal(resolution.connection, 'refused');
    assert.equal(resolution.status, undefined);
  });

  it('filter chains: exact SNI, then the longest wildcard, then chains without server names; transport protocol after', () => {
    const listener = {
      filterChains: [
        { name: 'any-tls', filterChainMatch: { transportProtocol: 'tls' } },
        { name: 'wild-org', filterChainMatch: { serverNames: ['*.org'], transportProtocol: 'tls' } },
        { name: 'wild-example', filterChainMatch: { serverNames: ['*.example.org'], transportProtocol: 'tls' } },
        { name: 'exact', filterChainMatch: { serverNames: ['www.example.org'], transportProtocol: 'tls' } },
        { name: 'plain', filterChainMatch: { transportProtocol: 'raw_buffer' } },
      ],
    };
    const pick = (serverName: string | undefined, transportProtocol: 'tls' | 'raw_buffer' = 'tls') =>
      selectFilterChain(listener, { destinationPort: 1, serverName, transportProtocol, applicationProtocols: [] })?.['name'];
    assert.equal(pick('www.example.org'), 'exact');
    assert.equal(pick('api.example.org'), 'wild-example');
    assert.equal(pick('other.org'), 'wild-org');
    assert.equal(pick('other.net'), 'any-tls');
    assert.equal(pick(undefined, 'raw_buffer'), 'plain');
  });

  it('HTTP filters other than the router are named as not modelled', () => {
    const cfg = config([{ match: { prefix: '/' }, route: { cluster: 'a' } }]);
    const hcm = ((cfg.listeners[0]!['filterChains'] as Plain[])[0]!['filters'] as Plain[])[0]!['typedConfig'] as Plain;
    assert.deepEqual(resolveHttp(cfg, request('/')).notes, []);
    hcm['httpFilters'] = [{ name: 'envoy.filters.http.lua' }, { name: 'envoy.filters.http.router' }];
    assert.match(resolveHttp(cfg, request('/')).notes.join(), /envoy\.filters\.http\.lua is not modelled/);
  });

  it('no chain matches and no default chain: the connection is closed', () => {
    const cfg = config([], { chains: [hcmChain('tls', 'rc', { serverNames: ['a.example.org'], transportProtocol: 'tls' })] });
    assert.equal(resolveHttp(cfg, request('/', { tls: { serverName: 'b.example.org' } })).connection, 'reset');
  });
});

describe('virtual host by authority', () => {
  const hosts = [
    { name: 'any', domains: ['*'] },
    { name: 'prefix', domains: ['foo.*'] },
    { name: 'short-suffix', domains: ['*.org'] },
    { name: 'long-suffix', domains: ['*.example.org'] },
    { name: 'exact', domains: ['www.example.org'] },
  ];
  const pick = (authority: string) => selectVirtualHost(hosts, authority)?.['name'];
  it('exact beats every wildcard', () => assert.equal(pick('www.example.org'), 'exact'));
  it('the longest suffix wildcard beats a shorter one', () => assert.equal(pick('api.example.org'), 'long-suffix'));
  it('suffix wildcards beat prefix wildcards', () => assert.equal(pick('foo.org'), 'short-suffix'));
  it('prefix wildcards beat "*"', () => assert.equal(pick('foo.net'), 'prefix'));
  it('a wildcard never matches the empty string', () => assert.equal(pick('.org'), 'any'));
  it('matching ignores case', () => assert.equal(pick('WWW.Example.ORG'), 'exact'));
  // Envoy lower-cases the Host and compares it whole; only ignore_port_in_host_matching / strip_*_host_port drop the port
  it('the port is part of the authority unless stripped', () => assert.equal(pick('www.example.org:8080'), 'any'));
});

describe('route matching', () => {
  it('the first matching route wins, not the most specific', () => {
    const cfg = config([
      { name: 'first', match: { prefix: '/' }, route: { cluster: 'a' } },
      { name: 'second', match: { path: '/exact' }, route: { cluster: 'b' } },
    ]);
    assert.equal(resolveHttp(cfg, request('/exact')).route, 'first');
  });

  it('prefix is case-sensitive unless case_sensitive is false', () => {
    assert.ok(!routeMatches({ prefix: '/Foo' }, view('/foo')));
    assert.ok(routeMatches({ prefix: '/Foo', caseSensitive: false }, view('/foo')));
  });

  it('path_separated_prefix matches whole segments only', () => {
    assert.ok(routeMatches({ pathSeparatedPrefix: '/foo' }, view('/foo')));
    assert.ok(routeMatches({ pathSeparatedPrefix: '/foo' }, view('/foo/bar?x=1')));
    assert.ok(!routeMatches({ pathSeparatedPrefix: '/foo' }, view('/foobar')));
  });

  it('path (exact) and safe_regex compare the path without its query, regex as a full match', () => {
    assert.ok(routeMatches({ path: '/a' }, view('/a?b=c')));
    assert.ok(!routeMatches({ path: '/a' }, view('/a/')));
    assert.ok(routeMatches({ safeRegex: { regex: '/v[0-9]+' } }, view('/v12')));
    assert.ok(!routeMatches({ safeRegex: { regex: '/v[0-9]+' } }, view('/v12/x')));
  });

  it('headers: exact, regex, :method, present, invert (absent headers only match an inverted non-present matcher)', () => {
    assert.ok(routeMatches({ prefix: '/', headers: [{ name: 'Version', stringMatch: { exact: 'one' } }] }, view('/', { version: 'one' })));
    assert.ok(!routeMatches({ prefix: '/', headers: [{ name: 'version', stringMatch: { exact: 'one' } }] }, view('/', { version: 'two' })));
    assert.ok(routeMatches({ prefix: '/', headers: [{ name: ':method', stringMatch: { exact: 'POST' } }] }, view('/', {}, 'POST')));
    assert.ok(!routeMatches({ prefix: '/', headers: [{ name: ':method', stringMatch: { exact: 'POST' } }] }, view('/')));
    assert.ok(headerMatches({ name: 'x', stringMatch: { exact: 'a' }, invertMatch: true }, undefined));
    assert.ok(!headerMatches({ name: 'x', stringMatch: { exact: 'a' } }, undefined));
    assert.ok(headerMatches({ name: 'x', presentMatch: true }, 'v'));
    assert.ok(!headerMatches({ name: 'x', presentMatch: true, invertMatch: true }, undefined));
    assert.ok(headerMatches({ name: 'x', stringMatch: { safeRegex: { regex: 'v[0-9]' } } }, 'v1'));
    assert.ok(!headerMatches({ name: 'x', stringMatch: { safeRegex: { regex: 'v[0-9]' } } }, 'v12'));
  });

  it('query parameters: exact value, regex, absence fails', () => {
    const match = { prefix: '/', queryParameters: [{ name: 'animal', stringMatch: { exact: 'whale' } }] };
    assert.ok(routeMatches(match, view('/?animal=whale')));
    assert.ok(!routeMatches(match, view('/?animal=dolphin')));
    assert.ok(!routeMatches(match, view('/')));
    assert.ok(routeMatches({ prefix: '/', queryParameters: [{ name: 'n', stringMatch: { safeRegex: { regex: '[0-9]+' } } }] }, view('/?n=42')));
  });

  it('grpc: {} requires an application/grpc content type', () => {
    assert.ok(!routeMatches({ prefix: '/', grpc: {} }, view('/svc/Method')));
    assert.ok(routeMatches({ prefix: '/', grpc: {} }, view('/svc/Method', { 'content-type': 'application/grpc' })));
  });

  it('no virtual host or no route: 404', () => {
    const cfg = config([{ match: { path: '/only' }, route: { cluster: 'a' } }]);
    assert.equal(resolveHttp(cfg, request('/other')).status, 404);
    cfg.routes.set('rc', { name: 'rc', virtualHosts: [{ name: 'h', domains: ['example.com'], routes: [] }] });
    assert.equal(resolveHttp(cfg, request('/only')).status, 404);
  });
});

describe('actions', () => {
  it('header mutations: each level removes before it adds; append adds a value, overwrite replaces, ADD_IF_ABSENT keeps', () => {
    const headers = new Headers({ 'x-keep': 'old', 'x-append': 'one', 'x-remove': 'gone' });
    applyHeaderMutations(
      headers,
      [
        { header: { key: 'X-Append', value: 'two' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-set', value: 'v' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-keep', value: 'new' }, appendAction: 'ADD_IF_ABSENT' },
        { header: { key: 'x-remove', value: 'back' } },
        { header: { key: 'x-only-if', value: 'v' }, appendAction: 'OVERWRITE_IF_EXISTS' },
      ],
      ['x-remove'],
    );
    assert.equal(headers.get('x-append'), 'one,two');
    assert.equal(headers.get('x-set'), 'v');
    assert.equal(headers.get('x-keep'), 'old');
    assert.equal(headers.get('x-remove'), 'back');
    assert.equal(headers.has('x-only-if'), false);
    const legacy = new Headers({ a: '1' });
    applyHeaderMutations(legacy, [{ header: { key: 'a', value: '2' }, append: false }], []);
    assert.equal(legacy.get('a'), '2');
  });

  it('request headers: weighted cluster, then route, then virtual host (the least specific overwrite wins)', () => {
    const cfg = config([
      {
        match: { prefix: '/' },
        requestHeadersToAdd: [{ header: { key: 'x-level', value: 'route' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
        route: { weightedClusters: { clusters: [{ name: 'a', weight: 1, requestHeadersToAdd: [{ header: { key: 'x-level', value: 'cluster' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }] } },
      },
    ]);
    assert.equal(resolveHttp(cfg, request('/')).upstreams?.[0]?.request.headers.get('x-level'), 'route');
    const vh = (cfg.routes.get('rc')!['virtualHosts'] as Plain[])[0]!;
    vh['requestHeadersToAdd'] = [{ header: { key: 'x-level', value: 'vhost' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
    assert.equal(resolveHttp(cfg, request('/')).upstreams?.[0]?.request.headers.get('x-level'), 'vhost');
  });

  it('response headers: the route changes what the backend sent', () => {
    const cfg = config([{ match: { prefix: '/' }, responseHeadersToAdd: [{ header: { key: 'x-added', value: 'v' } }], responseHeadersToRemove: ['x-secret'], route: { cluster: 'a' } }]);
    const response = resolveHttp(cfg, request('/')).upstreams![0]!.finalizeResponse(new Headers({ 'x-secret': 's', 'x-added': 'backend' }));
    assert.equal(response.has('x-secret'), false);
    assert.equal(response.get('x-added'), 'backend,v');
  });

  it('prefix_rewrite swaps the matched prefix and keeps the rest and the query; regex_rewrite substitutes', () => {
    const cfg = config([
      { match: { pathSeparatedPrefix: '/prefix/one' }, route: { cluster: 'a', prefixRewrite: '/one' } },
      { match: { path: '/full' }, route: { cluster: 'a', prefixRewrite: '/replaced' } },
      { match: { prefix: '/strip' }, route: { cluster: 'a', regexRewrite: { pattern: { regex: '^/strip(/.*)?$' }, substitution: '\\1' } } },
      { match: { prefix: '/' }, route: { cluster: 'a', hostRewriteLiteral: 'rewritten.example' } },
    ]);
    assert.equal(resolveHttp(cfg, request('/prefix/one/two?x=1')).upstreams?.[0]?.request.path, '/one/two?x=1');
    assert.equal(resolveHttp(cfg, request('/full?q')).upstreams?.[0]?.request.path, '/replaced?q');
    assert.equal(resolveHttp(cfg, request('/strip/a/b')).upstreams?.[0]?.request.path, '/a/b');
    assert.equal(resolveHttp(cfg, request('/other')).upstreams?.[0]?.request.authority, 'rewritten.example');
  });

  it('weighted clusters share by weight; a missing cluster has no endpoints; direct responses answer', () => {
    const cfg = config([
      { match: { prefix: '/direct' }, directResponse: { status: 500 } },
      { match: { prefix: '/' }, route: { weightedClusters: { clusters: [{ name: 'a', weight: 70 }, { name: 'b', weight: 30 }, { name: 'missing', weight: 100 }] } } },
    ]);
    const resolution = resolveHttp(cfg, request('/'));
    assert.deepEqual(resolution.upstreams?.map((u) => [u.cluster, u.share]), [['a', 0.35], ['b', 0.15], ['missing', 0.5]]);
    assert.equal(resolution.upstreams?.[2]?.endpoints, undefined);
    assert.deepEqual(resolution.upstreams?.[0]?.endpoints, [{ address: '127.0.0.1', port: 3000, weight: 1 }]);
    assert.equal(resolveHttp(cfg, request('/direct')).status, 500);
  });

  it('timeouts: unset is 15 s, 0s disables; retry policy read with Envoy defaults; mirrors with their percentage', () => {
    const cfg = config([
      { match: { path: '/t' }, route: { cluster: 'a', timeout: '0.5s', retryPolicy: { retryOn: 'retriable-status-codes', retriableStatusCodes: [500], perTryTimeout: '0.25s' } } },
      { match: { path: '/off' }, route: { cluster: 'a', timeout: '0s' } },
      { match: { prefix: '/' }, route: { cluster: 'a', requestMirrorPolicies: [{ cluster: 'b', runtimeFraction: { defaultValue: { numerator: 20, denominator: 'HUNDRED' } } }, { cluster: 'b' }] } },
    ]);
    const timed = resolveHttp(cfg, request('/t'));
    assert.equal(timed.timeoutMs, 500);
    assert.deepEqual(timed.retry, { retryOn: ['retriable-status-codes'], numRetries: 1, retriableStatusCodes: [500], perTryTimeoutMs: 250 });
    assert.equal(resolveHttp(cfg, request('/off')).timeoutMs, null);
    const fallback = resolveHttp(cfg, request('/x'));
    assert.equal(fallback.timeoutMs, 15000);
    assert.deepEqual(fallback.mirrors?.map((m) => m.percent), [20, 100]);
  });

  it('endpoints: only HEALTHY/UNKNOWN ones of the cluster load assignment', () => {
    const cfg = config([]);
    (cfg.endpoints.get('a')!['endpoints'] as Plain[])[0]!['lbEndpoints'] = [
      { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 1 } } }, healthStatus: 'HEALTHY' },
      { endpoint: { address: { socketAddress: { address: '127.0.0.2', portValue: 1 } } }, healthStatus: 'DRAINING' },
      { endpoint: { address: { socketAddress: { address: '127.0.0.3', portValue: 1 } } } },
    ];
    assert.deepEqual(endpointsOf(cfg, 'a')?.map((e) => e.address), ['127.0.0.1', '127.0.0.3']);
  });
});

describe('redirect Location', () => {
  const at = (path: string, authority: string, scheme = 'http') => ({ method: 'GET', path: splitPath(path), authority, scheme, headers: new Headers() });
  it('scheme change drops the old default port; keeps a non-default one', () => {
    assert.equal(redirectLocation({ schemeRedirect: 'https' }, { prefix: '/' }, '/', at('/a', 'example.org:80')), 'https://example.org/a');
    assert.equal(redirectLocation({ schemeRedirect: 'https' }, { prefix: '/' }, '/', at('/a', 'example.org:8080')), 'https://example.org:8080/a');
  });
  it('port_redirect replaces the request port; host_redirect replaces host and port', () => {
    assert.equal(redirectLocation({ portRedirect: 8443 }, { prefix: '/' }, '/', at('/a', 'example.org:80')), 'http://example.org:8443/a');
    assert.equal(redirectLocation({ hostRedirect: 'other.org' }, { prefix: '/' }, '/', at('/a', 'example.org:8080')), 'http://other.org/a');
  });
  it('path_redirect keeps the query unless it has its own or strip_query; prefix_rewrite swaps the prefix', () => {
    assert.equal(redirectLocation({ pathRedirect: '/new' }, { prefix: '/' }, '/', at('/old?x=1', 'h')), 'http://h/new?x=1');
    assert.equal(redirectLocation({ pathRedirect: '/new', stripQuery: true }, { prefix: '/' }, '/', at('/old?x=1', 'h')), 'http://h/new');
    assert.equal(redirectLocation({ prefixRewrite: '/v2' }, { pathSeparatedPrefix: '/v1' }, '/v1', at('/v1/x', 'h')), 'http://h/v2/x');
  });
  it('a redirect route answers with its response code and Location', () => {
    const cfg = config([{ match: { prefix: '/' }, redirect: { hostRedirect: 'example.org', responseCode: 'SEE_OTHER' } }]);
    const resolution = resolveHttp(cfg, request('/p', { authority: '127.0.0.1:80' }));
    assert.equal(resolution.status, 303);
    assert.equal(resolution.responseHeaders?.get('location'), 'http://example.org/p');
  });
});

describe('TLS', () => {
  it('https picks the chain of the SNI and reports its certificate secret; passthrough goes to the TCP proxy cluster', () => {
    const tlsSocket = (secret: string) => ({
      transportSocket: { name: 'tls', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: secret }] } } },
    });
    const cfg = config([{ match: { prefix: '/' }, route: { cluster: 'a' } }], {
      chains: [
        hcmChain('https-a', 'rc', { serverNames: ['a.example.org'], transportProtocol: 'tls' }, tlsSocket('secret-a')),
        hcmChain('https-any', 'rc', { transportProtocol: 'tls' }, tlsSocket('secret-any')),
        {
          name: 'passthrough',
          filterChainMatch: { serverNames: ['p.example.org'], transportProtocol: 'tls' },
          filters: [{ name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', cluster: 'b' } }],
        },
      ],
    });
    cfg.secrets.set('secret-a', { name: 'secret-a', tlsCertificate: { certificateChain: { inlineString: 'PEM-A' } } });
    assert.deepEqual(resolveHttp(cfg, request('/', { tls: { serverName: 'a.example.org' } })).tls?.certificateChains, ['PEM-A']);
    assert.deepEqual(resolveHttp(cfg, request('/', { tls: { serverName: 'z.example.org' } })).tls?.certificateSecrets, ['secret-any']);
    assert.equal(resolveTls(cfg, 'ns/cilium-gateway-gw', 80, 'p.example.org').tcpUpstreams?.[0]?.cluster, 'b');
  });
});

describe('connection manager options', () => {
  it('strip_any_host_port drops the port before virtual host matching', () => {
    const cfg = config([{ match: { prefix: '/' }, route: { cluster: 'a' } }]);
    cfg.routes.set('rc', { name: 'rc', virtualHosts: [{ name: 'h', domains: ['example.org'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a' } }] }] });
    assert.equal(resolveHttp(cfg, request('/', { authority: 'example.org:80' })).status, 404);
    const hcm = ((cfg.listeners[0]!['filterChains'] as Plain[])[0]!['filters'] as Plain[])[0]!['typedConfig'] as Plain;
    hcm['stripAnyHostPort'] = true;
    const stripped = resolveHttp(cfg, request('/', { authority: 'example.org:80' }));
    assert.equal(stripped.upstreams?.[0]?.cluster, 'a');
    assert.equal(stripped.upstreams?.[0]?.request.authority, 'example.org', 'the upstream sees the Host without the port');
  });

  it('ignore_port_in_host_matching only ignores the port for matching', () => {
    const cfg = config([]);
    cfg.routes.set('rc', { name: 'rc', ignorePortInHostMatching: true, virtualHosts: [{ name: 'h', domains: ['example.org'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a' } }] }] });
    assert.equal(resolveHttp(cfg, request('/', { authority: 'example.org:80' })).upstreams?.[0]?.request.authority, 'example.org:80');
  });

  it('most_specific_header_mutations_wins: the route level then overwrites the virtual host', () => {
    const cfg = config([{ match: { prefix: '/' }, requestHeadersToAdd: [{ header: { key: 'x', value: 'route' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }], route: { cluster: 'a' } }]);
    const rc = cfg.routes.get('rc')!;
    (rc['virtualHosts'] as Plain[])[0]!['requestHeadersToAdd'] = [{ header: { key: 'x', value: 'vhost' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
    assert.equal(resolveHttp(cfg, request('/')).upstreams?.[0]?.request.headers.get('x'), 'vhost');
    rc['mostSpecificHeaderMutationsWins'] = true;
    assert.equal(resolveHttp(cfg, request('/')).upstreams?.[0]?.request.headers.get('x'), 'route');
  });

  it('upgrade_configs: the connection manager enables websocket, a route may turn it off', () => {
    const cfg = config([
      { match: { path: '/off' }, route: { cluster: 'a', upgradeConfigs: [{ upgradeType: 'websocket', enabled: false }] } },
      { match: { prefix: '/' }, route: { cluster: 'a' } },
    ]);
    assert.deepEqual(resolveHttp(cfg, request('/ws')).upgrades, []);
    const hcm = ((cfg.listeners[0]!['filterChains'] as Plain[])[0]!['filters'] as Plain[])[0]!['typedConfig'] as Plain;
    hcm['upgradeConfigs'] = [{ upgradeType: 'websocket' }];
    assert.deepEqual(resolveHttp(cfg, request('/ws')).upgrades, ['websocket']);
    assert.deepEqual(resolveHttp(cfg, request('/off')).upgrades, []);
  });

  it('application protocols: a chain naming the offered ALPN beats one without; destination port beats none', () => {
    const listener = {
      filterChains: [
        { name: 'any', filterChainMatch: {} },
        { name: 'h2', filterChainMatch: { applicationProtocols: ['h2'] } },
        { name: 'port', filterChainMatch: { destinationPort: 2 } },
      ],
    };
    const pick = (alpn: string[], destinationPort = 1) => selectFilterChain(listener, { destinationPort, transportProtocol: 'tls', applicationProtocols: alpn })?.['name'];
    assert.equal(pick(['h2', 'http/1.1']), 'h2');
    assert.equal(pick(['http/1.1']), 'any');
    assert.equal(pick(['h2'], 2), 'port');
  });

  it('a cluster speaks HTTP/2 upstream only with HTTP/2 protocol options', () => {
    const cfg = config([{ match: { prefix: '/' }, route: { weightedClusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }] } } }]);
    cfg.clusters.get('b')!['typedExtensionProtocolOptions'] = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } },
    };
    assert.deepEqual(resolveHttp(cfg, request('/')).upstreams?.map((u) => u.http2), [false, true]);
  });
});


/**
 * Envoy's CORS filter, as envoyproxy/envoy source/extensions/filters/http/cors/cors_filter.cc implements
 * it (decodeHeaders answers preflights, encodeHeaders adds the allow headers to every response of an
 * allowed origin) and cors.proto documents the CorsPolicy fields.
 */
describe('CORS filter', () => {
  const CORS_POLICY = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
  const corsChain = (filters = ['envoy.filters.http.cors', 'envoy.filters.http.router']): Plain => ({
    name: 'insecure',
    filterChainMatch: { transportProtocol: 'raw_buffer' },
    filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, rds: { routeConfigName: 'rc' }, httpFilters: filters.map((name) => ({ name })) } }],
  });
  const policy = (fields: Plain): Plain => ({ '@type': CORS_POLICY, ...fields });
  const full = policy({
    allowOriginStringMatch: [{ exact: 'https://www.foo.com' }, { safeRegex: { regex: 'https://.*\\.bar\\.com' } }],
    allowMethods: 'GET, OPTIONS',
    allowHeaders: 'x-header-1',
    exposeHeaders: 'x-header-3',
    maxAge: '3600',
    allowCredentials: true,
  });
  const corsConfig = (routePolicy: Plain | undefined, options: { vhPolicy?: Plain; filters?: string[]; route?: Plain } = {}): EnvoyConfig => {
    const route: Plain = { match: { prefix: '/' }, route: { cluster: 'a' }, ...(routePolicy ? { typedPerFilterConfig: { 'envoy.filters.http.cors': routePolicy } } : {}), ...options.route };
    const cfg = config([route], { chains: [corsChain(options.filters)] });
    if (options.vhPolicy) cfg.routes.get('rc')!['virtualHosts'] = [{ name: 'all', domains: ['*'], routes: [route], typedPerFilterConfig: { 'envoy.filters.http.cors': options.vhPolicy } }];
    return cfg;
  };
  const preflight = (origin: string, extra: Record<string, string> = {}) => request('/x', { method: 'OPTIONS', headers: new Headers({ origin, 'access-control-request-method': 'GET', ...extra }) });
  const simple = (origin: string, method = 'GET') => request('/x', { method, headers: new Headers({ origin }) });
  const backendHeaders = (cfg: EnvoyConfig, req: ProxyRequest) => resolveHttp(cfg, req).upstreams![0]!.finalizeResponse(new Headers({ 'x-backend': '1' })).toJSON();

  it('a preflight from an allowed origin is answered 200 by Envoy with the policy headers (expose-headers too: the answer goes through the encoder filters)', () => {
    const resolution = resolveHttp(corsConfig(full), preflight('https://www.foo.com', { 'access-control-request-headers': 'x-header-1' }));
    assert.equal(resolution.status, 200);
    assert.equal(resolution.upstreams, undefined);
    assert.deepEqual(resolution.responseHeaders!.toJSON(), {
      'access-control-allow-origin': 'https://www.foo.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, OPTIONS',
      'access-control-allow-headers': 'x-header-1',
      'access-control-max-age': '3600',
      'access-control-expose-headers': 'x-header-3',
    });
  });

  it('origins match by their StringMatcher (a regex as a full match); allow-origin echoes the request\'s Origin', () => {
    assert.equal(resolveHttp(corsConfig(full), preflight('https://xpto.www.bar.com')).responseHeaders?.get('access-control-allow-origin'), 'https://xpto.www.bar.com');
    assert.equal(resolveHttp(corsConfig(full), preflight('https://www.bar.com.evil.org')).status, undefined);
  });

  it('a matcher that matches "*" allows every origin', () => {
    const any = policy({ allowOriginStringMatch: [{ exact: '*' }] });
    assert.equal(resolveHttp(corsConfig(any), preflight('https://anything.example')).responseHeaders?.get('access-control-allow-origin'), 'https://anything.example');
  });

  it('allow_methods "*" and allow_headers "*" answer with the requested method and headers', () => {
    const wild = policy({ allowOriginStringMatch: [{ exact: 'https://www.foo.com' }], allowMethods: '*', allowHeaders: '*' });
    const headers = resolveHttp(corsConfig(wild), preflight('https://www.foo.com', { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a, x-b' })).responseHeaders!;
    assert.equal(headers.get('access-control-allow-methods'), 'PUT');
    assert.equal(headers.get('access-control-allow-headers'), 'x-a, x-b');
    assert.equal(headers.has('access-control-allow-credentials'), false);
  });

  it('a disallowed preflight goes on to the route by default; with forward_not_matching_preflights false Envoy answers 200 without allow-origin', () => {
    const forwarded = resolveHttp(corsConfig(full), preflight('https://foobar.com'));
    assert.equal(forwarded.status, undefined);
    assert.equal(forwarded.upstreams?.[0]?.cluster, 'a');
    assert.equal(forwarded.upstreams![0]!.finalizeResponse(new Headers()).has('access-control-allow-origin'), false);
    const answered = resolveHttp(corsConfig({ ...full, forwardNotMatchingPreflights: false }), preflight('https://foobar.com'));
    assert.equal(answered.status, 200);
    assert.equal(answered.upstreams, undefined);
    assert.equal(answered.responseHeaders!.has('access-control-allow-origin'), false);
    assert.equal(answered.responseHeaders!.has('access-control-expose-headers'), false);
    assert.equal(answered.responseHeaders!.get('access-control-allow-methods'), 'GET, OPTIONS');
  });

  it('OPTIONS without access-control-request-method is no preflight: it reaches the backend', () => {
    const resolution = resolveHttp(corsConfig(full), request('/x', { method: 'OPTIONS', headers: new Headers({ origin: 'https://www.foo.com' }) }));
    assert.equal(resolution.status, undefined);
    assert.equal(resolution.upstreams?.[0]?.cluster, 'a');
  });

  it('a request from an allowed origin gets allow-origin, allow-credentials and expose-headers on the backend\'s response, nothing else', () => {
    assert.deepEqual(backendHeaders(corsConfig(full), simple('https://www.foo.com')), {
      'x-backend': '1',
      'access-control-allow-origin': 'https://www.foo.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-header-3',
    });
  });

  it('a request from a disallowed origin, or without Origin, gets nothing added', () => {
    assert.deepEqual(backendHeaders(corsConfig(full), simple('https://foobar.com')), { 'x-backend': '1' });
    assert.deepEqual(backendHeaders(corsConfig(full), request('/x')), { 'x-backend': '1' });
  });

  it('Envoy\'s own answers (direct response) get the headers too, and a preflight is answered before the route action', () => {
    const cfg = corsConfig(full, { route: { route: undefined, directResponse: { status: 418 } } });
    const direct = resolveHttp(cfg, simple('https://www.foo.com'));
    assert.equal(direct.status, 418);
    assert.equal(direct.responseHeaders?.get('access-control-allow-origin'), 'https://www.foo.com');
    assert.equal(resolveHttp(cfg, preflight('https://www.foo.com')).status, 200);
  });

  it('each field comes from the most specific policy that sets it: the route\'s, then the virtual host\'s', () => {
    const routePolicy = policy({ allowOriginStringMatch: [{ exact: 'https://route.example' }], allowMethods: 'PUT' });
    const vhPolicy = policy({ allowOriginStringMatch: [{ exact: 'https://vh.example' }], allowMethods: 'GET', maxAge: '60' });
    const cfg = corsConfig(routePolicy, { vhPolicy });
    const headers = resolveHttp(cfg, preflight('https://route.example')).responseHeaders!;
    assert.equal(headers.get('access-control-allow-methods'), 'PUT');
    assert.equal(headers.get('access-control-max-age'), '60');
    // the route's origins replace the virtual host's
    assert.equal(resolveHttp(cfg, preflight('https://vh.example')).status, undefined);
    // a route without a policy uses the virtual host's
    assert.equal(resolveHttp(corsConfig(undefined, { vhPolicy }), preflight('https://vh.example')).responseHeaders?.get('access-control-allow-methods'), 'GET');
  });

  it('the deprecated route and virtual host `cors` fields count only when no typed_per_filter_config exists', () => {
    const deprecated = { allowOriginStringMatch: [{ exact: 'https://old.example' }], allowMethods: 'DELETE' };
    assert.equal(resolveHttp(corsConfig(undefined, { route: { route: { cluster: 'a', cors: deprecated } } }), preflight('https://old.example')).responseHeaders?.get('access-control-allow-methods'), 'DELETE');
    assert.equal(resolveHttp(corsConfig(full, { route: { route: { cluster: 'a', cors: deprecated } } }), preflight('https://old.example')).status, undefined);
  });

  it('no effect without the CORS filter before the router, or with filter_enabled 0%', () => {
    assert.equal(resolveHttp(corsConfig(full, { filters: ['envoy.filters.http.router'] }), preflight('https://www.foo.com')).status, undefined);
    assert.equal(resolveHttp(corsConfig(full, { filters: ['envoy.filters.http.router', 'envoy.filters.http.cors'] }), preflight('https://www.foo.com')).status, undefined);
    const off = { ...full, filterEnabled: { defaultValue: { numerator: 0, denominator: 'HUNDRED' } } };
    assert.equal(resolveHttp(corsConfig(off), preflight('https://www.foo.com')).status, undefined);
    assert.deepEqual(backendHeaders(corsConfig(off), simple('https://www.foo.com')), { 'x-backend': '1' });
  });
});
