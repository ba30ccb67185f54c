#!/usr/bin/env node
// Benchmark: full translation of N Services (one port, E endpoints each) routed by Ingresses (one
// dedicated Ingress per 10 Services, one path per Service, a host per Ingress), into CDS, EDS, LDS,
// RDS (with the proxyless API listeners) and LB entries; then single changes translated again with
// the memo the translator keeps and the changed key told, as the translator does (patch/): an
// EndpointSlice, a Service's lb-mode annotation, an Ingress's request-timeout annotation, a Service
// created and deleted, an Ingress created and deleted; and the slice change without the key told (a full pass replaying unchanged
// units). Prints medians and the heap.
// Run: npm run build && node bench/translate-ingress.mjs [services=1000] [endpoints=3] [runs=5]
import { cpus } from 'node:os';
import { TranslationMemo, translate } from '@tendril/translation';

const services = Number(process.argv[2] ?? 1000);
const endpointsPer = Number(process.argv[3] ?? 3);
const runs = Number(process.argv[4] ?? 5);
const perIngress = 10;
// one node-proxy port per dedicated Ingress: more than the default range of 1000
const options = { proxyPortCount: 20000 };

const address = (i) => `${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const slice = (i, generation) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `svc-${i}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: Array.from({ length: endpointsPer }, (_, e) => ({ addresses: [`10.${address(i * endpointsPer + e + generation)}`], conditions: { ready: true } })),
});
const objects = new Map();
for (let i = 0; i < services; i++) {
  const name = `svc-${i}`;
  objects.set(`c.service.default.${name}`, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: `127.${100 + ((i >> 16) & 3)}.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80 }] } });
  objects.set(`c.endpointslice.default.${name}-1`, slice(i, 0));
}
for (let g = 0; g * perIngress < services; g++) {
  const paths = [];
  for (let i = g * perIngress; i < Math.min(services, (g + 1) * perIngress); i++) paths.push({ path: `/svc-${i}`, pathType: 'Prefix', backend: { service: { name: `svc-${i}`, port: { number: 80 } } } });
  objects.set(`c.ingress.default.web-${g}`, { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: `web-${g}`, namespace: 'default' }, spec: { ingressClassName: 'cilium', rules: [{ host: `web-${g}.example.com`, http: { paths } }] } });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fullMs = [];
// One object changed, translated again with the memo the translator keeps and the changed key told
// (as the translator does): an EndpointSlice is patched into the last output, other kinds replay
// unchanged units in a full pass. 'slice, memo pass' is the same slice change without the key told.
const changeMs = { slice: [], sliceMemo: [], service: [], ingress: [], created: [], deleted: [], ingressCreated: [], ingressDeleted: [] };
const passes = {};
let output;
const memo = new TranslationMemo();
translate({ cluster: 'c', objects, options, memo });
const timed = (kind, key, value, told = true) => {
  objects.set(key, value);
  const start = performance.now();
  translate({ cluster: 'c', objects, options, memo, ...(told ? { changes: [[key, value]] } : {}) });
  const ms = performance.now() - start;
  passes[kind] = `${memo.lastPass}, ${memo.stats.built} unit(s) rebuilt`;
  return ms;
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
for (let run = 0; run < runs + 1; run++) {
  const start = performance.now();
  output = translate({ cluster: 'c', objects, options });
  const full = performance.now() - start;
  const slow = timed('sliceMemo', 'c.endpointslice.default.svc-1-1', slice(1, run + 1), false);
  const patched = timed('slice', 'c.endpointslice.default.svc-0-1', slice(0, run + 1));
  const edited = timed('service', 'c.service.default.svc-2', service(2, run));
  const routed = timed('ingress', 'c.ingress.default.web-0', ingress(0, run));
  // A Service of its own created, then deleted (its slice stays, as when Pods outlive their Service).
  const fresh = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'new-svc', namespace: 'default' }, spec: { clusterIP: '127.99.0.1', ports: [{ name: 'http', port: 80 }] } };
  const created = timed('created', 'c.service.default.new-svc', fresh);
  objects.delete('c.service.default.new-svc');
  const start2 = performance.now();
  translate({ cluster: 'c', objects, options, memo, changes: [['c.service.default.new-svc', undefined]] });
  const deleted = performance.now() - start2;
  passes.deleted = `${memo.lastPass}, ${memo.stats.built} unit(s) rebuilt`;
  // An Ingress of its own (one more load balancer) created, then deleted.
  const extra = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'extra', namespace: 'default' }, spec: { ingressClassName: 'cilium', rules: [{ host: 'extra.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc-1', port: { number: 80 } } } }] } }] } };
  const ingressCreated = timed('ingressCreated', 'c.ingress.default.extra', extra);
  objects.delete('c.ingress.default.extra');
  const start3 = performance.now();
  translate({ cluster: 'c', objects, options, memo, changes: [['c.ingress.default.extra', undefined]] });
  const ingressDeleted = performance.now() - start3;
  passes.ingressDeleted = `${memo.lastPass}, ${memo.stats.built} unit(s) rebuilt`;
  if (run > 0) {
    fullMs.push(full);
    changeMs.slice.push(patched);
    changeMs.sliceMemo.push(slow);
    changeMs.service.push(edited);
    changeMs.ingress.push(routed);
    changeMs.created.push(created);
    changeMs.deleted.push(deleted);
    changeMs.ingressCreated.push(ingressCreated);
    changeMs.ingressDeleted.push(ingressDeleted);
  }
}
const count = (type) => output.xds.filter((item) => item.type === type).length;
console.log(`translate-ingress: ${services} Services x ${endpointsPer} endpoints, ${Math.ceil(services / perIngress)} Ingresses with ${services} paths`);
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
