import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { SUBJECTS, serviceStatsCodec } from '@tendril/contract';
import { Metrics, NatsClient } from '@tendril/platform';
import { startNatsServer, waitFor } from '@tendril/testing';
import { GenerationLag } from './generation-lag.js';
import { TestXdsBucket, edsCluster, startXdsServer } from './testing/xds-process.js';

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
  const bucket = await TestXdsBucket.open(nc);
  const publish = (timeout: string) => bucket.publish({ put: [edsCluster('default/a', timeout)] });
  await publish('1s');
  let output = '';
  const server = await startXdsServer(nats.url, { env: { TENDRIL_STATS_INTERVAL_MS: '300' }, onOutput: (d) => (output += d) });
  t.after(async () => {
    await server.stop('SIGKILL');
    await nc.close();
    await nats.dispose();
  });
  const stats: Record<string, number>[] = [];
  const subscription = nc.subscribe(SUBJECTS.stats('xds-server'));
  void (async () => {
    for await (const message of subscription) stats.push(serviceStatsCodec.decode(message.data).figures);
  })();
  const measured = async () => {
    const text = await (await fetch(`${server.http}/metrics`)).text();
    return Number(/^tendril_xds_push_lag_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  };

  const before = await measured();
  await publish('2s');
  await waitFor(`the new generation's lag measured (${output})`, async () => (await measured()) >= before + 1);
  await publish('3s');
  await waitFor('and the next one', async () => (await measured()) >= before + 2);
  const reported = await waitFor('figures on tendril.stats.xds-server', () => stats.findLast((figures) => figures['xds_push_lags_measured']! >= before + 2));
  // ready means available to push: the snapshot holds the newest marker the translator wrote
  const readyz = (await (await fetch(`${server.http}/readyz`)).json()) as { checks: Record<string, { ok: boolean; reason: string }> };
  assert.deepEqual(readyz.checks['generation'], { ok: true, reason: `serving generation ${bucket.generation}` });
  assert.equal(reported['generation_lag'], 0);
  assert.ok(reported['generation_latest']! >= bucket.generation - 1, 'the newest marker is reported');
  assert.ok(reported['last_xds_push_lag_seconds']! >= 0 && reported['last_xds_push_lag_seconds']! < 30, `${reported['last_xds_push_lag_seconds']}`);
});
