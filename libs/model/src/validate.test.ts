import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyIR, isIPv4, isIPv6, validate, type MeshIR } from './index.js';

const source = { kind: 'Service', namespace: 'default', name: 'backend' };

function sampleIR(): MeshIR {
  const ir = emptyIR();
  ir.clusters.push({ name: 'default/backend:80', discovery: 'EDS', connectTimeoutMs: 5000, lbPolicy: 'ROUND_ROBIN', protocol: 'HTTP1', source });
  ir.endpoints.push({ clusterName: 'default/backend:80', endpoints: [{ address: '10.0.0.1', port: 8080, health: 'ready', weight: 1 }], source });
  ir.l4Services.push({
    namespace: 'default',
    name: 'backend',
    frontends: [{ address: '10.96.0.10', port: 80, protocol: 'TCP', portName: '', scope: 'ClusterIP' }],
    backends: [{ address: 'fd00::1', port: 8080, protocol: 'TCP', portName: '', weight: 1, state: 'active' }],
    algorithm: 'random',
    affinity: null,
    l7Redirect: null,
    source,
  });
  return ir;
}

test('a consistent IR has no problems', () => {
  assert.deepEqual(validate(sampleIR()), []);
});

test('validate reports every problem, each naming its object', () => {
  const ir = sampleIR();
  ir.clusters[0]!.connectTimeoutMs = 0;
  ir.clusters.push({ ...ir.clusters[0]!, name: 'default/orphan:81', connectTimeoutMs: 1000 });
  ir.endpoints[0]!.endpoints.push({ address: '10.0.0.300', port: 70000, health: 'ready', weight: 0 });
  ir.endpoints.push({ clusterName: 'default/missing:1', endpoints: [], source: { kind: 'EndpointSlice', namespace: 'default', name: 'x' } });
  ir.l4Services[0]!.affinity = { timeoutSeconds: -1 };
  const problems = validate(ir);
  const lines = problems.map((p) => `${p.object} ${p.path}: ${p.message}`);
  assert.deepEqual(lines.sort(), [
    'default/EndpointSlice/x endpoints[default/missing:1]: no cluster of this name',
    'default/Service/backend clusters[default/backend:80].connectTimeoutMs: must be a positive integer',
    'default/Service/backend clusters[default/orphan:81]: no endpoints resource for this EDS cluster',
    'default/Service/backend endpoints[default/backend:80].endpoints[1].address: "10.0.0.300" is not an IP address',
    'default/Service/backend endpoints[default/backend:80].endpoints[1].port: 70000 is not a port',
    'default/Service/backend endpoints[default/backend:80].endpoints[1].weight: must be a positive integer',
    'default/Service/backend l4Services[default/backend].affinity.timeoutSeconds: must be a positive integer',
  ]);
});

test('IP checks accept both families and refuse look-alikes', () => {
  for (const good of ['10.0.0.1', '0.0.0.0', '255.255.255.255']) assert.ok(isIPv4(good), good);
  for (const bad of ['10.0.0', '10.0.0.256', '01.2.3.4', 'a.b.c.d', '']) assert.ok(!isIPv4(bad), bad);
  for (const good of ['::', '::1', 'fd00::1', '2001:db8:0:0:0:0:0:1', '::ffff:10.0.0.1', 'fe80::1:2']) assert.ok(isIPv6(good), good);
  for (const bad of ['1::2::3', '12345::', ':::', '10.0.0.1', 'fd00::g', '1:2:3:4:5:6:7:8:9']) assert.ok(!isIPv6(bad), bad);
});

function l7IR(): MeshIR {
  const ir = sampleIR();
  const ingress = { kind: 'Ingress', namespace: 'default', name: 'web' };
  ir.secrets.push({ name: 'default/cert', certificateChain: '-----BEGIN CERTIFICATE-----', privateKey: '-----BEGIN PRIVATE KEY-----', source: ingress });
  ir.routes.push({
    name: 'default/web/insecure',
    virtualHosts: [
      {
        name: 'web',
        domains: ['web.example.com'],
        routes: [
          { name: 'a', match: { path: { kind: 'segment-prefix', value: '/a' } }, action: { kind: 'forward', backends: [{ clusterName: 'default/backend:80', weight: 1 }], timeoutMs: 1000, retry: { retryOn: ['5xx'], numRetries: 2 } } },
          { name: 'r', match: { path: { kind: 'exact', value: '/old' } }, action: { kind: 'redirect', scheme: 'https', statusCode: 301 } },
        ],
      },
    ],
    source: ingress,
  });
  ir.listeners.push({
    name: 'default/web/ingress',
    kind: 'socket',
    address: '0.0.0.0',
    port: 10001,
    filterChains: [
      { name: 'insecure', match: { serverNames: [], transportProtocol: 'raw_buffer' }, action: { kind: 'http', routeName: 'default/web/insecure', statPrefix: 'web' } },
      { name: 'secure', match: { serverNames: ['web.example.com'], transportProtocol: 'tls' }, tls: { secretNames: ['default/cert'] }, action: { kind: 'http', routeName: 'default/web/insecure', statPrefix: 'web' } },
    ],
    source: ingress,
  });
  return ir;
}

