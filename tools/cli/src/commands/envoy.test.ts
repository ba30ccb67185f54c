import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadProtoFiles, validateMessage } from '@tendril/envoy';

const main = fileURLToPath(new URL('../main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, TENDRIL_NATS_URL: 'nats://127.0.0.1:1' } });

test('tendril envoy bootstrap prints a valid Envoy Bootstrap for the node, without NATS', () => {
  loadProtoFiles('envoy/config/bootstrap/v3/bootstrap.proto');
  const yaml = run('envoy', 'bootstrap', '--node', 'worker-1');
  assert.equal(yaml.status, 0, yaml.stderr);
  const bootstrap = parse(yaml.stdout) as { node: { id: string }; static_resources: { clusters: { name: string; load_assignment: unknown }[] } };
  assert.equal(bootstrap.node.id, 'worker-1');
  assert.deepEqual(validateMessage('envoy.config.bootstrap.v3.Bootstrap', bootstrap), []);
  const json = run('envoy', 'bootstrap', '--node', 'worker-1', '--xds', 'xds-server.tendril-system.svc:18000', '-o', 'json');
  assert.equal(json.status, 0, json.stderr);
  const inCluster = JSON.parse(json.stdout) as typeof bootstrap;
  assert.match(JSON.stringify(inCluster.static_resources.clusters[0]!.load_assignment), /xds-server\.tendril-system\.svc/);
});

test('tendril envoy bootstrap: a missing node or a bad address is a usage error (exit 2)', () => {
  assert.equal(run('envoy', 'bootstrap').status, 2);
  const bad = run('envoy', 'bootstrap', '--node', 'n', '--xds', 'nowhere');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /host:port/);
});
