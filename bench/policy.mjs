#!/usr/bin/env node
// Benchmark: network policy at P pods and Q policies. (1) compilation (@tendril/policy) of the whole
// set; (2) one policy changed: compile again, plan this node's maps and write the difference into
// pinned maps (the translator's and the agent's CPU work from a policy change to enforcement, without
// the NATS hops, which tendril-policy adds once); (3) connect() cost from a workload cgroup with no
// policy program on the path, with the program but the workload selected by no policy, and with the
// workload under policy (allowed by its rules); (4) the policy maps' kernel memory (bytes_memlock) at P
// pods, all on this node. Needs root and a build (npm run build, npx nx run bpf:build).
// Run: node bench/policy.mjs [pods=1000] [policies=200] [connects=2000]
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';

const root = new URL('..', import.meta.url).pathname;
const { compilePolicy } = await import(join(root, 'libs/policy/dist/index.js'));
const { POLICY_MAP_NAMES, planPolicyMaps, policyEndpointCodec } = await import(join(root, 'libs/datapath/dist/index.js'));
const { PinnedMap, installPrograms } = await import(join(root, 'libs/ebpf/dist/index.js'));
const [pods, policyCount, connects] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 200), Number(process.argv[4] ?? 2000)];
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

// P pods over 20 namespaces and 100 apps; Q policies, half NetworkPolicy (ingress from two apps on a port
// range), half CiliumNetworkPolicy (egress to an app and a CIDR set with except, a deny rule)
const objects = [];
for (let n = 0; n < 20; n++) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${n}`, labels: { 'kubernetes.io/metadata.name': `ns-${n}`, team: `t${n % 5}` } } });
for (let i = 0; i < pods; i++) {
  objects.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${i}`, namespace: `ns-${i % 20}`, uid: `uid-${i}`, labels: { app: `app-${i % 100}`, 'pod-template-hash': String(i) } }, spec: { nodeName: 'node-a' }, status: { phase: 'Running', podIP: `198.18.${i >> 8}.${i & 255}` } });
}
const policy = (q, port, cidr = q) =>
  q % 2 === 0
    ? { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `np-${q}`, namespace: `ns-${q % 20}` }, spec: { podSelector: { matchLabels: { app: `app-${q % 100}` } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${q % 5}` } }, podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [`app-${(q + 1) % 100}`, `app-${(q + 2) % 100}`] }] } }], ports: [{ protocol: 'TCP', port, endPort: port + 20 }] }] } }
    : { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: `cnp-${q}`, namespace: `ns-${q % 20}` }, spec: { endpointSelector: { matchLabels: { app: `app-${q % 100}` } }, egress: [{ toEndpoints: [{ matchLabels: { app: `app-${(q + 3) % 100}` } }], toPorts: [{ ports: [{ port: String(port), protocol: 'TCP' }] }] }, { toCIDRSet: [{ cidr: `198.19.${cidr}.0/24`, except: [`198.19.${cidr}.128/25`] }] }], egressDeny: [{ toEntities: ['world'], toPorts: [{ ports: [{ port: '25' }] }] }] } };
for (let q = 0; q < policyCount; q++) objects.push(policy(q, 8000 + q));

/** The translator's numbering: reserved fixed, the rest in key order; tendril-policy values. */
function values(compiled) {
  const numbers = new Map();
  let next = 256;
  for (const identity of compiled.identities) numbers.set(identity.key, identity.reserved ?? next++);
  const number = (key) => (key === '*' ? 0 : numbers.get(key));
  const direction = (d) => ({ enforced: d.enforced, ...(d.failClosed ? { failClosed: d.failClosed } : {}), rules: d.rules.map((rule) => ({ ...rule, peers: rule.peers.map(number) })), policies: d.policies });
  return {
    addresses: compiled.addresses.map((a) => ({ v: 1, prefix: a.prefix, identity: number(a.identity), ...(a.owner ? { owner: a.owner } : {}), ...(a.uid ? { uid: a.uid } : {}), ...(a.node ? { node: a.node } : {}) })),
    policies: compiled.policies.map((p) => ({ v: 1, identity: number(p.identity), key: p.identity, ingress: direction(p.ingress), egress: direction(p.egress) })),
  };
}

const name = `tendril-bench-policy-${process.pid}`;
const cgroup = `/sys/fs/cgroup/unified/${name}`;
const pins = `/sys/fs/bpf/${name}`;
mkdirSync(cgroup);
const cgroups = [];
try {
  // every pod a cgroup of its own, so the endpoint map holds P entries as on a node with P pods
  for (let i = 0; i < pods; i++) {
    const path = join(cgroup, `pod-${i}`);
    mkdirSync(path);
    cgroups.push(path);
  }
  const workloadsOf = (v) => {
    const byUid = new Map(v.addresses.filter((a) => a.uid).map((a) => [a.uid, a.identity]));
    return new Map(cgroups.map((path, i) => [BigInt(statSync(path).ino), byUid.get(`uid-${i}`)]));
  };
  installPrograms({ objectPath: join(root, 'bpf/build/policy.o'), pinRoot: pins, cgroupPath: cgroup });
  const maps = Object.fromEntries(Object.entries(POLICY_MAP_NAMES).map(([key, map]) => [key, PinnedMap.open(join(pins, map))]));
  const write = (plan) => {
    let writes = 0;
    const apply = (map, desired) => {
      const held = new Set(map.keys().map((k) => k.toString('hex')));
      for (const [hex, [key, value]] of desired) if (!held.has(hex)) (map.update(key, value), writes++);
      for (const key of map.keys()) if (!desired.has(key.toString('hex'))) (map.delete(key), writes++);
    };
    apply(maps.ipcache4, plan.ipcache);
    apply(maps.allow, new Map([...plan.allow].map(([hex, key]) => [hex, [key, Buffer.alloc(4)]])));
    apply(maps.deny, new Map([...plan.deny].map(([hex, key]) => [hex, [key, Buffer.alloc(4)]])));
    apply(maps.endpoints, new Map([...plan.endpoints].map(([id, value]) => { const key = policyEndpointCodec.key(id); return [key.toString('hex'), [key, value]]; })));
    return writes;
  };

  let start = process.hrtime.bigint();
  const compiled = compilePolicy({ cluster: 'bench', objects });
  const compileMs = ms(start);
  start = process.hrtime.bigint();
  const v = values(compiled);
  const plan = planPolicyMaps(v.addresses, v.policies, workloadsOf(v), 'node-a');
  const planMs = ms(start);
  start = process.hrtime.bigint();
  const firstWrites = write(plan);
  const firstWriteMs = ms(start);

  // one policy changed (its CIDR set moves): what it costs until the kernel enforces it
  const changed = objects.map((o) => (o.metadata.name === 'cnp-1' ? policy(1, 8001, 250) : o));
  start = process.hrtime.bigint();
  const again = compilePolicy({ cluster: 'bench', objects: changed });
  const v2 = values(again);
  const writes = write(planPolicyMaps(v2.addresses, v2.policies, workloadsOf(v2), 'node-a'));
  const changeMs = ms(start);

  const memlock = Object.fromEntries(Object.entries(POLICY_MAP_NAMES).map(([key, map]) => [key, JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', join(pins, map)], { encoding: 'utf8' })).bytes_memlock]));
  const entries = { endpoints: maps.endpoints.keys().length, ipcache: maps.ipcache4.keys().length, allow: maps.allow.keys().length, deny: maps.deny.keys().length };

  // connect() cost: a server outside the cgroups; a client in a cgroup (a) outside the policy cgroup,
  // (b) in a pod cgroup selected by no policy, (c) in a selected pod cgroup whose egress allows it
  const server = createServer((s) => s.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  // pod-1 (app-1) is under cnp-1's egress: allow everything to 127.0.0.1 for it (an extra allow-all rule)
  const selectedCgroup = cgroups[1];
  const selectedKey = policyEndpointCodec.key(BigInt(statSync(selectedCgroup).ino));
  const identity = policyEndpointCodec.decode(maps.endpoints.lookup(selectedKey)).identity;
  const allKey = Buffer.alloc(16);
  allKey.writeUInt32LE(80 + 0, 0);
  allKey.writeUInt32BE(identity, 4);
  allKey.writeUInt32BE(0, 8);
  allKey.writeUInt8(1, 12);
  maps.allow.update(allKey, Buffer.alloc(4));
  const outside = `/sys/fs/cgroup/unified/${name}-outside`;
  mkdirSync(outside);
  const client = `const net=require('node:net');(async()=>{const t=[];for(let i=0;i<${connects};i++){const s=process.hrtime.bigint();await new Promise((r)=>{const c=net.connect(${port},'127.0.0.1');c.on('connect',()=>{t.push(Number(process.hrtime.bigint()-s)/1e3);c.destroy();r();});c.on('error',r);});}t.sort((a,b)=>a-b);console.log(JSON.stringify({p50:t[t.length>>1],p90:t[Math.floor(t.length*0.9)],n:t.length}));})();`;
  // asynchronously: the server lives in this process
  const run = (path) =>
    new Promise((resolve, reject) => {
      let out = '';
      const child = spawn('sh', ['-c', `echo $$ > ${path}/cgroup.procs && exec ${JSON.stringify(process.execPath)} -e "$0"`, client]);
      child.stdout.on('data', (chunk) => (out += chunk));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited ${code}`))));
    });
  // a workload cgroup below the programs' cgroup that no policy selects (no endpoint entry)
  const unselectedCgroup = join(cgroup, 'unselected');
  mkdirSync(unselectedCgroup);
  cgroups.push(unselectedCgroup);
  const results = {};
  for (let round = 0; round < 3; round++) {
    for (const [label, path] of [['no policy program', outside], ['program, workload selected by no policy', unselectedCgroup], ['workload under policy (allowed)', selectedCgroup]]) {
      const r = await run(path);
      (results[label] ??= []).push(r.p50);
    }
  }
  server.close();
  rmdirSync(outside);
  for (const map of Object.values(maps)) map.close();

  const load = loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`policy bench: ${pods} pods (${compiled.identities.length} identities), ${policyCount} policies; ${cpus()[0].model} x${cpus().length}, node ${process.version}, load ${load}`);
  console.log(`  compile ${compileMs.toFixed(1)} ms; plan ${planMs.toFixed(1)} ms; first map fill ${firstWriteMs.toFixed(1)} ms (${firstWrites} writes)`);
  console.log(`  one policy changed -> maps enforce it: ${changeMs.toFixed(1)} ms (compile + plan + ${writes} map writes; add the tendril-policy hop)`);
  console.log(`  map entries ${JSON.stringify(entries)}; kernel memory (bytes_memlock) ${JSON.stringify(memlock)}, ${(Object.values(memlock).reduce((a, b) => a + b, 0) / 1024).toFixed(0)} KiB in all`);
  for (const [label, p50s] of Object.entries(results)) console.log(`  connect() p50 over ${connects}, three runs: ${label}: ${p50s.map((p) => p.toFixed(1)).join(' / ')} µs`);
  console.log(`  repeat: node bench/policy.mjs ${pods} ${policyCount} ${connects} (root)`);
} finally {
  for (const path of cgroups) rmdirSync(path);
  rmdirSync(cgroup);
  rmSync(pins, { recursive: true, force: true });
}
