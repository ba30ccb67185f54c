import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { httpEntry, sendAccessLogs, startMetrics, type MetricsProcess } from './testing/metrics-process.js';

describe('OTLP export', () => {
  let nats: TestNatsServer;
  let metrics: MetricsProcess;
  let collector: Server;
  const received: any[] = [];

  before(async () => {
    // a collector that keeps what it is sent
    collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ path: request.url, type: request.headers['content-type'], body: JSON.parse(body) });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    nats = await startNatsServer();
    metrics = await startMetrics(nats.url, { TENDRIL_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/metrics`, TENDRIL_OTLP_INTERVAL_MS: '200' });
  });
  after(async () => {
    await metrics.stop();
    await nats.dispose();
    await new Promise((resolve) => collector.close(resolve));
  });

  it('sends the L7 counters and histograms as OTLP metrics when an endpoint is set', async () => {
    await sendAccessLogs(metrics.alsPort, [{ httpLogs: { logEntry: [httpEntry({ from: '192.0.2.1', cluster: 'shop/cart:80', method: 'GET', status: 200, millis: 30 }), httpEntry({ from: '192.0.2.1', cluster: 'shop/cart:80', method: 'GET', status: 200, millis: 3000 })] } }]);
    const metricNamed = (name: string) => received.at(-1)?.body.resourceMetrics[0].scopeMetrics[0].metrics.find((m: any) => m.name === name);
    await waitFor('requests exported', async () => metricNamed('tendril_http_requests_total')?.sum.dataPoints[0]?.asDouble === 2);
    const last = received.at(-1)!;
    assert.equal(last.path, '/v1/metrics');
    assert.equal(last.type, 'application/json');
    assert.ok(last.body.resourceMetrics[0].resource.attributes.some((a: any) => a.key === 'service.name' && a.value.stringValue === 'tendril-metrics'));
    const requests = metricNamed('tendril_http_requests_total').sum;
    assert.equal(requests.isMonotonic, true);
    assert.deepEqual(
      requests.dataPoints[0].attributes.filter((a: any) => ['destination', 'method', 'status'].includes(a.key)).map((a: any) => [a.key, a.value.stringValue]),
      [['destination', 'shop/cart'], ['method', 'GET'], ['status', '2xx']],
    );
    const duration = metricNamed('tendril_http_request_duration_seconds').histogram.dataPoints[0];
    assert.equal(duration.count, '2');
    assert.ok(Math.abs(duration.sum - 3.03) < 1e-9);
    assert.equal(duration.bucketCounts.length, duration.explicitBounds.length + 1);
    const at = (bound: number) => Number(duration.bucketCounts[duration.explicitBounds.indexOf(bound)]);
    assert.equal(at(0.05), 1, '30 ms in (0.025, 0.05]');
    assert.equal(at(5), 1, '3 s in (2.5, 5]');
    assert.equal(duration.bucketCounts.reduce((sum: number, n: string) => sum + Number(n), 0), 2);
  });
});
