import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, lbKey, lbServiceCodec } from '@tendril/contract';
import { streamAccessLogsMessageCodec } from '@tendril/envoy';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { httpEntry, identifier, lbService, sample, sendAccessLogs, startMetrics, type MetricsProcess } from './testing/metrics-process.js';

describe('access log service', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let metrics: MetricsProcess;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // tendril-lb names the callers: 10.0.0.5 is a backend of shop/frontend
    const lb = await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
    await lb.put(lbKey({ cluster: 'default', namespace: 'shop', name: 'frontend' }), lbServiceCodec.encode(lbService('shop', 'frontend', '10.96.0.10', ['10.0.0.5'])));
    await lb.put(lbKey({ cluster: 'default', namespace: 'shop', name: 'cart' }), lbServiceCodec.encode(lbService('shop', 'cart', '10.96.0.11', ['10.0.0.6'])));
    metrics = await startMetrics(nats.url, { TENDRIL_METRICS_MAX_SERVICES: '4' });
  });
  after(async () => {
    await metrics.stop();
    await nc.close();
    await nats.dispose();
  });

  it('turns HTTP entries from a real gRPC client into requests by source, destination, method and status class', async () => {
    const from = { from: '10.0.0.5', cluster: 'shop/cart:80' };
    // the directory fills from tendril-lb asynchronously: wait until the caller is known by name
    await waitFor('caller named from tendril-lb', async () => {
      await sendAccessLogs(metrics.alsPort, [{ identifier: identifier('node-a'), httpLogs: { logEntry: [httpEntry({ ...from, method: 'HEAD', status: 200, millis: 1 })] } }]);
      return sample(await metrics.scrape(), 'tendril_http_requests_total', { source: 'shop/frontend', method: 'HEAD' }) > 0;
    });
    await sendAccessLogs(metrics.alsPort, [
      {
        identifier: identifier('node-a'),
        httpLogs: {
          logEntry: [
            httpEntry({ ...from, method: 'GET', status: 200, millis: 3 }),
            httpEntry({ ...from, method: 'GET', status: 204, millis: 40 }),
            httpEntry({ ...from, method: 'POST', status: 503, millis: 1500 }),
          ],
        },
      },
      { httpLogs: { logEntry: [httpEntry({ from: '192.0.2.1', cluster: 'shop/frontend:80', method: 'PURGE', status: 404, millis: 7 })] } },
    ]);
    await waitFor('requests counted', async () => sample(await metrics.scrape(), 'tendril_http_requests_total', { method: 'OTHER' }) === 1);
    const text = await metrics.scrape();
    const route = { source: 'shop/frontend', destination: 'shop/cart' };
    assert.equal(sample(text, 'tendril_http_requests_total', { ...route, method: 'GET', status: '2xx' }), 2);
    assert.equal(sample(text, 'tendril_http_requests_total', { ...route, method: 'POST', status: '5xx' }), 1);
    assert.equal(sample(text, 'tendril_http_requests_total', { source: 'unknown', destination: 'shop/frontend', method: 'OTHER', status: '4xx' }), 1);
    const headCount = sample(text, 'tendril_http_requests_total', { ...route, method: 'HEAD' });
    assert.equal(sample(text, 'tendril_http_request_duration_seconds_count', route), 3 + headCount);
    assert.equal(sample(text, 'tendril_http_request_duration_seconds_bucket', { ...route, le: '0.05' }), 2 + headCount, '1 ms HEADs, 3 ms and 40 ms under 50 ms');
    assert.equal(sample(text, 'tendril_http_request_duration_seconds_bucket', { ...route, le: '1' }), 2 + headCount, '1.5 s is not');
    assert.ok(Math.abs(sample(text, 'tendril_http_request_duration_seconds_sum', route) - (0.003 + 0.04 + 1.5 + 0.001 * headCount)) < 1e-9);
    assert.doesNotMatch(text, /items\//, 'no paths in labels');
  });

  it('counts TCP entries by outcome', async () => {
    await sendAccessLogs(metrics.alsPort, [
      {
        identifier: identifier('node-a'),
        tcpLogs: {
          logEntry: [
            { commonProperties: { downstreamRemoteAddress: { socketAddress: { address: '10.0.0.5', portValue: 1 } }, upstreamCluster: 'shop/cart:80', duration: { seconds: 2 } }, connectionProperties: { receivedBytes: 10, sentBytes: 20 } },
            { commonProperties: { upstreamCluster: 'shop/cart:80', responseFlags: { upstreamConnectionFailure: true } } },
          ],
        },
      },
    ]);
    await waitFor('tcp counted', async () => sample(await metrics.scrape(), 'tendril_tcp_connections_total', { destination: 'shop/cart' }) === 2);
    const text = await metrics.scrape();
    assert.equal(sample(text, 'tendril_tcp_connections_total', { source: 'shop/frontend', outcome: 'ok' }), 1);
    assert.equal(sample(text, 'tendril_tcp_connections_total', { source: 'unknown', outcome: 'error' }), 1);
  });

  it('drops and counts malformed messages and entries, keeps the stream and stays healthy', async () => {
    const before = await metrics.scrape();
    const good = { identifier: identifier('node-b'), httpLogs: { logEntry: [httpEntry({ from: '10.0.0.5', cluster: 'shop/cart:80', method: 'DELETE', status: 202, millis: 5 })] } };
    const noDuration = { httpLogs: { logEntry: [{ commonProperties: { upstreamCluster: 'shop/cart:80' }, response: { responseCode: { value: 200 } } }] } };
    // field 2 (http_logs) declared as a 200-byte message with 3 bytes present: not protobuf
    const garbage = Buffer.from([0x12, 0xc8, 0x01, 0x0a, 0x01, 0x02]);
    assert.throws(() => streamAccessLogsMessageCodec.decode(garbage), 'the garbage really does not decode');
    await sendAccessLogs(metrics.alsPort, [garbage, noDuration, good]);
    await waitFor('good entry after the bad ones counted', async () => sample(await metrics.scrape(), 'tendril_http_requests_total', { method: 'DELETE' }) === 1);
    const text = await metrics.scrape();
    const dropped = (reason: string) => sample(text, 'tendril_access_log_entries_dropped_total', { reason }) - sample(before, 'tendril_access_log_entries_dropped_total', { reason });
    assert.equal(dropped('malformed message'), 1);
    assert.equal(dropped('no duration'), 1);
    assert.equal((await fetch(`${metrics.http}/healthz`)).status, 200);
    assert.equal(metrics.child.exitCode, null);
  });

  it('keeps service labels within the budget', async () => {
    const clusters = Array.from({ length: 6 }, (_, i) => `load/svc-${i}:80`);
    await sendAccessLogs(metrics.alsPort, [{ httpLogs: { logEntry: clusters.map((cluster) => httpEntry({ from: '192.0.2.9', cluster, method: 'GET', status: 200, millis: 1 })) } }]);
    await waitFor('budget overflow counted', async () => sample(await metrics.scrape(), 'tendril_http_requests_total', { destination: 'other' }) > 0);
    const text = await metrics.scrape();
    const destinations = new Set([...text.matchAll(/^tendril_http_requests_total\{[^}]*destination="([^"]+)"/gm)].map((m) => m[1]));
    assert.ok(destinations.size <= 5, `at most 4 names and "other": ${[...destinations].join(', ')}`);
    assert.ok(sample(text, 'tendril_service_label_overflow') > 0);
  });

  it('draws what it saw as a service map', async () => {
    const map = await metrics.json('/api/service-map');
    const edge = map.edges.find((e: any) => e.source === 'shop/frontend' && e.destination === 'shop/cart');
    assert.ok(edge, JSON.stringify(map.edges));
    const http = sample(await metrics.scrape(), 'tendril_http_requests_total', { source: 'shop/frontend', destination: 'shop/cart' });
    const tcp = sample(await metrics.scrape(), 'tendril_tcp_connections_total', { source: 'shop/frontend', destination: 'shop/cart' });
    assert.equal(edge.requests, http + tcp);
    assert.equal(edge.errors, 1, 'the 503');
    assert.deepEqual(edge.protocols, ['http', 'tcp']);
    assert.ok(edge.requestRate > 0 && edge.errorRate > 0 && edge.meanLatencySeconds > 0);
    assert.ok(map.nodes.some((n: any) => n.id === 'shop/cart' && n.errorsIn >= 1));
  });
});
