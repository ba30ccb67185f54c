import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_MANIFEST_LIMITS, parseManifests } from './index.js';

// The Gateway API conformance manifests (../shared/conformance, beside the repository): an API server
// accepts every one of them once the suite's applier has filled its placeholders, so must standalone mode.
const conformance = new URL('../../../../shared/conformance/tests/', import.meta.url);

/** The Go suite's applier: our GatewayClass and controller name, addresses from the pools. */
function withPlaceholdersFilled(text: string): string {
  return text
    .replaceAll('{GATEWAY_CLASS_NAME}', 'tendril')
    .replaceAll('{GATEWAY_CONTROLLER_NAME}', 'tendril.io/gateway-controller')
    .replaceAll('PLACEHOLDER_UNUSABLE_ADDRS', '198.51.100.7')
    .replaceAll('PLACEHOLDER_USABLE_ADDRS', '198.18.0.7');
}

describe('Gateway API objects', () => {
  it('accepts every object of the conformance suite that Tendril mirrors', { skip: !existsSync(conformance) && 'no ../shared/conformance' }, () => {
    let accepted = 0;
    for (const file of readdirSync(conformance).filter((f) => f.endsWith('.yaml'))) {
      const parsed = parseManifests(withPlaceholdersFilled(readFileSync(new URL(file, conformance), 'utf8')), file, 'default');
      assert.deepEqual(parsed.errors, [], file);
      accepted += parsed.objects.length;
    }
    assert.ok(accepted > 200, `only ${accepted} objects`);
  });

  it('reads a null field of a Gateway API object as absent, as an API server prunes it', () => {
    const text = 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: infra}\nspec:\n  gatewayClassName: cilium\n  addresses: null\n  listeners:\n  - {name: web, port: 80, protocol: HTTP, hostname: null, allowedRoutes: {kinds: [{group: null, kind: HTTPRoute}]}}';
    const parsed = parseManifests(text, 'gw.yaml', 'default');
    assert.deepEqual(parsed.errors, []);
    const listener = (parsed.objects[0]!.object as unknown as { spec: { listeners: Record<string, unknown>[] } }).spec.listeners[0]!;
    const kind = (listener['allowedRoutes'] as { kinds: Record<string, unknown>[] }).kinds[0]!;
    assert.equal(kind['group'] ?? 'gateway.networking.k8s.io', 'gateway.networking.k8s.io', 'null means the default group');
    assert.equal('hostname' in listener, false);
    assert.equal('addresses' in (parsed.objects[0]!.object as unknown as { spec: object }).spec, false);
  });

  it('refuses what the CRDs refuse, naming the field as an API server does, and keeps the other objects', () => {
    const text = [
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: cilium, listeners: [{name: web, protocol: HTTP}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {rules: [{backendRefs: [{name: echo, port: 80, weight: -1}], matches: [{path: {type: Suffix, value: /x}}]}]}',
      'apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: rg}\nspec: {from: [], to: [{group: "", kind: Service}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: twins}\nspec: {gatewayClassName: cilium, listeners: [{name: web, port: 80, protocol: HTTP}, {name: web, port: 81, protocol: HTTP}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: no-port}\nspec: {rules: [{backendRefs: [{name: echo}]}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: redirect-code}\nspec: {rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: fine}\nspec: {parentRefs: [{name: g}], someFutureField: {x: 1}}',
      'apiVersion: gateway.networking.k8s.io/v1alpha9\nkind: HTTPRoute\nmetadata: {name: unserved}\nspec: {}',
    ].join('\n---\n');
    const parsed = parseManifests(text, 'gw.yaml', 'default');
    assert.deepEqual(parsed.objects.map((o) => o.key), ['default.httproute.default.fine']);
    const byObject = Object.fromEntries(parsed.errors.map((e) => [e.object, e.message]));
    assert.match(byObject['default/Gateway/g']!, /spec\.listeners\[0\]\.port: Required value/);
    assert.match(byObject['default/HTTPRoute/r']!, /spec\.rules\[0\]\.backendRefs\[0\]\.weight: Invalid value: -1: spec\.rules\[0\]\.backendRefs\[0\]\.weight in body should be greater than or equal to 0/);
    assert.match(byObject['default/HTTPRoute/r']!, /spec\.rules\[0\]\.matches\[0\]\.path\.type: Unsupported value: "Suffix": supported values: "Exact", "PathPrefix", "RegularExpression"/);
    assert.match(byObject['default/ReferenceGrant/rg']!, /spec\.from: Invalid value: 0: spec\.from in body should have at least 1 items/);
    assert.match(byObject['default/Gateway/twins']!, /spec\.listeners\[1\]: Duplicate value: \{"name":"web"\}/);
    assert.match(byObject['default/Gateway/twins']!, /spec\.listeners: Invalid value: "array": Listener name must be unique within the Gateway/);
    assert.match(byObject['default/HTTPRoute/no-port']!, /spec\.rules\[0\]\.backendRefs\[0\]: Invalid value: "object": Must have port for Service reference/);
    assert.match(byObject['default/HTTPRoute/redirect-code']!, /spec\.rules\[0\]\.filters\[0\]\.requestRedirect\.statusCode: Unsupported value: 305/);
    assert.match(byObject['default/HTTPRoute/unserved']!, /no matches for kind "HTTPRoute" in version "gateway\.networking\.k8s\.io\/v1alpha9"/);
    // an unknown field is dropped, as an API server drops it, and reported
    assert.equal((parsed.objects[0]!.object as unknown as { spec: Record<string, unknown> }).spec['someFutureField'], undefined);
    assert.ok(parsed.notes.some((note) => note.object === 'default/HTTPRoute/fine' && /unknown fields dropped.*spec\.someFutureField/.test(note.message)));
  });

  it('drops a null and applies the default where an API server does (allowedRoutes.kinds[].group: null)', () => {
    const text = 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: cilium, listeners: [{name: web, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{group: null, kind: HTTPRoute}]}}]}';
    const parsed = parseManifests(text, 'gw.yaml', 'default');
    assert.deepEqual(parsed.errors, []);
    const listener = (parsed.objects[0]!.object as unknown as { spec: { listeners: Record<string, any>[] } }).spec.listeners[0]!;
    assert.deepEqual(listener['allowedRoutes'], { kinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }], namespaces: { from: 'Same' } });
  });

  it('plays the standard channel when told: experimental fields are dropped, the experimental v1alpha2 routes are checked as v1', () => {
    const text = [
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: retries}\nspec: {rules: [{retry: {attempts: 2}, backendRefs: [{name: echo, port: 80}]}]}',
      'apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\nmetadata: {name: tls}\nspec: {hostnames: [a.example.com], rules: [{backendRefs: [{name: a, port: 443}]}, {backendRefs: [{name: b, port: 443}]}]}',
    ].join('\n---\n');
    const standard = parseManifests(text, 'gw.yaml', 'default', { ...DEFAULT_MANIFEST_LIMITS, gatewayApiChannel: 'standard' });
    assert.deepEqual(standard.objects.map((o) => o.key), ['default.httproute.default.retries']);
    assert.equal((standard.objects[0]!.object as unknown as { spec: { rules: Record<string, unknown>[] } }).spec.rules[0]!['retry'], undefined);
    assert.match(standard.errors[0]!.message, /spec\.rules: Too many: 2: must have at most 1 items/);
    const experimental = parseManifests(text, 'gw.yaml', 'default');
    assert.deepEqual(experimental.errors, []);
    assert.equal(experimental.objects.length, 2);
    assert.deepEqual((experimental.objects[0]!.object as unknown as { spec: { rules: Record<string, unknown>[] } }).spec.rules[0]!['retry'], { attempts: 2 });
  });
});
