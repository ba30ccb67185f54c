/**
 * Two real translator processes and a real nats-server: one writes (it holds tendril-leases/translator),
 * the other is a hot standby that translates but writes nothing. SIGKILL of the writer lets the standby
 * take over at once (nothing answers for the killed holder), and the KV converges to the same output, with no second writer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, XDS_GENERATION_KEY, generationDigest, leaseCodec, xdsGenerationCodec, xdsResourceCodec } from '@tendril/contract';
import { waitFor } from '@tendril/testing';
import { runCli, serviceManifest } from './fixtures.js';
import { System, type RunningService } from './system.js';

const DURATION_MS = 3000;
const RETRY_MS = 500;

const manifest = (addresses: string[]) => serviceManifest({ name: 'shop', clusterIP: '127.100.91.1', endpoints: addresses });

interface Readyz {
  ready: boolean;
  checks: Record<string, { ok: boolean; reason: string }>;
}

describe('translator: one active writer by a lease in NATS KV, a hot standby takes over', { timeout: 240000 }, () => {
  const system = new System('lease', { env: { TENDRIL_LEASE_DURATION_MS: String(DURATION_MS), TENDRIL_LEASE_RENEW_DEADLINE_MS: '2000', TENDRIL_LEASE_RETRY_MS: String(RETRY_MS) } });
  let nc: NatsConnection;
  let first: RunningService;
  let second: RunningService;

  const readyz = async (service: RunningService): Promise<Readyz | undefined> => {
    try {
      return (await (await fetch(`http://127.0.0.1:${service.httpPort}/readyz`)).json()) as Readyz;
    } catch {
      return undefined;
    }
  };
  const figure = async (service: RunningService, name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`tendril_${name} `) || l.startsWith(`tendril_${name}{`));
    assert.ok(line, `figure ${name} on port ${service.httpPort}`);
    return Number(line.split(' ').pop());
  };
  /** Messages ever written to tendril-xds: with history 1, the stream's last sequence counts every put and delete. */
  const xdsWrites = async () => (await (await nc.jetstreamManager()).streams.info(`KV_${BUCKETS.xds}`)).state.last_seq;
  const xdsContent = async () => {
    const kv = await nc.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    const entries = new Map<string, string>();
    let marker;
    for (const key of keys.sort()) {
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      if (key === XDS_GENERATION_KEY) marker = xdsGenerationCodec.decode(entry.value);
      else entries.set(key, xdsResourceCodec.decode(entry.value).hash);
    }
    return { entries, marker };
  };
  const endpointsHold = async (address: string) => {
    const kv = await nc.jetstream().views.kv(BUCKETS.xds, { bindOnly: true });
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    for (const key of keys.filter((k) => k.startsWith('endpoint.'))) {
      const entry = await kv.get(key);
      if (entry?.operation === 'PUT' && Buffer.from(xdsResourceCodec.decode(entry.value).resource, 'base64').includes(Buffer.from(address))) return true;
    }
    return false;
  };
  const holder = async () => {
    const entry = await (await nc.jetstream().views.kv(BUCKETS.leases, { bindOnly: true })).get('translator');
    return entry?.operation === 'PUT' ? leaseCodec.decode(entry.value).holder : undefined;
  };

  before(async () => {
    system.writeManifest('shop.yaml', manifest(['127.0.91.1']));
    await system.start(['k8s-watcher', 'translator']);
    first = system.services.get('translator')!;
    second = await system.startReplica('translator');
    await waitFor('the second translator ready', async () => (await readyz(second))?.ready === true, 60000);
    nc = await connect(system.observer);
  });
  after(async () => {
    await nc?.close();
    await system.dispose();
  });

  it('one replica is active and writes, the other stands by: /readyz, tendril status and the lease agree', async () => {
    const firstReady = (await readyz(first))!;
    const secondReady = (await readyz(second))!;
    assert.match(firstReady.checks['lease']!.reason, /^active/, JSON.stringify(firstReady));
    assert.match(secondReady.checks['lease']!.reason, /^standby: \S+ is active/, JSON.stringify(secondReady));
    assert.match(secondReady.checks['translation']!.reason, /translated, not writing/);
    assert.ok(await endpointsHold('127.0.91.1'), 'the active translator published the endpoints');

    const { stdout } = await runCli(['status', '--nats', system.nats.url, '-o', 'json'], { TENDRIL_NATS_USER: 'cli', TENDRIL_NATS_PASSWORD: system.nats.credentials!.cli.password });
    const status = JSON.parse(stdout) as { instances: { service: string; instance: string; role?: string }[] };
    const translators = status.instances.filter((i) => i.service === 'translator');
    assert.deepEqual(translators.map((i) => i.role).sort(), ['active', 'standby']);
    assert.equal(translators.find((i) => i.role === 'active')!.instance, await holder(), 'the active one is the lease holder');
  });

  it('during normal running only the active replica writes: every message in tendril-xds is one of its writes', async () => {
    system.writeManifest('shop.yaml', manifest(['127.0.91.1', '127.0.91.2']));
    await waitFor('the new endpoint published', () => endpointsHold('127.0.91.2'), 30000);
    system.writeManifest('shop.yaml', manifest(['127.0.91.2', '127.0.91.3']));
    await waitFor('the next endpoint published', () => endpointsHold('127.0.91.3'), 30000);
    // counted once quiet: the stream's messages are exactly the active replica's puts and deletes
    await waitFor('writes counted by the active replica equal the stream', async () => (await figure(first, 'resources_written')) === (await xdsWrites()), 20000, 200).catch(async (error: Error) => {
      throw new Error(`${error.message}: the active replica counted ${await figure(first, 'resources_written')}, the stream holds ${await xdsWrites()}\n${first.output.slice(-30).join('\n')}`);
    });
    assert.equal(await figure(second, 'resources_written'), 0, 'the standby wrote nothing');
    assert.ok((await figure(second, 'translations')) >= 3, 'the standby translated every change');
    assert.equal(await figure(first, 'lease_active'), 1);
    assert.equal(await figure(second, 'lease_active'), 0);
  });

  it('tendril history and the dump answer the same from either replica: a standby passes the request on to the active one', async () => {
    const answers: string[] = [];
    // the endpoint's queue group picks a replica at random: eight asks reach the standby too (all but 1 in 256 runs)
    for (let i = 0; i < 8; i++) {
      const reply = await nc.request('tendril.translator.history', new TextEncoder().encode('{"last": 50}'), { timeout: 10000 });
      answers.push(new TextDecoder().decode(reply.data));
    }
    const records = JSON.parse(answers[0]!) as { generation: number }[];
    assert.ok(records.length >= 3, `the active replica's history: ${answers[0]}`);
    for (const answer of answers) assert.equal(answer, answers[0], 'every answer is the active replica\'s history');
    // the last publish (dump) alike; and a request the active one refuses is refused through a standby too
    const dumps = new Set<string>();
    for (let i = 0; i < 8; i++) dumps.add(new TextDecoder().decode((await nc.request('tendril.translator.dump', new Uint8Array(), { timeout: 10000 })).data));
    assert.equal(dumps.size, 1, 'every dump is the active replica\'s last publish');
    assert.ok((JSON.parse([...dumps][0]!) as { generation?: number }).generation! >= 1);
    for (let i = 0; i < 8; i++) {
      const reply = await nc.request('tendril.translator.history', new TextEncoder().encode('{"last": 0}'), { timeout: 10000 });
      assert.match(reply.headers?.get('Nats-Service-Error') ?? '', /"last" must be a positive integer/);
    }
  });

  it('SIGKILL of the active replica: nothing answers for it, the standby takes over before the lease could expire, and the KV converges', async () => {
    const before = await xdsContent();
    const writesBefore = await xdsWrites();
    const killedAt = Date.now();
    first.process.kill('SIGKILL');
    await first.exit;
    // a change made while the holder is dead: the standby translates it and writes it once it holds the lease
    system.writeManifest('shop.yaml', manifest(['127.0.91.3', '127.0.91.4']));

    const takenAt = await waitFor('the standby to take over', async () => ((await readyz(second))?.checks['lease']?.reason.startsWith('active') ? Date.now() : undefined), 30000, 50);
    const takeover = takenAt - killedAt;
    // the holder's connection is gone, so its lease-holder subject has no listener: no need to wait the lease out
    assert.ok(takeover < DURATION_MS, `took over after ${takeover} ms: before the lease (${DURATION_MS} ms) could expire`);
    assert.match(second.output.join('\n'), /lease translator: acquired by \S+ \(\S+ is gone: nothing answers on its lease-holder subject\)/);
    assert.ok((await holder())?.length, 'the lease names the new holder');

    await waitFor('the change made during the gap published', () => endpointsHold('127.0.91.4'), 30000);
    const after = await xdsContent();
    assert.ok(after.marker, 'generation marker present');
    assert.equal(after.marker!.count, after.entries.size, 'the marker counts the resources');
    assert.equal(after.marker!.digest, generationDigest(after.entries), 'the marker names exactly what the bucket holds');
    assert.deepEqual([...after.entries.keys()], [...before.entries.keys()], 'same resource keys: none lost, none duplicated');
    const cluster = [...after.entries.keys()].find((key) => key.startsWith('cluster.'))!;
    assert.equal(after.entries.get(cluster), before.entries.get(cluster), 'the unchanged cluster was not rewritten');
    assert.ok(after.marker!.generation > before.marker!.generation, 'the generation continues from the old writer');
    await waitFor('every write since the takeover is the new writer', async () => (await figure(second, 'resources_written')) === (await xdsWrites()) - writesBefore, 20000, 200).catch(async (error: Error) => {
      throw new Error(`${error.message}: the new writer counted ${await figure(second, 'resources_written')}, the stream holds ${(await xdsWrites()) - writesBefore} more\n${second.output.slice(-30).join('\n')}`);
    });
  });
});
