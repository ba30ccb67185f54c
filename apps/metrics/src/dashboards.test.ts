import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { BUCKETS, SUBJECTS, flowEventCodec, nodeToken, proxyStateCodec, xdsProxyEventCodec } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { httpEntry, sample, sendAccessLogs, startMetrics, type MetricsProcess } from './testing/metrics-process.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dashboards = join(root, 'k8s/dashboards');

const PROMQL_WORDS = new Set(['sum', 'avg', 'min', 'max', 'count', 'rate', 'irate', 'increase', 'histogram_quantile', 'by', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'label_values', 'topk', 'bottomk', 'clamp_min', 'abs']);

/** The metric names a PromQL expression reads (label matchers, groupings, ranges and strings removed). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/,\s*[a-z_]+\s*\)/g, ')'); // label_values(metric, label)
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((word) => !PROMQL_WORDS.has(word));
}

/** Every figure a service declares (reported to the metrics service as tendril_mesh_<figure>). */
function declaredFigures(): string[] {
  const figures = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/\.figure\(\s*'([a-z0-9_]+)'/g)) figures.add(m[1]!);
    }
  };
  for (const app of readdirSync(join(root, 'apps'), { withFileTypes: true })) if (app.isDirectory()) walk(join(root, 'apps', app.name, 'src'));
  walk(join(root, 'libs/platform/src'));
  return [...figures];
}

describe('Grafana dashboards', () => {
  let nats: TestNatsServer;
  let metrics: MetricsProcess;
  let exported: Set<string>;

  before(async () => {
    nats = await startNatsServer();
    metrics = await startMetrics(nats.url);
    // one of everything, so every labelled series exists
    const nc = await connect({ servers: nats.url });
    await sendAccessLogs(metrics.alsPort, [
      { httpLogs: { logEntry: [httpEntry({ from: '192.0.2.1', cluster: 'shop/cart:80', method: 'GET', status: 200, millis: 3 })] } },
      { tcpLogs: { logEntry: [{ commonProperties: { upstreamCluster: 'shop/cart:80' } }] } },
      Buffer.from([0x12, 0xff]),
    ]);
    nc.publish(SUBJECTS.flows('n'), flowEventCodec.encode({ v: 1, node: 'n', at: new Date().toISOString(), protocol: 'TCP', service: { address: '10.96.0.1', port: 80 }, backend: { address: '10.0.0.1', port: 80 }, verdict: 'translated', count: 1 }));
    nc.publish(SUBJECTS.xdsProxy('p'), xdsProxyEventCodec.encode({ v: 1, event: 'ack', nodeId: 'p', replica: 'r', at: new Date().toISOString() }));
    nc.publish(SUBJECTS.xdsProxy('p'), new TextEncoder().encode('not json'));
    const proxies = await nc.jetstream().views.kv(BUCKETS.proxies, { history: 1 });
    await proxies.put(nodeToken('p'), proxyStateCodec.encode({ v: 1, nodeId: 'p', nodeCluster: 'c', replica: 'r', connectedAt: new Date().toISOString(), connected: true, types: [] }));
    await waitFor('every kind of series', async () => {
      const text = await metrics.scrape();
      return ['tendril_http_requests_total', 'tendril_tcp_connections_total', 'tendril_flows_by_service_total', 'tendril_xds_proxy_events_total', 'tendril_metrics_bad_messages_total'].every((name) => sample(text, name) > 0);
    });
    await nc.close();
    const text = await metrics.scrape();
    exported = new Set([...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    for (const figure of declaredFigures()) exported.add(`tendril_mesh_${figure}`);
  });
  after(async () => {
    await metrics.stop();
    await nats.dispose();
  });

  it('query only metric names the metrics service exports', () => {
    const files = readdirSync(dashboards).filter((name) => name.endsWith('.json'));
    assert.deepEqual(files.sort(), ['control-plane.json', 'l7-traffic.json']);
    let queries = 0;
    for (const file of files) {
      const dashboard = JSON.parse(readFileSync(join(dashboards, file), 'utf8'));
      const exprs: string[] = [
        ...dashboard.panels.flatMap((panel: any) => panel.targets.map((target: any) => target.expr)),
        ...dashboard.templating.list.filter((v: any) => v.type === 'query').map((v: any) => v.query),
      ];
      for (const expr of exprs) {
        const names = metricNames(expr);
        assert.ok(names.length > 0, `${file}: ${expr} reads no metric`);
        for (const name of names) assert.ok(exported.has(name), `${file}: ${expr} reads ${name}, which is not exported`);
        queries++;
      }
    }
    assert.ok(queries >= 20, `${queries} queries checked`);
  });

  it('the name check catches a name that is not exported', () => {
    assert.deepEqual(metricNames('sum by (le) (rate(tendril_http_request_duration_seconds_bucket{status=~"5xx"}[5m])) / tendril_made_up'), ['tendril_http_request_duration_seconds_bucket', 'tendril_made_up']);
    assert.equal(exported.has('tendril_made_up'), false);
  });
});
