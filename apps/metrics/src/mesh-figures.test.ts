import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { SUBJECTS, serviceStatsCodec, xdsProxyEventCodec } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { startMetrics, type MetricsProcess } from './testing/metrics-process.js';

describe('metrics service', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let metrics: MetricsProcess;
  const scrape = async () => metrics.scrape();

  before(async () => {
    nats = await startNatsServer();
    metrics = await startMetrics(nats.url);
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc.close();
    await metrics.stop();
    await nats.dispose();
  });

  it('shows the figures other services report over NATS, per reporter', async () => {
    const report = (instance: string, value: number) =>
      nc.publish(SUBJECTS.stats('translator'), serviceStatsCodec.encode({ v: 1, service: 'translator', instance, at: new Date().toISOString(), ready: true, figures: { resources_written: value } }));
    report('t-1', 42);
    report('t-2', 7);
    await waitFor('figures on /metrics', async () => /tendril_mesh_resources_written\{[^}]*reporter_instance="t-2"[^}]*\} 7/.test(await scrape()));
    const text = await scrape();
    assert.match(text, /tendril_mesh_resources_written\{[^}]*reporter="translator"[^}]*reporter_instance="t-1"[^}]*\} 42/);
  });

  it('forgets an instance that stopped reporting', async () => {
    nc.publish(SUBJECTS.stats('datapath'), serviceStatsCodec.encode({ v: 1, service: 'datapath', instance: 'gone', at: new Date().toISOString(), ready: true, figures: { map_entries: 3 } }));
    await waitFor('reported', async () => /reporter_instance="gone"/.test(await scrape()));
    await waitFor('forgotten', async () => !/reporter_instance="gone"/.test(await scrape()), 10000);
  });

  it('counts proxy events and ignores messages that break the contract', async () => {
    nc.publish(SUBJECTS.xdsProxy('node-a'), xdsProxyEventCodec.encode({ v: 1, event: 'nack', nodeId: 'node-a', replica: 'r', at: new Date().toISOString(), error: 'bad' }));
    nc.publish(SUBJECTS.xdsProxy('node-a'), new TextEncoder().encode('{"v":2}'));
    await waitFor('counted', async () => /tendril_xds_proxy_events_total\{[^}]*event="nack"[^}]*\} 1/.test(await scrape()));
    assert.match(await scrape(), /tendril_metrics_bad_messages_total\{[^}]*\} 1/);
    assert.equal((await fetch(`${metrics.http}/healthz`)).status, 200);
  });
});
