// The translator's policy publication against a real nats-server: identities numbered through
// tendril-identities, the address table and per-identity rules in tendril-policy, errors named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type KV } from 'nats';
import {
  POLICY_GENERATION_KEY,
  XDS_GENERATION_KEY,
  addressEntryCodec,
  identityPolicyCodec,
  kubeObjectCodec,
  objectKey,
  policyErrorsCodec,
  policyGenerationCodec,
  policyKey,
  xdsGenerationCodec,
  type KubeObject,
} from '@tendril/contract';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

function startTranslator(natsUrl: string, httpPort: number, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_NATS_URL: natsUrl, TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_CLUSTER: 'c1', TENDRIL_CLUSTER_ID: '2', TENDRIL_DEBOUNCE_MS: '20', TENDRIL_DEBOUNCE_MAX_MS: '200', TENDRIL_LEASE_DURATION_MS: '15000', TENDRIL_LEASE_RENEW_DEADLINE_MS: '10000', TENDRIL_LEASE_RETRY_MS: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  return child;
}

async function value(kv: KV, key: string): Promise<Uint8Array | undefined> {
  const entry = await kv.get(key);
  return entry && entry.operation === 'PUT' ? entry.value : undefined;
}

const pod = (name: string, labels: Record<string, string>, ip: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels },
  spec: { nodeName: 'node-a' },
  status: { phase: 'Running', podIP: ip },
});

test('policy: identities numbered in the cluster range, addresses and rules published, errors named; a restart keeps every number', { timeout: 120000 }, async (t) => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const log: string[] = [];
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await nc.close();
    await nats.dispose();
  });
  const js = nc.jetstream();
  const objects = await js.views.kv('tendril-objects', { history: 1 });
  await js.views.kv('tendril-secrets', { history: 1 }); // the watcher creates both input buckets
  const put = (kind: Parameters<typeof objectKey>[0]['kind'], namespace: string | undefined, name: string, object: KubeObject) =>
    objects.put(objectKey({ cluster: 'c1', kind, ...(namespace ? { namespace } : {}), name }), kubeObjectCodec.encode(object));
  await put('namespace', undefined, 'shop', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } });
  await put('pod', 'shop', 'web', pod('web', { app: 'web' }, '198.18.7.10'));
  await put('pod', 'shop', 'client', pod('client', { app: 'client' }, '198.18.7.11'));
  await put('networkpolicy', 'shop', 'web', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080 }] }] },
  });
  await put('ciliumnetworkpolicy', 'shop', 'fqdn', { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'fqdn', namespace: 'shop' }, spec: { endpointSelector: { matchLabels: { app: 'client' } }, egress: [{ toFQDNs: [{ matchName: 'example.com' }] }] } });

  const httpPort = await freePort();
  children.push(startTranslator(nats.url, httpPort, log));
  const policy = await waitFor('tendril-policy', async () => {
    const kv = await js.views.kv('tendril-policy', { bindOnly: true });
    return (await value(kv, POLICY_GENERATION_KEY)) ? kv : undefined;
  }, 60000);

  const address = async (ip: string) => addressEntryCodec.decode((await value(policy, policyKey('address', `${ip}/32`)))!);
  const web = await address('198.18.7.10');
  const client = await address('198.18.7.11');
  for (const entry of [web, client]) assert.ok(entry.identity >= 2 << 16 && entry.identity < 3 << 16, `${entry.identity} in cluster 2's range`);
  assert.notEqual(web.identity, client.identity);
  assert.equal(web.owner, 'shop/web');

  const webPolicy = identityPolicyCodec.decode((await value(policy, policyKey('policy', web.identity)))!);
  assert.equal(webPolicy.ingress.enforced, true);
  assert.deepEqual(webPolicy.ingress.rules.map((rule) => [rule.verdict, rule.peers, rule.ports]), [['allow', [client.identity], [{ protocol: 'TCP', from: 8080, to: 8080 }]]]);
  assert.equal(webPolicy.egress.enforced, false);
  const clientPolicy = identityPolicyCodec.decode((await value(policy, policyKey('policy', client.identity)))!);
  assert.match(clientPolicy.egress.failClosed![0]!, /toFQDNs/);
  const errors = policyErrorsCodec.decode((await value(policy, policyKey('error', 'shop/CiliumNetworkPolicy/fqdn')))!);
  assert.deepEqual(errors.errors.map((error) => [error.field, error.effect]), [['spec.egress[0].toFQDNs', 'fail-closed']]);
  await waitFor('the error logged naming the object and field', async () => log.join('').includes('shop/CiliumNetworkPolicy/fqdn: spec.egress[0].toFQDNs'), 15000);

  // a label change moves the Pod to another identity; the xDS translation is not run for it
  const xds = await js.views.kv('tendril-xds', { bindOnly: true });
  const xdsGeneration = xdsGenerationCodec.decode((await value(xds, XDS_GENERATION_KEY))!).generation;
  const generation = policyGenerationCodec.decode((await value(policy, POLICY_GENERATION_KEY))!).generation;
  await put('pod', 'shop', 'client', pod('client', { app: 'client', tier: 'canary' }, '198.18.7.11'));
  await waitFor('the Pod moved to a new identity', async () => (await address('198.18.7.11')).identity !== client.identity, 15000);
  const moved = await address('198.18.7.11');
  const webAfter = identityPolicyCodec.decode((await value(policy, policyKey('policy', web.identity)))!);
  assert.deepEqual(webAfter.ingress.rules[0]!.peers, [moved.identity], 'the rule follows the Pod to its new identity');
  await waitFor('a new generation marker', async () => policyGenerationCodec.decode((await value(policy, POLICY_GENERATION_KEY))!).generation > generation, 15000);
  assert.equal(xdsGenerationCodec.decode((await value(xds, XDS_GENERATION_KEY))!).generation, xdsGeneration, 'no xDS publish for a Pod change');

  // SIGKILL and restart: the same numbers, nothing rewritten
  const before = (await policy.status()).streamInfo.state.last_seq;
  children[0]!.kill('SIGKILL');
  const again = await freePort();
  children.push(startTranslator(nats.url, again, log));
  await waitFor('the restarted translator ready', async () => (await fetch(`http://127.0.0.1:${again}/readyz`).catch(() => undefined))?.status === 200, 60000);
  assert.equal((await address('198.18.7.10')).identity, web.identity);
  assert.equal((await address('198.18.7.11')).identity, moved.identity);
  assert.equal((await policy.status()).streamInfo.state.last_seq, before, 'a restart rewrites nothing');
});
