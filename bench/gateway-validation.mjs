#!/usr/bin/env node
// Standalone validation of Gateway API objects (libs/kube admitObject: pruning, defaults, OpenAPI
// checks, list types, CEL rules) on N HTTPRoutes of the memory bench's shape (own hostname, a path
// and a header match, one backend) plus a Gateway of 16 HTTPS listeners; per channel, the time per
// object (after one warm-up pass that compiles the schemas and rules) and the first object's cost.
// Build first: npx nx run kube:build. Usage: node bench/gateway-validation.mjs [routes] [passes]
import { admitObject } from '../libs/kube/dist/index.js';

const routes = Number(process.argv[2] ?? 1000);
const passes = Number(process.argv[3] ?? 3);
const group = 'gateway.networking.k8s.io';
const gateway = {
  apiVersion: `${group}/v1`,
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'default' },
  spec: {
    gatewayClassName: 'tendril',
    listeners: Array.from({ length: 16 }, (_, i) => ({ name: `https-${i}`, port: 443, protocol: 'HTTPS', hostname: `h${i}.example.com`, tls: { certificateRefs: [{ name: `cert-${i}` }] } })),
  },
};
const route = (i) => ({
  apiVersion: `${group}/v1`,
  kind: 'HTTPRoute',
  metadata: { name: `route-${i}`, namespace: 'default' },
  spec: {
    parentRefs: [{ name: 'gw' }],
    hostnames: [`r${i}.example.com`],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: `/p${i}` }, headers: [{ name: 'x-tenant', value: `t${i}` }] }], backendRefs: [{ name: `svc-${i}`, port: 80 }] }],
  },
});
const objects = [gateway, ...Array.from({ length: routes }, (_, i) => route(i))];
for (const channel of ['experimental', 'standard']) {
  let start = performance.now();
  const first = admitObject(route(0), channel);
  const firstMs = performance.now() - start;
  if (first.problems.length > 0) throw new Error(first.problems.join('; '));
  for (const object of objects) admitObject(object, channel);
  const times = [];
  for (let pass = 0; pass < passes; pass++) {
    start = performance.now();
    for (const object of objects) admitObject(object, channel);
    times.push((performance.now() - start) / objects.length);
  }
  times.sort((a, b) => a - b);
  console.log(`${channel}: ${objects.length} objects (${routes} HTTPRoutes, 1 Gateway of 16 listeners): ${times[Math.floor(times.length / 2)].toFixed(3)} ms per object (median of ${passes} passes), first object ${firstMs.toFixed(0)} ms (schema and rules compiled)`);
}
console.log(`command: node bench/gateway-validation.mjs ${routes} ${passes}`);
