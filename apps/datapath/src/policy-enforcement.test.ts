/**
 * Network policy in the real kernel: "pods" are cgroups of this test, each with its own loopback
 * address; bpf/policy.o is attached to their parent cgroup and its maps are filled from a policy
 * compiled by @tendril/policy. Allowed TCP and UDP connections succeed; a denied egress fails at once
 * with EPERM; a denied ingress never sees a reply; a workload no policy selects keeps its traffic.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AddressEntryValue, IdentityPolicyValue } from '@tendril/contract';
import { POLICY_MAP_NAMES, planPolicyMaps } from '@tendril/datapath-core';
import { PinnedMap, installPrograms } from '@tendril/ebpf';
import { compilePolicy } from '@tendril/policy';
import { scratch, type Scratch } from './testing/kernel.js';

const POLICY_OBJECT = fileURLToPath(new URL('../../../bpf/build/policy.o', import.meta.url));
const ADDRESS = { server: '127.0.60.1', client: '127.0.60.2', other: '127.0.60.3' } as const;
type Pod = keyof typeof ADDRESS;

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const [host, ...ports] = process.argv.slice(1);
let open = 0;
const ready = () => { if (++open === ports.length + 1) console.log('ready'); };
for (const port of ports) net.createServer((s) => s.end('hello from ' + port)).listen(Number(port), host, ready);
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => udp.send('udp hello', r.port, r.address));
udp.bind(9000, host, ready);
`;

const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [proto, host, port, local] = process.argv.slice(1);
const done = (result) => { console.log(JSON.stringify(result)); process.exit(0); };
setTimeout(() => done({ error: 'timeout' }), 2500);
if (proto === 'udp') {
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => done({ error: e.code }));
  s.on('message', (m) => done({ reply: m.toString() }));
  s.bind(0, local, () => s.send('hi', Number(port), host, (e) => e && done({ error: e.code })));
} else {
  const s = net.connect({ host, port: Number(port), localAddress: local });
  let data = '';
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => done({ error: e.code }));
  s.on('close', (hadError) => { if (!hadError) done({ reply: data }); });
}
`;

/** Runs `script` in the pod's cgroup (the shell moves itself in, then becomes node). */
function inPod(cgroup: string, script: string, args: string[]): ChildProcess {
  const node = JSON.stringify(process.execPath);
  return spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec ${node} -e "$0" "$@"`, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('network policy enforced on workload cgroups (real kernel)', () => {
  let dir: Scratch;
  let server: ChildProcess;
  let unselected: ChildProcess;
  const cgroups = {} as Record<Pod, string>;

  const connect = (from: Pod, proto: 'tcp' | 'udp', host: string, port: number): Promise<{ reply?: string; error?: string; ms: number }> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const child = inPod(cgroups[from], CLIENT, [proto, host, String(port), ADDRESS[from]]);
      let out = '';
      child.stdout!.on('data', (chunk) => (out += chunk));
      child.on('error', reject);
      child.on('exit', () => {
        try {
          resolve({ ...(JSON.parse(out) as { reply?: string; error?: string }), ms: performance.now() - started });
        } catch {
          reject(new Error(`client printed ${out}`));
        }
      });
    });

  before(async () => {
    dir = scratch();
    for (const pod of Object.keys(ADDRESS) as Pod[]) {
      cgroups[pod] = join(dir.cgroupPath, pod);
      mkdirSync(cgroups[pod]);
    }
    const pod = (name: Pod) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 't', labels: { app: name } },
      status: { phase: 'Running', podIP: ADDRESS[name] },
    });
    const compiled = compilePolicy({
      cluster: 'default',
      objects: [
        pod('server'),
        pod('client'),
        pod('other'),
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'server-ingress', namespace: 't' },
          spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ protocol: 'TCP', port: 8000, endPort: 8100 }, { protocol: 'UDP', port: 9000 }] }] },
        },
        {
          apiVersion: 'cilium.io/v2',
          kind: 'CiliumNetworkPolicy',
          metadata: { name: 'client-egress', namespace: 't' },
          spec: {
            endpointSelector: { matchLabels: { app: 'client' } },
            egress: [{ toEndpoints: [{}] }],
            egressDeny: [{ toEndpoints: [{ matchLabels: { app: 'server' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] }],
          },
        },
      ],
    });
    // numbers as the translator gives them: reserved fixed, the others from 256 on
    const numbers = new Map<string, number>();
    let next = 256;
    for (const identity of compiled.identities) numbers.set(identity.key, identity.reserved ?? next++);
    const number = (key: string) => (key === '*' ? 0 : numbers.get(key)!);
    const addresses: AddressEntryValue[] = compiled.addresses.map((entry) => ({ v: 1, prefix: entry.prefix, identity: number(entry.identity), ...(entry.owner ? { owner: entry.owner } : {}) }));
    const direction = (policy: (typeof compiled.policies)[number]['ingress']) => ({
      enforced: policy.enforced,
      ...(policy.failClosed ? { failClosed: policy.failClosed } : {}),
      rules: policy.rules.map((rule) => ({ ...rule, peers: rule.peers.map(number) })),
      policies: policy.policies,
    });
    const policies: IdentityPolicyValue[] = compiled.policies.map((policy) => ({ v: 1, identity: number(policy.identity), key: policy.identity, ingress: direction(policy.ingress), egress: direction(policy.egress) }));
    const workloads = new Map<bigint, number>();
    for (const name of Object.keys(ADDRESS) as Pod[]) {
      const identity = addresses.find((entry) => entry.owner === `t/${name}`)!.identity;
      workloads.set(BigInt(statSync(cgroups[name]).ino), identity);
    }
    const plan = planPolicyMaps(addresses, policies, workloads);
    installPrograms({
      objectPath: POLICY_OBJECT,
      pinRoot: dir.pinPath,
      cgroupPath: dir.cgroupPath,
      beforeAttach: () => {
        const open = (name: string) => PinnedMap.open(join(dir.pinPath, name));
        const endpoints = open(POLICY_MAP_NAMES.endpoints);
        for (const [cgroupId, value] of plan.endpoints) {
          const key = Buffer.alloc(8);
          key.writeBigUInt64LE(cgroupId);
          endpoints.update(key, value);
        }
        const ipcache = open(POLICY_MAP_NAMES.ipcache4);
        for (const [key, value] of plan.ipcache.values()) ipcache.update(key, value);
        for (const [name, rules] of [[POLICY_MAP_NAMES.allow, plan.allow], [POLICY_MAP_NAMES.deny, plan.deny]] as const) {
          const map = open(name);
          for (const key of rules.values()) map.update(key, Buffer.alloc(4));
        }
      },
    });
    const started = (child: ChildProcess) =>
      new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
      });
    server = inPod(cgroups.server, SERVER, [ADDRESS.server, '8001', '8080', '8200']);
    unselected = inPod(cgroups.other, SERVER, [ADDRESS.other, '8300']);
    await Promise.all([started(server), started(unselected)]);
  });

  after(() => {
    server?.kill('SIGKILL');
    unselected?.kill('SIGKILL');
    // the cgroups empty once their processes are gone
    for (const path of Object.values(cgroups)) for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(path);
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
    dir?.dispose();
  });

  it('an allowed TCP connection succeeds, within the endPort range', async () => {
    assert.deepEqual((await connect('client', 'tcp', ADDRESS.server, 8001)).reply, 'hello from 8001');
  });

  it('an allowed UDP datagram is answered', async () => {
    assert.equal((await connect('client', 'udp', ADDRESS.server, 9000)).reply, 'udp hello');
  });

  it('a denied egress fails at once with EPERM (a CNP deny rule wins over the allow beside it)', async () => {
    const result = await connect('client', 'tcp', ADDRESS.server, 8080);
    assert.equal(result.error, 'EPERM');
  });

  it('egress to the world is refused when the client’s egress is enforced and allows only the cluster', async () => {
    assert.equal((await connect('client', 'tcp', '127.0.60.9', 8001)).error, 'EPERM');
  });

  it('a denied ingress never sees a reply: TCP and UDP from a pod the policy does not name', async () => {
    assert.equal((await connect('other', 'tcp', ADDRESS.server, 8001)).error, 'timeout');
    assert.equal((await connect('other', 'udp', ADDRESS.server, 9000)).error, 'timeout');
  });

  it('a workload no policy selects keeps today’s behaviour: its ingress and egress pass', async () => {
    assert.equal((await connect('client', 'tcp', ADDRESS.other, 8300)).reply, 'hello from 8300');
    assert.equal((await connect('other', 'udp', ADDRESS.other, 9000)).reply, 'udp hello');
  });

  it('outside the allowed port range ingress is dropped', async () => {
    // the client's egress allows its namespace; the server's ingress allows 8000-8100 only
    assert.equal((await connect('client', 'tcp', ADDRESS.server, 8200)).error, 'timeout');
  });
});
