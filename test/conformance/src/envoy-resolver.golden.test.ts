/**
 * The resolver on the translator's own output shapes: the golden files of the seed Ingress and the
 * seed Gateway/HTTPRoute (libs/translation/testdata), resolved as a node proxy would serve them.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { LbService } from '@tendril/contract';
import { repoRoot } from './corpus.js';
import { Headers } from './headers.js';
import { resolveHttp, type EnvoyConfig } from './envoy-resolver.js';

type Plain = Record<string, unknown>;
const testdata = join(repoRoot, 'libs', 'translation', 'testdata');

function golden(name: string): EnvoyConfig {
  const out = parse(readFileSync(join(testdata, `${name}.out.yaml`), 'utf8')) as { xds: Record<string, { name: string; resource: Plain }[]>; lb: LbService[] };
  const byName = (type: string) => new Map((out.xds[type] ?? []).map((r) => [r.name, r.resource]));
  return {
    listeners: (out.xds['listener'] ?? []).map((r) => r.resource),
    routes: byName('route'),
    clusters: byName('cluster'),
    endpoints: byName('endpoint'),
    secrets: byName('secret'),
    lb: new Map(out.lb.map((entry) => [`${entry.namespace}/${entry.name}`, entry])),
  };
}

const get = (service: string, path: string) => ({ service, port: 80, method: 'GET', path, authority: 'bookinfo.example:80', headers: new Headers() });

describe('resolver on translator goldens', () => {
  it('seed Ingress: /details (whole segments) to details, everything else to productpage', { skip: !existsSync(join(testdata, 'ingress-basic.out.yaml')) && 'no golden' }, () => {
    const config = golden('ingress-basic');
    const details = resolveHttp(config, get('default/cilium-ingress-basic-ingress', '/details/1'));
    assert.equal(details.upstreams?.[0]?.cluster, 'default/details:9080');
    assert.deepEqual(details.upstreams?.[0]?.endpoints?.map((e) => e.address), ['127.0.1.1', '127.0.1.2']);
    assert.equal(resolveHttp(config, get('default/cilium-ingress-basic-ingress', '/detailsx')).upstreams?.[0]?.cluster, 'default/productpage:9080');
    assert.equal(resolveHttp(config, get('default/cilium-ingress-basic-ingress', '/')).upstreams?.[0]?.cluster, 'default/productpage:9080');
  });

  it('seed Gateway: /details reaches details through the Gateway\'s node-proxy listener; an unmatched path is 404', { skip: !existsSync(join(testdata, 'gateway-http-seed.out.yaml')) && 'no golden' }, () => {
    const config = golden('gateway-http-seed');
    const details = resolveHttp(config, get('default/cilium-gateway-my-gateway', '/details'));
    assert.equal(details.upstreams?.[0]?.cluster, 'default/details:9080', details.trace.join(' -> '));
    assert.ok(details.upstreams?.[0]?.endpoints?.some((e) => e.address === '127.0.1.1'));
    assert.equal(resolveHttp(config, get('default/cilium-gateway-my-gateway', '/nothing-here')).status, 404);
    assert.equal(resolveHttp(config, { ...get('default/cilium-gateway-my-gateway', '/details'), port: 81 }).connection, 'refused');
  });

  it('Gateway API CORS as translated: origins with and without the default port, `*` over several labels, a refused preflight answered without allow-origin, max-age 5 by default', { skip: !existsSync(join(testdata, 'httproute-filters.out.yaml')) && 'no golden' }, () => {
    const config = golden('httproute-filters');
    const preflight = (path: string, origin: string) => resolveHttp(config, { service: 'infra/cilium-gateway-same-namespace', port: 8080, method: 'OPTIONS', path, authority: 'example.org', headers: new Headers({ origin, 'access-control-request-method': 'GET' }) });
    for (const origin of ['https://www.foo.com', 'https://www.foo.com:443', 'https://a.b.bar.com', 'https://a.bar.com:443']) {
      const allowed = preflight('/cors', origin);
      assert.equal(allowed.status, 200, `${origin}: ${allowed.trace.join(' -> ')}`);
      assert.equal(allowed.responseHeaders?.get('access-control-allow-origin'), origin);
      assert.equal(allowed.responseHeaders?.get('access-control-expose-headers'), 'x-header-3');
    }
    for (const origin of ['https://www.foo.com:8443', 'http://www.foo.com', 'https://bar.com.evil.org']) {
      const refused = preflight('/cors', origin);
      assert.equal(refused.status, 200, origin);
      assert.equal(refused.upstreams, undefined, `${origin}: the backend must not answer`);
      assert.equal(refused.responseHeaders?.has('access-control-allow-origin'), false, origin);
    }
    const defaults = preflight('/cors-defaults', 'http://app.example');
    assert.equal(defaults.responseHeaders?.get('access-control-max-age'), '5');
    assert.equal(defaults.responseHeaders?.get('access-control-allow-methods'), 'GET');
    assert.equal(preflight('/cors-defaults', 'https://x.example.org:8443').responseHeaders?.get('access-control-allow-origin'), 'https://x.example.org:8443');
    assert.equal(preflight('/cors-defaults', 'https://x.example.org').responseHeaders?.has('access-control-allow-origin'), false);
  });
});
