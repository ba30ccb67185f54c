#!/usr/bin/env node
// Benchmark, before and after: the single changes of translate-ingress.mjs (an EndpointSlice, a
// Service edited, an Ingress edited, a Service and an Ingress created and deleted; memo kept, key
// told) on the translation library of another checkout and on this one, in one process, so that the
// machine's load hits both alike. Prints the medians of 5 and which changes took the full pass.
// Run: npm run build (in both checkouts) && node bench/translate-ingress-ab.mjs /path/to/older/checkout [services=1000]
import * as now from '@tendril/translation';
import { ingressMesh, meshSlice } from './ingress-mesh.mjs';

const old = await import(`${process.argv[2]}/libs/translation/dist/index.js`);
const services = Number(process.argv[3] ?? 1000);
const runs = 5;
const options = { proxyPortCount: 20000 };
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const [label, lib] of [['before', old], ['after', now]]) {
  const objects = ingressMesh(services, 3);
  const memo = new lib.TranslationMemo();
  lib.translate({ cluster: 'c', objects, options, memo });
  const ms = {};
  const passes = {};
  const timed = (kind, key, value) => {
    if (value) objects.set(key, value); else objects.delete(key);
    const start = performance.now();
    lib.translate({ cluster: 'c', objects, options, memo, changes: [[key, value]] });
    (ms[kind] ??= []).push(performance.now() - start);
    passes[kind] = memo.lastPass;
  };
  const newService = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'new-svc', namespace: 'default' }, spec: { clusterIP: '127.99.0.1', ports: [{ name: 'http', port: 80 }] } };
  const newIngress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'extra', namespace: 'default' }, spec: { ingressClassName: 'cilium', rules: [{ host: 'extra.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc-1', port: { number: 80 } } } }] } }] } };
  for (let run = 0; run < runs; run++) {
    timed('slice', 'c.endpointslice.default.svc-0-1', meshSlice(0, 3, run + 1));
    const svc = structuredClone(objects.get('c.service.default.svc-2')); svc.metadata.annotations = { 'io.cilium/lb-mode': run % 2 ? 'least-request' : 'random' };
    timed('service', 'c.service.default.svc-2', svc);
    const ing = structuredClone(objects.get('c.ingress.default.web-0')); ing.metadata.annotations = { 'ingress.cilium.io/request-timeout': `${run + 1}s` };
    timed('ingress', 'c.ingress.default.web-0', ing);
    timed('svcCreated', 'c.service.default.new-svc', newService);
    timed('svcDeleted', 'c.service.default.new-svc', undefined);
    timed('ingCreated', 'c.ingress.default.extra', newIngress);
    timed('ingDeleted', 'c.ingress.default.extra', undefined);
  }
  console.log(label, Object.entries(ms).map(([k, v]) => `${k} ${median(v).toFixed(1)} (${passes[k]})`).join(', '));
}
