import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { SUBJECTS, kubeObjectCodec, objectKey, serviceStatsCodec, type KubeObject } from '@tendril/contract';
import { freePort, startNatsServer, waitFor } from '@tendril/testing';

const main = fileURLToPath(new URL('./main.js', import.meta.url));

const service = (port: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'timed', namespace: 'default' },
  spec: { clusterIP: '127.96.0.30', ports: [{ name: 'http', port, targetPort: 8080 }] },
});

test('translation duration and the object -> tendril-xds lag are reported on /metrics and tendril.stats.translator, and move with each object change', { timeout: 90000 }, async (t) => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const httpPort = await freePort();
  let log = '';
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, TENDRIL_NATS_URL: nats.url, TENDRIL_HTTP_HOST: '127.0.0.1', TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_CLUSTER: 'c1', TENDRIL_DEBOUNCE_MS: '20', TENDRIL_STATS_INTERVAL_MS: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await nc.close();
    await nats.dispose();
  });
  const stats: Record<string, number>[] = [];
  const subscription = nc.subscribe(SUBJECTS.stats('translator'));
  void (async () => {
    for await (const message of subscription) stats.push(serviceStatsCodec.decode(message.data).figures);
  })();
  const scrape = async () => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return {
      translations: value('tendril_translation_duration_seconds_count'),
      lags: value('tendril_object_to_xds_lag_seconds_count'),
      lagSum: value('tendril_object_to_xds_lag_seconds_sum'),
      published: value('tendril_object_changes_published'),
    };
  };

  const objects = await nc.jetstream().views.kv('tendril-objects', { history: 1 });
  await nc.jetstream().views.kv('tendril-secrets', { history: 1 }); // the watcher creates both input buckets
  const key = objectKey({ cluster: 'c1', kind: 'service', namespace: 'default', name: 'timed' });
  await waitFor('translator ready', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok, 30000);
  const before = await scrape();
  assert.ok(before.translations >= 1, `the first translation is timed: ${JSON.stringify(before)}\n${log}`);

  await objects.put(key, kubeObjectCodec.encode(service(80)));
  const first = await waitFor('the change to be published and timed', async () => {
    const now = await scrape();
    return now.published >= before.published + 1 && now.lags >= before.lags + 1 ? now : undefined;
  });
  assert.ok(first.translations > before.translations, 'the change was translated and timed');
  assert.ok(first.lagSum >= 0);

  await objects.put(key, kubeObjectCodec.encode(service(81)));
  const second = await waitFor('the next change', async () => {
    const now = await scrape();
    return now.published >= first.published + 1 ? now : undefined;
  });
  assert.ok(second.lags > first.lags && second.translations > first.translations);

  // the same figures go out on tendril.stats.translator, for metrics' tendril_mesh_*
  const reported = await waitFor('figures on tendril.stats.translator', () => stats.findLast((figures) => figures['object_changes_published']! >= second.published));
  for (const name of ['last_translation_seconds', 'last_object_to_xds_lag_seconds']) assert.ok(Number.isFinite(reported[name]) && reported[name]! >= 0, `${name}: ${reported[name]}`);
  assert.ok(reported['last_translation_seconds']! > 0, 'a translation takes some time');
});
