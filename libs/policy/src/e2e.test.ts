// The transcribed upstream NetworkPolicy e2e cases (testdata/netpol-e2e.yaml), judged by the compiled policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { compilePolicy, traceAddresses } from './index.js';

interface Case {
  name: string;
  pods: string[];
  policies: { namespace: string; name: string; spec: Record<string, unknown> }[];
  checks: { port: number; protocol?: 'TCP' | 'UDP'; expect: [string, string, boolean][] }[];
}

const data = parse(readFileSync(new URL('../testdata/netpol-e2e.yaml', import.meta.url), 'utf8')) as { cases: Case[] };

/** The suite's pods: each in its namespace, labelled pod=<name>, serving TCP and UDP on 80 and 81 under named ports. */
function objects(one: Case): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const namespace of ['x', 'y', 'z']) out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace } } });
  one.pods.forEach((pod, index) => {
    const [namespace, name] = pod.split('/');
    const ports = [80, 81].flatMap((port) => ['TCP', 'UDP'].map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol })));
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { pod: name } },
      spec: { nodeName: 'node-1', containers: [{ name: 'cont', ports }] },
      status: { phase: 'Running', podIP: `198.18.0.${index + 10}` },
    });
  });
  for (const policy of one.policies) out.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: policy.name, namespace: policy.namespace }, spec: policy.spec });
  return out;
}

const matches = (pattern: string, pod: string) => pattern === '*' || pattern === pod || (pattern.endsWith('/*') && pod.startsWith(pattern.slice(0, -1)));

test('the transcribed upstream cases are all there', () => {
  assert.ok(data.cases.length >= 15, `${data.cases.length} cases`);
});

for (const one of data.cases) {
  test(`upstream netpol: ${one.name}`, () => {
    const compiled = compilePolicy({ cluster: 'default', objects: objects(one) });
    assert.deepEqual(compiled.errors, []);
    const address = new Map(one.pods.map((pod, index) => [pod, `198.18.0.${index + 10}`]));
    for (const check of one.checks) {
      const wrong: string[] = [];
      for (const from of one.pods) {
        for (const to of one.pods) {
          if (from === to) continue;
          let expected = true;
          for (const [fromPattern, toPattern, allowed] of check.expect) if (matches(fromPattern, from) && matches(toPattern, to)) expected = allowed;
          const result = traceAddresses(compiled, address.get(from)!, address.get(to)!, check.protocol ?? 'TCP', check.port);
          if ((result.verdict === 'allowed') !== expected) wrong.push(`${from} -> ${to}:${check.port} ${result.verdict}, expected ${expected ? 'allowed' : 'denied'} (${result.steps.map((step) => `${step.direction}: ${step.reason}`).join('; ')})`);
        }
      }
      assert.deepEqual(wrong, [], `port ${check.port}`);
    }
  });
}
