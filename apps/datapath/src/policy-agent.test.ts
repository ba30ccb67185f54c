/**
 * The agent enforcing tendril-policy on the real kernel: Pods are cgroups named pod<uid> (as kubelet
 * names them) with a container cgroup below, each with its own loopback address. A label change
 * moves a Pod's verdicts as soon as tendril-policy says so; a SIGKILL of the agent under continuous
 * traffic changes no verdict (the maps and programs stay pinned and attached).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, type KV } from 'nats';
import { BUCKETS, POLICY_GENERATION_KEY, addressEntryCodec, identityPolicyCodec, policyGenerationCodec, policyKey } from '@tendril/contract';
import { startNatsServer, waitFor } from '@tendril/testing';
import { spawnAgent, stopAgent, type AgentProcess } from './testing/agent.js';
import { continuousClient, scratch, type ContinuousClient } from './testing/kernel.js';
import { compiledValues } from './testing/policy.js';

const PODS = { server: { ip: '127.0.61.1', uid: '0b1c6a2e-0000-4000-8000-000000000001' }, client: { ip: '127.0.61.2', uid: '0b1c6a2e-0000-4000-8000-000000000002' } } as const;
type Pod = keyof typeof PODS;

const SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
net.createServer((s) => s.end('hello')).listen(Number(port), host, () => console.log('ready'));
`;
const CLIENT = `
const net = require('node:net');
const [host, port, local] = process.argv.slice(1);
const done = (r) => { console.log(JSON.stringify(r)); process.exit(0); };
setTimeout(() => done({ error: 'timeout' }), 2500);
const s = net.connect({ host, port: Number(port), localAddress: local });
let data = '';
s.on('data', (d) => { data += d; });
s.on('error', (e) => done({ error: e.code }));
s.on('close', (hadError) => { if (!hadError) done({ reply: data }); });
`;

test('the agent programs tendril-policy for its Pods; labels move verdicts; a SIGKILL changes none', { timeout: 180000 }, async (t) => {
  const dir = scratch();
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const children: ChildProcess[] = [];
  const agents: AgentProcess[] = [];
  const clients: ContinuousClient[] = [];
  const containers = {} as Record<Pod, string>;
  t.after(async () => {
    for (const client of clients) await client.stop().catch(() => undefined);
    for (const agent of agents) await stopAgent(agent.child, 'SIGKILL');
    for (const child of children) child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const pod of Object.keys(PODS) as Pod[]) {
      for (const path of [containers[pod], join(dir.cgroupPath, `pod${PODS[pod].uid}`)]) {
        try {
          rmdirSync(path);
        } catch {
          // still emptying: removing the scratch cgroup below reports it
        }
      }
    }
    await nc.close();
    await nats.dispose();
    dir.dispose();
  });
  for (const pod of Object.keys(PODS) as Pod[]) {
    const podCgroup = join(dir.cgroupPath, `pod${PODS[pod].uid}`);
    mkdirSync(podCgroup);
    containers[pod] = join(podCgroup, 'container-1');
    mkdirSync(containers[pod]);
  }
  const inPod = (pod: Pod, script: string, args: string[]) => {
    const node = JSON.stringify(process.execPath);
    const child = spawn('sh', ['-c', `echo $$ > ${containers[pod]}/cgroup.procs && exec ${node} -e "$0" "$@"`, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return child;
  };
  const attempt = (host: string, port: number): Promise<{ reply?: string; error?: string }> =>
    new Promise((resolve) => {
      let out = '';
      const child = inPod('client', CLIENT, [host, String(port), PODS.client.ip]);
      child.stdout!.on('data', (chunk) => (out += chunk));
      child.on('exit', () => resolve(JSON.parse(out || '{"error":"no output"}') as { reply?: string; error?: string }));
    });

  const policy: KV = await nc.jetstream().views.kv(BUCKETS.policy, { history: 1 });
  await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
  let generation = 0;
  /** Publishes what the translator would for these client labels: a CNP lets the client reach only app=server pods. */
  const publish = async (clientLabels: Record<string, string>) => {
    const pod = (name: Pod, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 't', uid: PODS[name].uid, labels }, spec: { nodeName: 'node-a' }, status: { phase: 'Running', podIP: PODS[name].ip } });
    const values = compiledValues([
      pod('server', { app: 'server' }),
      pod('client', clientLabels),
      {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: 'clients', namespace: 't' },
        spec: { endpointSelector: { matchLabels: { role: 'client' } }, egress: [{ toEndpoints: [{ matchLabels: { app: 'server' } }], toPorts: [{ ports: [{ port: '7000', protocol: 'TCP' }] }] }] },
      },
    ]);
    const wanted = new Set<string>();
    for (const address of values.addresses) {
      const key = policyKey('address', address.prefix);
      wanted.add(key);
      await policy.put(key, addressEntryCodec.encode(address));
    }
    for (const entry of values.policies) {
      const key = policyKey('policy', entry.identity);
      wanted.add(key);
      await policy.put(key, identityPolicyCodec.encode(entry));
    }
    for await (const key of await policy.keys()) if (!wanted.has(key) && key !== POLICY_GENERATION_KEY) await policy.delete(key);
    await policy.put(POLICY_GENERATION_KEY, policyGenerationCodec.encode({ v: 1, generation: ++generation, entries: wanted.size }));
  };

  await publish({ app: 'client', role: 'client' });
  await new Promise<void>((resolve, reject) => {
    const server = inPod('server', SERVER, [PODS.server.ip, '7000']);
    server.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  agents.push(await spawnAgent(dir, nats.url, { TENDRIL_POLICY_RESCAN_MS: '200' }));

  // the client may reach the server on 7000 only; anything else it dials is refused at once
  await waitFor('egress to the world refused', async () => (await attempt('127.0.61.9', 7000)).error === 'EPERM', 30000);
  assert.equal((await attempt(PODS.server.ip, 7000)).reply, 'hello');

  // the client loses the label the policy selects: its egress is no longer restricted
  await publish({ app: 'client' });
  await waitFor('the label change reaches the kernel', async () => (await attempt('127.0.61.9', 7000)).error === 'ECONNREFUSED', 15000);
  // and gets it back
  await publish({ app: 'client', role: 'client' });
  await waitFor('the label back', async () => (await attempt('127.0.61.9', 7000)).error === 'EPERM', 15000);

  // SIGKILL under continuous allowed traffic, while a denied destination is tried meanwhile
  const running = continuousClient({ host: PODS.server.ip, port: 7000, cgroupPath: containers.client });
  clients.push(running);
  await waitFor('traffic flowing', async () => running.results.length >= 3, 15000);
  await stopAgent(agents[0]!.child, 'SIGKILL');
  const whileDead = await attempt('127.0.61.9', 7000);
  agents.push(await spawnAgent(dir, nats.url, { TENDRIL_POLICY_RESCAN_MS: '200' }));
  await waitFor('the restarted agent serving', async () => (await fetch(`${agents[1]!.http}/healthz`).catch(() => undefined))?.ok, 30000);
  const before = running.results.length;
  await waitFor('more traffic after the restart', async () => running.results.length >= before + 3, 15000);
  const results = await running.stop();
  assert.equal(whileDead.error, 'EPERM', 'no allow-all window while the agent is dead');
  assert.deepEqual(results.filter((result) => result.reply !== 'hello'), [], 'every allowed connection succeeded throughout');
  assert.equal((await attempt('127.0.61.9', 7000)).error, 'EPERM');
});
