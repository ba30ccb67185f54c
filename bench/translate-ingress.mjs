#!/usr/bin/env node
// Benchmark: full translation of N Services (one port, E endpoints each) routed by Ingresses (one
// dedicated Ingress per 10 Services, one path per Service, a host per Ingress), into CDS, EDS, LDS,
// RDS (with the proxyless API listeners) and LB entries; then single changes translated again with
// the memo the translator keeps and the changed key told, as the translator does (patch/): an
// EndpointSlice, a Service's lb-mode annotation, an Ingress's request-timeout annotation, a Service
// created and deleted, an Ingress created and deleted; and the slice change without the key told (a
// full pass replaying unchanged units). The mesh is bench/ingress-mesh.mjs. Prints medians and the heap.
// Run: npm run build && node bench/translate-ingress.mjs [services=1000] [endpoints=3] [runs=5]
import { cpus } from 'node:os';
import { TranslationMemo, translate } from '@tendril/translation';
import { PER_INGRESS, ingressMesh, meshSlice } from './ingress-mesh.mjs';

const services = Number(process.argv[2] ?? 1000);
const endpointsPer = Number(process.argv[3] ?? 3);
const runs = Number(process.argv[4] ?? 5);
// one node-proxy port per dedicated Ingress: more than the default range of 1000
const options = { proxyPortCount: 20000 };
const objects = ingressMesh(services, endpointsPer);
const slice = (i, generation) => meshSlice(i, endpointsPer, generation);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
// One object changed, translated again with the memo the translator keeps and the changed key told
// (as the translator does, patch/); 'EndpointSlice, key not told' is a slice change without it (the
// full pass, replaying unchanged units).
const changeMs = {};
const passes = {};
let output;
const memo = new TranslationMemo();
translate({ cluster: 'c', objects, options, memo });
/** Puts `value` under `key` (deletes it when undefined), translates, and keeps the time after the warm-up run. */
const timed = (run, kind, key, value, told = true) => {
  if (value) objects.set(key, value);
  else objects.delete(key);
  const start = performance.now();
  translate({ cluster: 'c', objects, options, memo, ...(told ? { changes: [[key, value]] } : {}) });
  const ms = performance.now() - start;
  passes[kind] = `${memo.lastPass}, ${memo.stats.built} unit(s) rebuilt`;
  if (run > 0) (changeMs[kind] ??= []).push(ms);
};
const service = (i, run) => {
  const object = structuredClone(objects.get(`c.service.default.svc-${i}`));
  // Its clusters' load-balancing policy (a new CDS resource; the Ingress routing to it is rebuilt too).
  object.metadata.annotations = { 'io.cilium/lb-mode': run % 2 ? 'least-request' : 'random' };
  return object;
};
const ingress = (g, run) => {
  const object = structuredClone(objects.get(`c.ingress.default.web-${g}`));
  object.metadata.annotations = { 'ingress.cilium.io/request-timeout': `${run + 1}s` };
  return object;
};
// A Service of its own (its slice stays, as when Pods outlive their Service) and an Ingress of its
// own (one more load balancer), each created and deleted again.
const newService = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'new-svc', namespace: 'default' }, spec: { clusterIP: '127.99.0.1', ports: [{ name: 'http', port: 80 }] } };
const newIngress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'extra', namespace: 'default' }, spec: { ingressClassName: 'cilium', rules: [{ host: 'extra.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc-1', port: { number: 80 } } } }] } }] } };
const fullMs = [];
for (let run = 0; run < runs + 1; run++) {
  const start = performance.now();
  output = translate({ cluster: 'c', objects, options });
  if (run > 0) fullMs.push(performance.now() - start);
  timed(run, 'sliceMemo', 'c.endpointslice.default.svc-1-1', slice(1, run + 1), false);
  timed(run, 'slice', 'c.endpointslice.default.svc-0-1', slice(0, run + 1));
  timed(run, 'service', 'c.service.default.svc-2', service(2, run));
  timed(run, 'ingress', 'c.ingress.default.web-0', ingress(0, run));
  timed(run, 'created', 'c.service.default.new-svc', newService);
  timed(run, 'deleted', 'c.service.default.new-svc', undefined);
  timed(run, 'ingressCreated', 'c.ingress.default.extra', newIngress);
  timed(run, 'ingressDeleted', 'c.ingress.default.extra', undefined);
}
const count = (type) => output.xds.filter((item) => item.type === type).length;
console.log(`translate-ingress: ${services} Services x ${endpointsPer} endpoints, ${Math.ceil(services / PER_INGRESS)} Ingresses with ${services} paths`);
console.log(`  -> ${count('cluster')} clusters, ${count('endpoint')} EDS, ${count('listener')} listeners, ${count('route')} routes, ${output.lb.length} LB entries, ${output.errors.length} errors`);
console.log(`  full translation median ${median(fullMs).toFixed(1)} ms   heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
console.log(`  one object changed, memo kept, key told (medians):`);
console.log(`    EndpointSlice   ${median(changeMs.slice).toFixed(2)} ms (${passes.slice})`);
console.log(`    Service edited  ${median(changeMs.service).toFixed(1)} ms (${passes.service})`);
console.log(`    Ingress edited  ${median(changeMs.ingress).toFixed(1)} ms (${passes.ingress})`);
console.log(`    Service created ${median(changeMs.created).toFixed(1)} ms (${passes.created}), deleted ${median(changeMs.deleted).toFixed(1)} ms (${passes.deleted})`);
console.log(`    Ingress created ${median(changeMs.ingressCreated).toFixed(1)} ms (${passes.ingressCreated}), deleted ${median(changeMs.ingressDeleted).toFixed(1)} ms (${passes.ingressDeleted})`);
console.log(`    EndpointSlice, key not told: ${median(changeMs.sliceMemo).toFixed(1)} ms (${passes.sliceMemo})`);
console.log(`  on ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, node ${process.version}; ${runs} runs after one warm-up`);
console.log(`  repeat: node bench/translate-ingress.mjs ${services} ${endpointsPer} ${runs}`);