test('a consistent L7 IR has no problems', () => {
  assert.deepEqual(validate(l7IR()), []);
});

test('L7 problems are all reported: dangling routes, clusters, secrets; clashes; bad values', () => {
  const ir = l7IR();
  const listener = ir.listeners[0]!;
  ir.listeners.push({ ...structuredClone(listener), name: 'default/other/ingress' });
  listener.filterChains.push({ ...listener.filterChains[1]!, name: 'insecure', tls: { secretNames: ['default/missing'] } });
  const host = ir.routes[0]!.virtualHosts[0]!;
  ir.routes[0]!.virtualHosts.push({ ...structuredClone(host), name: 'again' });
  host.routes[0]!.action = { kind: 'forward', backends: [{ clusterName: 'default/gone:80', weight: 0 }], timeoutMs: -1 };
  host.routes[1]!.match.path = { kind: 'regex', value: '(' };
  host.routes.push({ name: 'h', match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'direct-response', status: 700 }, requestHeaders: { set: [{ name: 'bad header', value: 'x' }], add: [], remove: [] } });
  const lines = validate(ir).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(lines.sort(), [
    'listeners[default/other/ingress].port: 0.0.0.0:10001 is already bound by listener default/web/ingress',
    'listeners[default/web/ingress].filterChains[2].match: same match as an earlier chain',
    'listeners[default/web/ingress].filterChains[2].name: duplicate filter chain name "insecure"',
    'listeners[default/web/ingress].filterChains[2].tls.secretNames: no secret "default/missing"',
    'routes[default/web/insecure].virtualHosts[again].domains: "web.example.com" is already in another virtual host',
    'routes[default/web/insecure].virtualHosts[web].routes[0].action.backends: every weight is 0',
    'routes[default/web/insecure].virtualHosts[web].routes[0].action.backends: no cluster "default/gone:80"',
    'routes[default/web/insecure].virtualHosts[web].routes[0].action.timeoutMs: must be an integer >= 0',
    'routes[default/web/insecure].virtualHosts[web].routes[1].match.path: "(" is not a regular expression',
    'routes[default/web/insecure].virtualHosts[web].routes[2].action.status: 700 is not an HTTP status',
    'routes[default/web/insecure].virtualHosts[web].routes[2].requestHeaders: "bad header" is not a header name',
  ]);
});

test('client-certificate validation must name a CA secret, and a CA secret cannot serve as a certificate', () => {
  const ir = l7IR();
  const source = { kind: 'Gateway', namespace: 'default', name: 'gw' };
  ir.secrets.push({ name: 'default/gw/client-ca', trustedCa: '-----BEGIN CERTIFICATE-----', source });
  const chains = ir.listeners[0]!.filterChains;
  chains[1]!.tls = { secretNames: ['default/cert'], clientValidation: { secretName: 'default/gw/client-ca', required: true } };
  assert.deepEqual(validate(ir), [], 'a chain verifying clients against a CA secret is valid');
  ir.secrets.push({ name: 'default/gw/bad-ca', trustedCa: 'not pem', acceptUntrusted: true, source });
  chains[1]!.tls = { secretNames: ['default/gw/client-ca'], clientValidation: { secretName: 'default/cert', required: false } };
  assert.deepEqual(
    validate(ir).map((p) => `${p.path}: ${p.message}`).sort(),
    [
      'listeners[default/web/ingress].filterChains[1].tls.clientValidation.secretName: no CA secret "default/cert"',
      'listeners[default/web/ingress].filterChains[1].tls.secretNames: no secret "default/gw/client-ca"',
      'secrets[default/gw/bad-ca].trustedCa: is not PEM',
    ],
  );
});
