#!/usr/bin/env node
// Benchmark: full translation of N Services (one port, E endpoints each) routed by Ingresses (one
// dedicated Ingress per 10 Services, one path per Service, a host per Ingress), into CDS, EDS, LDS,
// RDS (with the proxyless API listeners) and LB entries; then one EndpointSlice change translated
// again with the memo the translator keeps (only what depends on the change is rebuilt). Prints
// medians and the heap in use.
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
const changeMs = [];
let output;
const memo = new TranslationMemo();
translate({ cluster: 'c', objects, options, memo });
for (let run = 0; run < runs + 1; run++) {
  let start = performance.now();
  output = translate({ cluster: 'c', objects, options });
  const full = performance.now() - start;
  objects.set('c.endpointslice.default.svc-0-1', slice(0, run + 1)); // one object changes
  start = performance.now();
  translate({ cluster: 'c', objects, options, memo });
  const change = performance.now() - start;
  if (run > 0) {
    fullMs.push(full);
    changeMs.push(change);
  }
}
const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
const count = (type) => output.xds.filter((item) => item.type === type).length;
console.log(`translate-ingress: ${services} Services x ${endpointsPer} endpoints, ${Math.ceil(services / perIngress)} Ingresses with ${services} paths`);
console.log(`  -> ${count('cluster')} clusters, ${count('endpoint')} EDS, ${count('listener')} listeners, ${count('route')} routes, ${output.lb.length} LB entries, ${output.errors.length} errors`);
console.log(`  full translation median ${median(fullMs).toFixed(1)} ms   one EndpointSlice changed (memo) ${median(changeMs).toFixed(1)} ms (${memo.stats.built} unit(s) rebuilt, ${memo.stats.reused} reused)   heap ${heapMb.toFixed(0)} MiB`);
console.log(`  on ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, node ${process.version}; ${runs} runs after one warm-up`);
console.log(`  repeat: node bench/translate-ingress.mjs ${services} ${endpointsPer} ${runs}`);
