/** The applier: placeholders as the Go suite fills them, EndpointSlices for selector Services, mutations; Go's hostname rule. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONTROLLER_NAME, GATEWAY_CLASS, Pods, USABLE_ADDRESSES, UNUSABLE_ADDRESSES, mutate, parseDocs, prepare } from './manifests.js';
import { certificateCovers } from './traffic-checks.js';

const manifest = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: other }
spec: { controllerName: "{GATEWAY_CONTROLLER_NAME}" }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: ns }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  addresses:
  - type: test/fake-invalid-type
    value: "fake"
  - value: PLACEHOLDER_UNUSABLE_ADDRS
  - value: PLACEHOLDER_USABLE_ADDRS
  - type: IPAddress
  listeners: [{ name: http, port: 80, protocol: HTTP }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ns }
spec:
  replicas: 2
  template: { metadata: { labels: { app: web } } }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ns }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 8080, targetPort: 3000, appProtocol: kubernetes.io/h2c }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cm, namespace: ns }
data: { a: b }
`;

describe('applier', () => {
  const pods = new Pods();
  const docs = prepare(parseDocs(manifest), pods);
  const find = (kind: string) => docs.find((d) => d['kind'] === kind)!;

  it('every Gateway gets our class, every GatewayClass our controller', () => {
    assert.equal(find('Gateway')['spec']['gatewayClassName'], GATEWAY_CLASS);
    assert.equal(find('GatewayClass')['spec']['controllerName'], CONTROLLER_NAME);
  });

  it('addresses: invalid-type entries kept, then the unusable pool, then the usable pool; others dropped', () => {
    assert.deepEqual(find('Gateway')['spec']['addresses'], [{ type: 'test/fake-invalid-type', value: 'fake' }, ...UNUSABLE_ADDRESSES, ...USABLE_ADDRESSES]);
  });

  it('kinds the watcher does not mirror are dropped; a selector Service gets an EndpointSlice of its pods on the target port', () => {
    assert.deepEqual(docs.map((d) => d['kind']), ['GatewayClass', 'Gateway', 'Service', 'EndpointSlice']);
    const slice = find('EndpointSlice');
    assert.equal(slice['metadata']['labels']['kubernetes.io/service-name'], 'web');
    assert.deepEqual(slice['ports'], [{ name: 'http', port: 3000, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }]);
    const addresses = slice['endpoints'].map((e: { addresses: string[] }) => e.addresses[0]);
    assert.equal(addresses.length, 2);
    for (const address of addresses) {
      assert.match(address, /^127\./);
      assert.ok(pods.byAddress.get(address)!.name.startsWith('web-'));
    }
  });

  it('mutations: append and keep listeners, set a path, delete', () => {
    const copy = structuredClone(docs);
    mutate(copy, { action: 'patch', kind: 'Gateway', namespace: 'ns', name: 'gw', changes: [{ op: 'appendListener', value: { name: 'extra', port: 81, protocol: 'HTTP' } }] });
    assert.deepEqual(copy[1]!['spec']['listeners'].map((l: { name: string }) => l.name), ['http', 'extra']);
    mutate(copy, { action: 'patch', kind: 'Gateway', namespace: 'ns', name: 'gw', changes: [{ op: 'keepOnlyListeners', names: ['extra'] }, { path: 'spec.listeners[0].port', value: 82 }] });
    assert.deepEqual(copy[1]!['spec']['listeners'], [{ name: 'extra', port: 82, protocol: 'HTTP' }]);
    assert.equal(mutate(copy, { action: 'delete', kind: 'Service', namespace: 'ns', name: 'web' }), true);
    assert.equal(copy.some((d) => d['kind'] === 'Service'), false);
    assert.equal(mutate(copy, { action: 'delete', kind: 'Service', namespace: 'ns', name: 'web' }), false);
  });
});

describe("Go's hostname verification", () => {
  it('a wildcard covers exactly one first label, also directly under a TLD', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tendril-cert-test-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-days', '1', '-subj', '/CN=ignored.example', '-addext', 'subjectAltName=DNS:*.org,DNS:exact.example.com'], { stdio: 'ignore' });
      const pem = readFileSync(join(dir, 'c'), 'utf8');
      assert.ok(certificateCovers(pem, 'example.org'));
      assert.ok(certificateCovers(pem, 'EXACT.example.com'));
      assert.ok(!certificateCovers(pem, 'a.b.org'));
      assert.ok(!certificateCovers(pem, 'ignored.example'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
