import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadProtoFiles, nodeBootstrap, parseBootstrapAddress, validateMessage } from './index.js';

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
loadProtoFiles('envoy/config/bootstrap/v3/bootstrap.proto');

test("a node's bootstrap is a valid Envoy Bootstrap (its proto and validation rules)", () => {
  assert.deepEqual(validateMessage(BOOTSTRAP, nodeBootstrap({ node: 'node-a' })), []);
  assert.deepEqual(validateMessage(BOOTSTRAP, nodeBootstrap({ node: 'node-a', xds: { host: 'xds.example', port: 18000 }, als: { host: '::1', port: 18001 } })), []);
  // the check catches what Envoy would refuse
  const broken = nodeBootstrap({ node: 'node-a', adminPort: 70000 });
  assert.match(validateMessage(BOOTSTRAP, broken).join('\n'), /port_value|portValue/);
  const misspelt = { ...nodeBootstrap({ node: 'node-a' }), dynamic_resource: {} };
  assert.notDeepEqual(validateMessage(BOOTSTRAP, misspelt), []);
});

test("the DaemonSet's ConfigMap is the same bootstrap with the in-cluster addresses (the node comes from --service-node)", () => {
  const file = fileURLToPath(new URL('../../../k8s/base/envoy-bootstrap.yaml', import.meta.url));
  const { node, ...rest } = nodeBootstrap({ node: 'any', xds: { host: 'xds-server.tendril-system.svc', port: 18000 }, als: { host: 'metrics.tendril-system.svc', port: 18001 } });
  assert.deepEqual(node, { id: 'any', cluster: 'tendril-node-proxy' });
  assert.deepEqual(rest, parse(readFileSync(file, 'utf8')));
});

test('addresses are host:port', () => {
  assert.deepEqual(parseBootstrapAddress('127.0.0.1:18000'), { host: '127.0.0.1', port: 18000 });
  assert.deepEqual(parseBootstrapAddress('[::1]:18001'), { host: '::1', port: 18001 });
  assert.throws(() => parseBootstrapAddress('127.0.0.1'), /host:port/);
  assert.throws(() => parseBootstrapAddress('a:0'), /host:port/);
});
