import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { allocateClusterIPs, parseManifests } from './index.js';

// The seed manifests as the repository ships them (examples/seeds), and the refused one as testdata.
const seeds = new URL('../../../examples/seeds/', import.meta.url);
const testdata = new URL('../testdata/', import.meta.url);

describe('manifests', () => {
  it('refuses the Ingress as the FOSDEM slide printed it, naming the object and the fields', () => {
    const text = readFileSync(new URL('ingress-path-under-backend.yaml', testdata), 'utf8');
    const parsed = parseManifests(text, 'ingress-path-under-backend.yaml', 'default');
    assert.equal(parsed.objects.length, 0);
    assert.equal(parsed.errors.length, 1);
    const [error] = parsed.errors;
    assert.equal(error!.object, 'default/Ingress/basic-ingress-as-printed');
    assert.match(error!.message, /spec\.rules\[0\]\.http\.paths\[0\]\.backend\.path: unknown field/);
    assert.match(error!.message, /spec\.rules\[0\]\.http\.paths\[0\]\.backend\.pathType: unknown field/);
    assert.match(error!.message, /spec\.rules\[0\]\.http\.paths\[0\]\.pathType: required/);
  });

  it('accepts every seed example and keys it by cluster, kind, namespace and name', () => {
    const keys: string[] = [];
    for (const file of ['ingress-basic.yaml', 'gateway-http.yaml', 'gateway-tls.yaml', 'httproute-weighted.yaml', 'service-grpc-lb.yaml']) {
      const parsed = parseManifests(readFileSync(new URL(file, seeds), 'utf8'), file, 'default');
      assert.deepEqual(parsed.errors, [], file);
      keys.push(...parsed.objects.map((o) => o.key));
    }
    assert.ok(keys.includes('default.ingress.default.basic-ingress'));
    assert.ok(keys.includes('default.gateway.default.my-gateway'));
    assert.ok(keys.includes('default.httproute.default.example-weighted-route'));
    assert.ok(keys.includes('default.service.default.backend'));
  });

  it('keeps good documents when one in the same file is bad, and skips kinds it does not mirror', () => {
    const text = [
      'apiVersion: v1\nkind: Service\nmetadata: {name: good}\nspec: {ports: [{port: 80}]}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: 99999}], colour: blue}',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}',
      'not: [valid',
    ].join('\n---\n');
    const parsed = parseManifests(text, 'mixed.yaml', 'default');
    assert.deepEqual(parsed.objects.map((o) => o.key), ['default.service.default.good']);
    assert.equal(parsed.skipped, 1);
    assert.equal(parsed.errors.length, 2);
    const bad = parsed.errors.find((e) => e.object === 'default/Service/bad');
    assert.match(bad!.message, /spec\.colour: unknown field/);
    assert.match(bad!.message, /spec\.ports\[0\]\.port/);
  });

  it("checks a route rule's sessionPersistence as the experimental CRD's rules do", () => {
    const route = (name: string, session: string) =>
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ${name}}\nspec: {rules: [{sessionPersistence: ${session}, backendRefs: [{name: web, port: 80}]}]}`;
    const text = [
      route('permanent', '{absoluteTimeout: 1h, cookie: {name: shop, lifetimeType: Permanent}}'),
      route('older-spelling', '{sessionName: shop, absoluteTimeout: 10m, idleTimeout: 1m, cookieConfig: {lifetimeType: Permanent}}'),
      route('header', '{type: Header, header: {name: X-Session}}'),
      route('forever', '{cookie: {lifetimeType: Permanent}}'),
      route('cookie-on-header', '{type: Header, header: {name: X-Session}, cookie: {name: shop}}'),
      route('bad-duration', '{absoluteTimeout: 1 day}'),
    ].join('\n---\n');
    const parsed = parseManifests(text, 'sessions.yaml', 'default');
    // the fields of releases before 1.3 (sessionName, idleTimeout, cookieConfig) are dropped by today's CRDs, so the cookie is missing
    assert.deepEqual(parsed.objects.map((o) => o.key).sort(), ['default.httproute.default.header', 'default.httproute.default.permanent']);
    const message = (name: string) => parsed.errors.find((e) => e.object === `default/HTTPRoute/${name}`)?.message ?? '';
    assert.match(message('older-spelling'), /cookie must be specified for Cookie type/);
    assert.match(message('forever'), /AbsoluteTimeout must be specified when cookie lifetimeType is Permanent/);
    assert.match(message('cookie-on-header'), /cookie must be nil if type is not Cookie/);
    assert.match(message('bad-duration'), /spec\.rules\[0\]\.sessionPersistence\.absoluteTimeout/);
  });

  it('applies API defaults: namespace, Service type and protocol, targetPort, EndpointSlice conditions', () => {
    const text = [
      'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}], sessionAffinity: ClientIP}',
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s-1, labels: {kubernetes.io/service-name: s}}\naddressType: IPv4\nendpoints: [{addresses: [127.0.0.2]}]\nports: [{port: 8080}]',
    ].join('\n---\n');
    const [service, slice] = parseManifests(text, 'd.yaml', 'default').objects.map((o) => o.object as Record<string, any>);
    assert.equal(service!['metadata'].namespace, 'default');
    assert.equal(service!['spec'].type, 'ClusterIP');
    assert.deepEqual(service!['spec'].ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
    assert.equal(service!['spec'].sessionAffinityConfig.clientIP.timeoutSeconds, 10800);
    assert.deepEqual(slice!['endpoints'][0].conditions, { ready: true, serving: true, terminating: false });
  });

  it('allocates stable, distinct ClusterIPs only to Services without one', () => {
    const text = [
      'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 80}]}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: fixed}\nspec: {clusterIP: 127.100.0.10, ports: [{port: 80}]}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: headless}\nspec: {clusterIP: None, ports: [{port: 80}]}',
    ].join('\n---\n');
    const first = parseManifests(text, 'x.yaml', 'default').objects;
    const assigned = allocateClusterIPs(first, '127.100.0.0/16');
    assert.deepEqual([...assigned.keys()].sort(), ['default.service.default.a', 'default.service.default.b']);
    const ips = [...assigned.values()];
    assert.notEqual(ips[0], ips[1]);
    for (const ip of ips) assert.match(ip, /^127\.100\.\d+\.\d+$/);
    const again = parseManifests(text, 'x.yaml', 'default').objects;
    assert.deepEqual(allocateClusterIPs(again, '127.100.0.0/16'), assigned);
  });
});
