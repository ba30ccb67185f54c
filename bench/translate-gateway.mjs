#!/usr/bin/env node
// Benchmark: Gateway API translation at Envoy Gateway's benchmark ladder: N HTTPRoutes on one Gateway
// (10, 100, 300, 500, 1,000), then 10,000 HTTPRoutes over 100 Gateways. Each HTTPRoute has its own
// hostname, a path match and a header match, and routes to its own Service (one port, 3 endpoints).
// Measured per scenario: full translate() time (median of the runs), heapUsed growth held by one
// translation's output (after a forced GC), and the latency of one route change (one HTTPRoute's path
// edited, translated again with the translator's memo, as the translator does), and of one route created
// and deleted again (both translations together); then one Gateway edited and one CiliumEnvoyConfig
// created and deleted again.
// Run: npm run build && node bench/translate-gateway.mjs [runs=5] [ladder=10,100,300,500,1000] [wide=10000x100]
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TranslationMemo, translate } from '@tendril/translation';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const runs = Number(process.argv[2] ?? 5);
const ladder = (process.argv[3] ?? '10,100,300,500,1000').split(',').map(Number);
const [wideRoutes, wideGateways] = (process.argv[4] ?? '10000x100').split('x').map(Number);

const octets = (i) => `${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function objectsFor(routes, gateways) {
  const objects = new Map();
  for (let g = 0; g < gateways; g++) {
    objects.set(`c.gateway.infra.gateway-${g}`, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: `gateway-${g}`, namespace: 'infra', generation: 1 },
      spec: { gatewayClassName: 'cilium', listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }] },
    });
  }
  for (let i = 0; i < routes; i++) {
    const name = `svc-${i}`;
    objects.set(`c.service.apps.${name}`, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { clusterIP: `127.96.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 8080 }] } });
    objects.set(`c.endpointslice.apps.${name}-1`, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'apps', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [0, 1, 2].map((e) => ({ addresses: [`10.${octets(i * 3 + e)}`], conditions: { ready: true } })),
    });
    objects.set(`c.httproute.apps.route-${i}`, route(i, gateways, '/'));
  }
  return objects;
}

function route(i, gateways, prefix) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: `route-${i}`, namespace: 'apps', generation: 1, creationTimestamp: '2026-11-23T00:00:00Z' },
    spec: {
      parentRefs: [{ name: `gateway-${i % gateways}`, namespace: 'infra' }],
      hostnames: [`route-${i}.example.com`],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: `${prefix}route-${i}` }, headers: [{ name: 'x-tenant', value: `t${i % 7}` }] }], backendRefs: [{ name: `svc-${i}`, port: 8080 }] }],
    },
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function measure(routes, gateways) {
  const objects = objectsFor(routes, gateways);
  const fullMs = [];
  const changeMs = [];
  for (let run = 0; run < runs + 1; run++) {
    const start = performance.now();
    translate({ cluster: 'c', objects });
    if (run > 0) fullMs.push(performance.now() - start);
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  let output = translate({ cluster: 'c', objects });
  gc();
  const heldMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  const memo = new TranslationMemo();
  translate({ cluster: 'c', objects, memo });
  let pass = '';
  for (let run = 0; run < runs + 1; run++) {
    const edited = route(0, gateways, `/v${run + 1}/`); // one route edited, its key told (patch/)
    objects.set('c.httproute.apps.route-0', edited);
    const start = performance.now();
    output = translate({ cluster: 'c', objects, memo, changes: [['c.httproute.apps.route-0', edited]] });
    if (run > 0) changeMs.push(performance.now() - start);
    pass = `${memo.lastPass}, ${memo.stats.built} Gateway(s) rebuilt`;
  }
  // One route created, then deleted again (a route of its own on gateway 0, to an existing Service).
  const churnMs = [];
  for (let run = 0; run < runs + 1; run++) {
    const added = { ...route(0, gateways, '/new/'), metadata: { ...route(0, gateways, '/new/').metadata, name: 'route-new' } };
    added.spec = { ...added.spec, hostnames: ['route-new.example.com'] };
    objects.set('c.httproute.apps.route-new', added);
    let start = performance.now();
    translate({ cluster: 'c', objects, memo, changes: [['c.httproute.apps.route-new', added]] });
    const created = performance.now() - start;
    objects.delete('c.httproute.apps.route-new');
    start = performance.now();
    output = translate({ cluster: 'c', objects, memo, changes: [['c.httproute.apps.route-new', undefined]] });
    if (run > 0) churnMs.push(created + (performance.now() - start));
  }
  const churnPass = memo.lastPass;
  // One Gateway edited (a label: its status and unit read it), and one CiliumEnvoyConfig created and deleted.
  const gatewayMs = [];
  const configMs = [];
  let gatewayPass = '';
  for (let run = 0; run < runs + 1; run++) {
    const gateway = structuredClone(objects.get('c.gateway.infra.gateway-0'));
    gateway.metadata.labels = { run: String(run) };
    objects.set('c.gateway.infra.gateway-0', gateway);
    let start = performance.now();
    translate({ cluster: 'c', objects, memo, changes: [['c.gateway.infra.gateway-0', gateway]] });
    if (run > 0) gatewayMs.push(performance.now() - start);
    gatewayPass = memo.lastPass;
    const config = { apiVersion: 'cilium.io/v2', kind: 'CiliumEnvoyConfig', metadata: { name: 'hand', namespace: 'apps' }, spec: { resources: [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'hand', type: 'STATIC', connectTimeout: '1s' }] } };
    objects.set('c.ciliumenvoyconfig.apps.hand', config);
    start = performance.now();
    translate({ cluster: 'c', objects, memo, changes: [['c.ciliumenvoyconfig.apps.hand', config]] });
    objects.delete('c.ciliumenvoyconfig.apps.hand');
    output = translate({ cluster: 'c', objects, memo, changes: [['c.ciliumenvoyconfig.apps.hand', undefined]] });
    if (run > 0) configMs.push(performance.now() - start);
  }
  console.log(`        one Gateway edited ${median(gatewayMs).toFixed(1)} ms (${gatewayPass}), one CiliumEnvoyConfig created and deleted ${median(configMs).toFixed(1)} ms (${memo.lastPass})`);
  const count = (type) => output.xds.filter((item) => item.type === type).length;
  const routesServed = output.ir.routes.filter((r) => r.name.includes('cilium-gateway')).reduce((sum, r) => sum + r.virtualHosts.reduce((n, v) => n + v.routes.length, 0), 0);
  console.log(
    `${String(routes).padStart(6)} HTTPRoutes on ${String(gateways).padStart(3)} Gateway(s): full ${median(fullMs).toFixed(1)} ms, heap held ${heldMb.toFixed(1)} MiB, ` +
      `one route changed ${median(changeMs).toFixed(1)} ms (${pass}), one created and deleted ${median(churnMs).toFixed(1)} ms (${churnPass})  (${count('listener')} listeners, ${count('route')} route configs, ${routesServed} Envoy routes, ${count('cluster')} clusters, ${output.errors.length} errors)`,
  );
}

console.log(`translate-gateway: ${runs} runs after one warm-up, medians; on ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, node ${process.version}`);
for (const routes of ladder) measure(routes, 1);
if (wideRoutes) measure(wideRoutes, wideGateways);
console.log(`repeat: node bench/translate-gateway.mjs ${runs} ${ladder.join(',')} ${wideRoutes}x${wideGateways}`);
