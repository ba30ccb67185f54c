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
