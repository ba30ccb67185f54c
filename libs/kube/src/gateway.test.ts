import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseManifests } from './index.js';

// The Gateway API conformance manifests (../shared/conformance, beside the repository): an API server
// accepts every one of them, so must standalone mode.
const conformance = new URL('../../../../shared/conformance/tests/', import.meta.url);

describe('Gateway API objects', () => {
  it('accepts every object of the conformance suite that Tendril mirrors', { skip: !existsSync(conformance) && 'no ../shared/conformance' }, () => {
    let accepted = 0;
    for (const file of readdirSync(conformance).filter((f) => f.endsWith('.yaml'))) {
      const parsed = parseManifests(readFileSync(new URL(file, conformance), 'utf8'), file, 'default');
      assert.deepEqual(parsed.errors, [], file);
      accepted += parsed.objects.length;
    }
    assert.ok(accepted > 200, `only ${accepted} objects`);
  });

  it('refuses fields Tendril uses when they have the wrong shape, naming them', () => {
    const text = [
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: cilium, listeners: [{name: web, protocol: HTTP}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {rules: [{backendRefs: [{name: echo, port: 80, weight: -1}], matches: [{path: {type: Suffix, value: /x}}]}]}',
      'apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: rg}\nspec: {from: [], to: [{group: "", kind: Service}]}',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: fine}\nspec: {parentRefs: [{name: g}], someFutureField: {x: 1}}',
    ].join('\n---\n');
    const parsed = parseManifests(text, 'gw.yaml', 'default');
    assert.deepEqual(parsed.objects.map((o) => o.key), ['default.httproute.default.fine']);
    const byObject = Object.fromEntries(parsed.errors.map((e) => [e.object, e.message]));
    assert.match(byObject['default/Gateway/g']!, /spec\.listeners\[0\]\.port: required/);
    assert.match(byObject['default/HTTPRoute/r']!, /spec\.rules\[0\]\.backendRefs\[0\]\.weight/);
    assert.match(byObject['default/HTTPRoute/r']!, /spec\.rules\[0\]\.matches\[0\]\.path\.type/);
    assert.match(byObject['default/ReferenceGrant/rg']!, /spec\.from/);
  });
});
