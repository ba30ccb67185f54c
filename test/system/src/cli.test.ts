/**
 * The tendril CLI against a running system: every command in table and JSON form, and the failure
 * cases a user meets (NATS unreachable, unknown node, wrong usage) with their exit codes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { BUCKETS, XDS_TYPES, parseXdsKey } from '@tendril/contract';
import { connect } from 'nats';
import { AdsTestClient, freePort, makeTestCertificates, waitFor } from '@tendril/testing';
import { ingressManifest, runCli, serviceManifest } from './fixtures.js';
import { System } from './system.js';


let cliEnv: Record<string, string> = {};

const base64Of = (text: string) => Buffer.from(text).toString('base64');

const tendril = (args: string[]) => runCli(args, cliEnv);

const MANIFEST = `${serviceManifest({ name: 'shop', clusterIP: '127.100.88.8', endpoints: ['127.0.88.1', '127.0.88.2'] })}---
${ingressManifest({ name: 'shop', host: 'shop.example', path: '/cart' })}`;

describe('tendril CLI against a running system', { timeout: 180000 }, () => {
  const system = new System('cli');
  let ads: AdsTestClient;
  let nats: string;

  before(async () => {
    await system.start();
    nats = system.nats.url;
    // the CLI runs as the read-only `cli` user
    cliEnv = { TENDRIL_NATS_USER: system.observer.user, TENDRIL_NATS_PASSWORD: system.observer.pass };
    system.writeManifest('shop.yaml', MANIFEST);
    ads = new AdsTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'cli-node', nodeCluster: 'edge' });
    ads.subscribe(XDS_TYPES.cluster);
    await ads.waitFor(XDS_TYPES.cluster, (r) => r.resources.some((c) => c['name'] === 'default/shop:80'), 30000);
    ads.subscribe(XDS_TYPES.endpoint, ['default/shop:80']);
    await ads.waitFor(XDS_TYPES.endpoint, (r) => r.resources.length === 1, 15000);
  });
  after(async () => {
    ads?.close();
    await system.dispose();
  });

  it('status lists all five services ready, in a table and as JSON', async () => {
    // A machine running every project's tests at once can take a while to have the datapath ready;
    // when it never is, the services' own output says why.
    const json = await waitFor('all ready in status', async () => {
      const result = await tendril(['status', '--nats', nats, '-o', 'json']);
      if (result.code !== 0) return undefined;
      return JSON.parse(result.stdout) as { instances: { service: string; ready: boolean; figures: Record<string, number> }[]; missing: string[] };
    }, 45000, 300).catch((error: Error) => {
      throw new Error(`${error.message}\n${system.dumpOutput()}`);
    });
    assert.deepEqual(json.instances.map((i) => i.service), ['k8s-watcher', 'translator', 'xds-server', 'datapath', 'metrics']);
    assert.ok(json.instances.every((i) => i.ready));
    assert.ok((json.instances.find((i) => i.service === 'translator')!.figures['xds_resources'] ?? 0) >= 2);
    const text = await tendril(['status', '--nats', nats]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^SERVICE\s+INSTANCE\s+VERSION\s+UPTIME\s+READY\s+ROLE\s+GENERATION\s+FIGURES/m);
    assert.match(text.stdout, /^xds-server\s+\S+\s+0\.1\.0\s+\S+\s+yes\s+-\s+\d+\s+proxies_connected=1/m);
    assert.match(text.stdout, /^translator\s+\S+\s+0\.1\.0\s+\S+\s+yes\s+active\s+/m);
  });

  it('proxy-status shows the proxy SYNCED for CDS and EDS, and refuses an unknown node', async () => {
    const rows = await waitFor('synced', async () => {
      const result = await tendril(['proxy-status', '--nats', nats, '-o', 'json']);
      const parsed = JSON.parse(result.stdout) as { node: string; types: Record<string, { state: string }> }[];
      const row = parsed.find((r) => r.node === 'cli-node');
      return row?.types['cluster']?.state === 'SYNCED' && row.types['endpoint']?.state === 'SYNCED' ? parsed : undefined;
    }, 15000, 300);
    assert.ok(rows.length >= 1);
    const text = await tendril(['proxy-status', '--nats', nats]);
    assert.match(text.stdout, /^cli-node\s+edge\s+yes \(\S+\)\s+-\s+-\s+SYNCED\s+SYNCED\s+-/m);
    const unknown = await tendril(['proxy-status', '--nats', nats, '--node', 'nobody']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no proxy with node id "nobody"/);
  });

  it('config dump shows exactly what the node is served, decoded', async () => {
    const result = await tendril(['config', 'dump', '--nats', nats, '--node', 'cli-node', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const dump = JSON.parse(result.stdout) as { node: string; resources: { type: string; name: string; resource: Record<string, any> }[] };
    // the Ingress's own Service (cilium-ingress-shop, owned by Tendril) is served too
    const cluster = dump.resources.find((r) => r.type === 'cluster' && r.name === 'default/shop:80')!;
    assert.ok(cluster, 'the cluster of Service shop');
    assert.equal(cluster.resource['type'], 'EDS');
    const endpoints = dump.resources.find((r) => r.type === 'endpoint' && r.name === 'default/shop:80')!.resource;
    const addresses = endpoints['endpoints'].flatMap((g: any) => g.lbEndpoints.map((e: any) => e.endpoint.address.socketAddress.address)).sort();
    assert.deepEqual(addresses, ['127.0.88.1', '127.0.88.2']);
    const onlyEds = await tendril(['config', 'dump', '--nats', nats, '--node', 'cli-node', '--type', 'endpoint', '-o', 'yaml']);
    assert.match(onlyEds.stdout, /clusterName: default\/shop:80/);
    assert.doesNotMatch(onlyEds.stdout, /type: cluster/);
    const table = await tendril(['config', 'dump', '--nats', nats, '--node', 'cli-node']);
    assert.match(table.stdout, /^cluster\s+default\/shop:80\s+[0-9a-f]{16}$/m);
    const unknown = await tendril(['config', 'dump', '--nats', nats, '--node', 'ghost']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no proxy with node id "ghost"/);
    const badType = await tendril(['config', 'dump', '--nats', nats, '--node', 'cli-node', '--type', 'runtime']);
    assert.equal(badType.code, 2);
  });

  it('services prints the L4 table the datapath programs', async () => {
    const result = await tendril(['services', '--nats', nats]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^default\/shop\s+127\.100\.88\.8:80\/TCP\s+ClusterIP\s+127\.0\.88\.1:8080, 127\.0\.88\.2:8080\s+random\s+none\s+-$/m);
    const json = JSON.parse((await tendril(['services', '--nats', nats, '-o', 'json'])).stdout) as { name: string; backends: unknown[] }[];
    assert.equal(json.find((s) => s.name === 'shop')!.backends.length, 2);
    // what the node's datapath programmed into its maps
    const node = await tendril(['services', '--nats', nats, '--node', 'node-cli', '-o', 'json']);
    assert.equal(node.code, 0, node.stderr);
    const dump = JSON.parse(node.stdout) as { node: string; services: { key: string; frontends: { frontend: string; backends: string[] }[] }[] };
    assert.equal(dump.node, 'node-cli');
    const shop = dump.services.find((s) => s.key.endsWith('default.shop'))!;
    assert.deepEqual(shop.frontends[0]!.backends.slice().sort(), ['127.0.88.1:8080', '127.0.88.2:8080']);
    const nodeTable = await tendril(['services', '--nats', nats, '--node', 'node-cli']);
    assert.match(nodeTable.stdout, /^SERVICE\s+FRONTEND\s+ID\s+SLOTS/m);
    const ghost = await tendril(['services', '--nats', nats, '--node', 'ghost', '--timeout', '500']);
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /no datapath answered for node "ghost"/);
  });

  it('routes follows every HTTP route down to its cluster and endpoints', async () => {
    const rows = await waitFor('the Ingress route', async () => {
      const result = await tendril(['routes', '--nats', nats, '-o', 'json']);
      const parsed = JSON.parse(result.stdout) as { hosts: string[]; match: string; clusters: { name: string; endpoints: string[] }[] }[];
      return parsed.some((r) => r.hosts.includes('shop.example')) ? parsed : undefined;
    }, 15000, 300);
    const ingress = rows.find((r) => r.hosts.includes('shop.example') && r.match.startsWith('/cart'))!;
    assert.ok(ingress, JSON.stringify(rows));
    assert.deepEqual(ingress.clusters.map((c) => [c.name, c.endpoints.sort()]), [['default/shop:80', ['127.0.88.1:8080', '127.0.88.2:8080']]]);
    const text = await tendril(['routes', '--nats', nats]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /shop\.example\s+\/cart\S*\s+default\/shop:80 -> 127\.0\.88\.[12]:8080 127\.0\.88\.[12]:8080/);
  });

  it('history lists published generations, and diff says what changed between two', async () => {
    const records = await waitFor('history', async () => {
      const result = await tendril(['history', '--nats', nats, '-o', 'json']);
      if (result.code !== 0) return undefined;
      const parsed = JSON.parse(result.stdout) as { generation: number; added: string[] }[];
      return parsed.some((r) => r.added.includes('cluster default/shop:80')) ? parsed : undefined;
      // the first publish with the shop's cluster: a minute, for a machine busy with other work
    }, 60000, 500);
    const latest = records[0]!.generation;
    const diff = await tendril(['history', 'diff', '0', String(latest), '--nats', nats]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^\+ cluster default\/shop:80$/m);
    assert.match(diff.stdout, /^\+ endpoint default\/shop:80$/m);
    const text = await tendril(['history', '--nats', nats]);
    assert.match(text.stdout, /^GENERATION\s+PUBLISHED\s+OBJECTS\s+ADDED\s+CHANGED\s+REMOVED\s+ERRORS\s+INPUT/m);
    const missing = await tendril(['history', 'diff', '0', '999999', '--nats', nats]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /generation 999999 is not in the translator's history/);
  });

  it('objects lists what the watcher holds', async () => {
    const result = await tendril(['objects', '--nats', nats, '--kind', 'service']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Service\s+default\s+shop\s+1\s+-$/m);
    // the folder's objects, and the Service and EndpointSlice Tendril owns for the Ingress's load balancer
    const expected = ['EndpointSlice/cilium-ingress-shop', 'EndpointSlice/shop-1', 'Ingress/shop', 'Service/cilium-ingress-shop', 'Service/shop'];
    let listed: string[] = [];
    await waitFor('the owned objects listed', async () => {
      const json = JSON.parse((await tendril(['objects', '--nats', nats, '-o', 'json'])).stdout) as { kind: string; name: string }[];
      listed = json.map((o) => `${o.kind}/${o.name}`).sort();
      return listed.join() === expected.join();
    }, 30000).catch(() => assert.deepEqual(listed, expected));
  });

  it('objects names what the watcher refused, with why', async () => {
    system.writeManifest('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: broken, namespace: default }\nspec: { ports: [{ port: 80 }], notAField: 1 }\n');
    try {
      const result = await waitFor('refusal listed', async () => {
        const out = await tendril(['objects', '--nats', nats, '--kind', 'service']);
        return /^Service\s+default\s+broken\s+-\s+NOT MIRRORED \(Refused: .*notAField/m.test(out.stdout) ? out : undefined;
      }, 20000, 300);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /^Service\s+default\s+shop\s+1\s+-$/m, 'the others as before');
    } finally {
      system.removeManifest('broken.yaml');
    }
  });

  it('observe prints the flows of connections through the datapath', async () => {
    const observing = tendril(['observe', '--nats', nats, '--seconds', '20', '--last', '1']);
    let done = false;
    void observing.then(() => (done = true));
    // connections to the VIP from inside the system's cgroup make flows (the backend need not answer);
    // keep making them until the CLI, which may take a moment to subscribe, has printed one
    const { connectFromCgroup } = await import('./clients.js');
    while (!done) {
      await connectFromCgroup(system.cgroup, '127.100.88.8', 80, 500);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const result = await observing;
    assert.equal(result.code, 0);
    assert.match(result.stdout, /127\.100\.88\.8:80 -> 127\.0\.88\.[12]:8080\s+TRANSLATED/);
  });

  it('config dump and objects never print key material: a TLS Ingress\'s Secret is named and redacted', async () => {
    const certs = makeTestCertificates();
    const key = readFileSync(certs.serverKey, 'utf8');
    const base64 = (file: string) => readFileSync(file).toString('base64');
    system.writeManifest(
      'shop-tls.yaml',
      `apiVersion: v1
kind: Secret
metadata: {name: shop-cert, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: ${base64(certs.serverCert)}, tls.key: ${base64(certs.serverKey)}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop-tls, namespace: default}
spec:
  ingressClassName: cilium
  tls: [{hosts: [secure.example], secretName: shop-cert}]
  rules:
  - host: secure.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
`,
    );
    certs.dispose();
    const secretName = 'default/shop-cert';
    const dump = await waitFor('the Secret named in the dump', async () => {
      const result = await tendril(['config', 'dump', '--nats', nats, '--node', 'cli-node', '-o', 'json']);
      const parsed = JSON.parse(result.stdout) as { resources: { type: string; name: string; resource: unknown }[] };
      return parsed.resources.some((r) => r.type === 'secret') ? { result, parsed } : undefined;
    }, 60000, 500);
    assert.equal(dump.result.code, 0, dump.result.stderr);
    const secrets = dump.parsed.resources.filter((r) => r.type === 'secret');
    assert.ok(secrets.every((r) => r.resource === 'redacted'), JSON.stringify(secrets));
    assert.ok(secrets.some((r) => r.name.includes('shop-cert')), `a Secret of ${secretName}: ${JSON.stringify(secrets)}`);
    const keyBody = key.split('\n')[1]!;
    for (const args of [['config', 'dump', '--node', 'cli-node', '-o', 'json'], ['config', 'dump', '--node', 'cli-node', '--type', 'secret', '-o', 'yaml'], ['config', 'dump', '--node', 'cli-node'], ['objects', '-o', 'json'], ['routes', '-o', 'json']]) {
      const result = await tendril([...args, '--nats', nats]);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(!result.stdout.includes(keyBody) && !result.stdout.includes(base64Of(key).slice(0, 40)), `${args.join(' ')} printed key material`);
    }
    // the SDS Secret itself is in tendril-sds (read here as the xds-server reads it), none in tendril-xds
    const keysOf = async (user: 'xds-server' | 'cli', bucket: string) => {
      const credentials = system.nats.credentials![user];
      const nc = await connect({ servers: system.nats.url, user: credentials.user, pass: credentials.password });
      try {
        const out: string[] = [];
        for await (const key of await (await nc.jetstream().views.kv(bucket, { bindOnly: true })).keys()) out.push(key);
        return out;
      } finally {
        await nc.close();
      }
    };
    const sdsNames = (await keysOf('xds-server', BUCKETS.sds)).map((key) => parseXdsKey(key).name);
    assert.ok(sdsNames.some((name) => name.includes('shop-cert')), `tendril-sds: ${sdsNames.join(', ')}`);
    assert.deepEqual((await keysOf('cli', BUCKETS.xds)).filter((key) => key.startsWith('secret.')), [], 'no Secret in tendril-xds');
    const table = await tendril(['config', 'dump', '--nats', nats, '--node', 'cli-node', '--type', 'secret']);
    assert.match(table.stdout, /^secret\s+\S*shop-cert\S*\s+-$/m);
    assert.match(table.stdout, /content redacted/);
    const objects = await tendril(['objects', '--nats', nats, '--kind', 'secret']);
    assert.equal(objects.code, 0, objects.stderr);
    assert.match(objects.stderr, /Secrets are not listed: they are kept in tendril-secrets/);
  });

  it('says clearly when NATS cannot be reached, and rejects wrong usage', async () => {
    const port = await freePort();
    const down = await tendril(['status', '--nats', `nats://127.0.0.1:${port}`, '--timeout', '500']);
    assert.equal(down.code, 3);
    assert.match(down.stderr, new RegExp(`cannot reach NATS at nats://127.0.0.1:${port}`));
    const usage = await tendril(['status', '--nats', nats, '-o', 'xml']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown output format "xml"/);
    const noNode = await tendril(['config', 'dump', '--nats', nats]);
    assert.equal(noNode.code, 2);
    assert.match(noNode.stderr, /--node/);
  });
});
