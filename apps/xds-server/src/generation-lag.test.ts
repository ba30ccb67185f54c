import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { BUCKETS, SUBJECTS, XDS_GENERATION_KEY, generationDigest, serviceStatsCodec, xdsEnvelope, xdsGenerationCodec, xdsKey, xdsResourceCodec } from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import { Metrics, NatsClient } from '@tendril/platform';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';
import { GenerationLag } from './generation-lag.js';

const main = fileURLToPath(new URL('./main.js', import.meta.url));

test('the push lag is measured whichever comes first, the marker or the push', async () => {
  const metrics = new Metrics('xds-server', 'test');
  const lag = new GenerationLag(undefined as unknown as NatsClient, metrics);
  lag.markerWritten(4, 1_000);
  lag.pushed(4, 1_250);
  lag.pushed(5, 2_000);
  assert.equal(metrics.readFigures()['xds_push_lags_measured'], 1, 'generation 5 waits for its marker');
  lag.markerWritten(5, 1_900);
  assert.deepEqual([metrics.readFigures()['xds_push_lags_measured'], metrics.readFigures()['last_xds_push_lag_seconds']], [2, 0.1]);
  lag.markerWritten(6, 3_000);
  lag.pushed(6, 2_990); // a server clock ahead of ours
  assert.equal(metrics.readFigures()['last_xds_push_lag_seconds'], 0);
});

test('xds-server reports the lag from a generation marker to its pushes, on /metrics and tendril.stats.xds-server', { timeout: 60000 }, async (t) => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const kv = await nc.jetstream().views.kv(BUCKETS.xds, { history: 1 });
  let generation = 0;
  const publish = async (timeout: string) => {
    const envelope = xdsEnvelope('cluster', 'default/a', encodeResource('cluster', { name: 'default/a', type: 'EDS', connectTimeout: timeout, edsClusterConfig: { edsConfig: { ads: {} } } }));
    await kv.put(xdsKey(envelope), xdsResourceCodec.encode(envelope));
    await kv.put(XDS_GENERATION_KEY, xdsGenerationCodec.encode({ v: 1, generation: ++generation, digest: generationDigest([[xdsKey(envelope), envelope.hash]]), count: 1 }));
  };
  await publish('1s');
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  let output = '';
  const server = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_XDS_HOST: '127.0.0.1', TENDRIL_XDS_PORT: String(grpcPort), TENDRIL_STATS_INTERVAL_MS: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (output += d));
  server.stderr!.on('data', (d) => (output += d));
  t.after(async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
    await nc.close();
    await nats.dispose();
  });
  const stats: Record<string, number>[] = [];
  const subscription = nc.subscribe(SUBJECTS.stats('xds-server'));
  void (async () => {
    for await (const message of subscription) stats.push(serviceStatsCodec.decode(message.data).figures);
  })();
  const measured = async () => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    return Number(/^tendril_xds_push_lag_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  };
  await waitFor('xds-server ready', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok, 20000);

  const before = await measured();
  await publish('2s');
  await waitFor(`the new generation's lag measured (${output})`, async () => (await measured()) >= before + 1);
  await publish('3s');
  await waitFor('and the next one', async () => (await measured()) >= before + 2);
  const reported = await waitFor('figures on tendril.stats.xds-server', () => stats.findLast((figures) => figures['xds_push_lags_measured']! >= before + 2));
  assert.ok(reported['last_xds_push_lag_seconds']! >= 0 && reported['last_xds_push_lag_seconds']! < 30, `${reported['last_xds_push_lag_seconds']}`);
});
