#!/usr/bin/env node
// Benchmark: translation of N Services (each with one EndpointSlice of E endpoints) into Envoy
// resources and LB entries, then protobuf encoding of every resource: what the translator does on
// a full re-translation. Prints the median of R runs after a warm-up, and the heap in use.
// Run: npm run build && node bench/translate-services.mjs [services=2000] [endpoints=5] [runs=5]
import { cpus } from 'node:os';
import { encodeResource } from '@tendril/envoy';
import { translate } from '@tendril/translation';

const services = Number(process.argv[2] ?? 2000);
const endpointsPer = Number(process.argv[3] ?? 5);
const runs = Number(process.argv[4] ?? 5);

const objects = [];
for (let i = 0; i < services; i++) {
  const name = `svc-${i}`;
  const vip = `127.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  objects.push([`default.service.default.${name}`, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: vip, clusterIPs: [vip], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } }]);
  objects.push([
    `default.endpointslice.default.${name}-1`,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: endpointsPer }, (_, e) => ({ addresses: [`127.1.${(i * endpointsPer + e) >> 8 & 255}.${(i * endpointsPer + e) & 255}`], conditions: { ready: true, serving: true, terminating: false } })),
    },
  ]);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const translateMs = [];
const encodeMs = [];
let resources = 0;
for (let run = 0; run < runs + 1; run++) {
  let start = performance.now();
  const output = translate({ cluster: 'default', objects });
  const translated = performance.now() - start;
  start = performance.now();
  for (const resource of output.xds) encodeResource(resource.type, resource.resource);
  const encoded = performance.now() - start;
  resources = output.xds.length;
  if (run > 0) {
    translateMs.push(translated);
    encodeMs.push(encoded);
  }
}
const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
console.log(`translate-services: ${services} Services x ${endpointsPer} endpoints -> ${resources} xDS resources`);
console.log(`  translate  median ${median(translateMs).toFixed(1)} ms   encode median ${median(encodeMs).toFixed(1)} ms   heap ${heapMb.toFixed(0)} MiB`);
console.log(`  on ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, node ${process.version}; ${runs} runs after one warm-up`);
console.log(`  repeat: node bench/translate-services.mjs ${services} ${endpointsPer} ${runs}`);
