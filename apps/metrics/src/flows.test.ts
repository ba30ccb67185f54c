import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, SUBJECTS, flowEventCodec, lbKey, lbServiceCodec, proxyStateCodec, nodeToken, type FlowEvent, type LbService } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { flowEvent, sample, startMetrics, type MetricsProcess } from './testing/metrics-process.js';

describe('flows and proxies', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let one: MetricsProcess;
  let two: MetricsProcess;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // one replica stores flows in sqlite (the default), the other in memory: both paths, one answer
    [one, two] = await Promise.all([startMetrics(nats.url), startMetrics(nats.url, { TENDRIL_FLOWS_STORE: 'memory' })]);
    // each replica knows the other from its stats before the tests count on gathering
    const metricsReporters = async (replica: MetricsProcess) => (await replica.scrape()).match(/^tendril_mesh_nats_connected\{[^}]*reporter="metrics"/gm)?.length ?? 0;
    await waitFor('replicas know each other', async () => (await metricsReporters(one)) === 2 && (await metricsReporters(two)) === 2);
  });
  after(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await nc.close();
    await nats.dispose();
  });

  it('two replicas fed the same flow stream count and store each flow once', async () => {
    const sent = 60;
    for (let n = 0; n < sent; n++) nc.publish(SUBJECTS.flows(n % 2 ? 'node-a' : 'node-b'), flowEventCodec.encode(flowEvent(n, { node: n % 2 ? 'node-a' : 'node-b' })));
    const total = async () => sample(await one.scrape(), 'tendril_flows_total') + sample(await two.scrape(), 'tendril_flows_total');
    await waitFor('every flow counted', async () => (await total()) === sent);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await total(), sent, 'and none twice');
    const byService = sample(await one.scrape(), 'tendril_flows_by_service_total', { destination: 'shop/cart' }) + sample(await two.scrape(), 'tendril_flows_by_service_total', { destination: 'shop/cart' });
    assert.equal(byService, sent);
    for (const replica of [one, two]) {
      const query = () => replica.json<{ flows: { backend: { port: number }; replica: string }[] }>('/api/flows?service=shop/cart');
      // stored in batches: wait for the last one
      await waitFor('flows stored', async () => (await query()).flows.length >= sent);
      const { flows } = await query();
      assert.equal(flows.length, sent, 'a query gathers the flows of both replicas');
      assert.deepEqual(new Set(flows.map((f) => f.backend.port)).size, sent, 'each once');
      assert.equal(new Set(flows.map((f) => f.replica)).size, 2, 'stored by both replicas (the queue group shares them)');
    }
  });

  it('answers /api/flows by service, verdict and time, and refuses a bad query', async () => {
    const mark = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    nc.publish(SUBJECTS.flows('node-c'), flowEventCodec.encode(flowEvent(1, { node: 'node-c', serviceName: 'shop/db', verdict: 'no-backend', service: { address: '10.96.0.12', port: 5432 } })));
    nc.publish(SUBJECTS.flows('node-c'), flowEventCodec.encode(flowEvent(2, { node: 'node-c', serviceName: 'shop/db', count: 3 })));
    await waitFor('stored', async () => (await one.json<{ flows: unknown[] }>('/api/flows?service=shop/db')).flows.length === 2);
    const noBackend = await one.json<{ flows: FlowEvent[] }>('/api/flows?service=shop/db&verdict=no-backend');
    assert.deepEqual(noBackend.flows.map((f) => [f.node, f.service.port, f.verdict]), [['node-c', 5432, 'no-backend']]);
    const byVip = await two.json<{ flows: FlowEvent[] }>('/api/flows?service=10.96.0.12:5432');
    assert.equal(byVip.flows.length, 1);
    const recent = await two.json<{ flows: FlowEvent[] }>(`/api/flows?since=${encodeURIComponent(mark)}`);
    assert.deepEqual(recent.flows.map((f) => f.serviceName).sort(), ['shop/db', 'shop/db']);
    assert.equal((await two.json<{ flows: FlowEvent[] }>('/api/flows?since=1h&limit=5')).flows.length, 5);
    const bad = await fetch(`${one.http}/api/flows?verdict=dropped`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /verdict=dropped/);
  });

  it('streams new flows with follow=true, whichever replica stores them', async () => {
    const controller = new AbortController();
    const response = await fetch(`${one.http}/api/flows?follow=true&service=shop/web&since=1s`, { signal: controller.signal });
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson');
    const reader = response.body!.getReader();
    const lines: FlowEvent[] = [];
    let buffered = '';
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += new TextDecoder().decode(value);
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buffered.slice(0, newline)));
          buffered = buffered.slice(newline + 1);
        }
      }
    })().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let n = 0; n < 10; n++) nc.publish(SUBJECTS.flows('node-d'), flowEventCodec.encode(flowEvent(n, { node: 'node-d', serviceName: n % 2 ? 'shop/web' : 'shop/other' })));
    await waitFor('followed', async () => lines.length === 5);
    assert.deepEqual(lines.map((f) => f.backend.port), [8001, 8003, 8005, 8007, 8009]);
    controller.abort();
    await read;
  });

  it('names the caller of an L4 flow by its source address (a backend in tendril-lb): flows, counters and the service map show source -> destination', async () => {
    const kv = await nc.jetstream().views.kv(BUCKETS.lb, { history: 1 });
    const service = (name: string, vip: string, backend: string): LbService => ({
      v: 1,
      cluster: 'default',
      namespace: 'store',
      name,
      frontends: [{ address: vip, port: 80, protocol: 'TCP', portName: 'http', scope: 'ClusterIP' }],
      backends: [{ address: backend, port: 8080, protocol: 'TCP', portName: 'http', weight: 1, state: 'active' }],
      algorithm: 'random',
      affinity: null,
      l7Proxy: null,
    });
    await kv.put(lbKey({ cluster: 'default', namespace: 'store', name: 'front' }), lbServiceCodec.encode(service('front', '10.96.7.1', '10.0.7.1')));
    await kv.put(lbKey({ cluster: 'default', namespace: 'store', name: 'stock' }), lbServiceCodec.encode(service('stock', '10.96.7.2', '10.0.7.2')));
    const call = (n: number) =>
      flowEvent(n, { node: 'node-f', source: { address: '10.0.7.1' }, service: { address: '10.96.7.2', port: 80 }, backend: { address: '10.0.7.2', port: 8080 }, serviceName: 'store/stock', count: 2 });
    // both replicas mirror tendril-lb before the flows go out (whichever takes a flow names it)
    for (const replica of [one, two]) {
      await waitFor('tendril-lb mirrored', async () => {
        nc.publish(SUBJECTS.flows('node-f'), flowEventCodec.encode(call(0)));
        const edges = (await replica.json<{ edges: { source: string; destination: string }[] }>('/api/service-map')).edges;
        return edges.some((edge) => edge.source === 'store/front' && edge.destination === 'store/stock');
      });
    }
    nc.publish(SUBJECTS.flows('node-f'), flowEventCodec.encode(flowEvent(1, { node: 'node-f', serviceName: 'store/stock', service: { address: '10.96.7.2', port: 80 }, verdict: 'no-backend' })));
    const fromFront = async () => (await one.json<{ flows: FlowEvent[] }>('/api/flows?service=store/front')).flows;
    await waitFor('flows from store/front stored', async () => (await fromFront()).length >= 2);
    for (const stored of await fromFront()) assert.deepEqual([stored.source, stored.sourceName, stored.serviceName], [{ address: '10.0.7.1' }, 'store/front', 'store/stock']);
    const counted = async () =>
      sample(await one.scrape(), 'tendril_flows_by_service_total', { source: 'store/front', destination: 'store/stock' }) +
      sample(await two.scrape(), 'tendril_flows_by_service_total', { source: 'store/front', destination: 'store/stock' });
    assert.ok((await counted()) >= 4, 'counted by source and destination');
    const edge = (await one.json<{ edges: { source: string; destination: string; protocols: string[]; requests: number }[] }>('/api/service-map')).edges.find((e) => e.source === 'store/front');
    assert.deepEqual([edge?.destination, edge?.protocols], ['store/stock', ['tcp']]);
    // a flow without a source address, or from an address no service has, has an unknown caller
    const maps = () => Promise.all([one, two].map((replica) => replica.json<{ edges: { source: string; destination: string; errors: number }[] }>('/api/service-map')));
    await waitFor('the sourceless flow on the map', async () => (await maps()).some((map) => map.edges.some((e) => e.source === 'unknown' && e.destination === 'store/stock' && e.errors > 0)));
  });

  it('counts a flow event that breaks the contract, once', async () => {
    nc.publish(SUBJECTS.flows('node-e'), new TextEncoder().encode('{"v":1,"node":"x"}'));
    const bad = async () =>
      sample(await one.scrape(), 'tendril_metrics_bad_messages_total', { subject: SUBJECTS.flows('node-e') }) + sample(await two.scrape(), 'tendril_metrics_bad_messages_total', { subject: SUBJECTS.flows('node-e') });
    await waitFor('bad message counted', async () => (await bad()) === 1);
  });

  it('serves the flow query as a NATS micro endpoint', async () => {
    const reply = await nc.request(SUBJECTS.endpoint('metrics', 'flows'), new TextEncoder().encode(JSON.stringify({ service: 'shop/db', verdict: 'translated' })), { timeout: 3000 });
    const { flows } = JSON.parse(new TextDecoder().decode(reply.data)) as { flows: FlowEvent[] };
    assert.deepEqual(flows.map((f) => f.count), [3]);
  });

  it('shows each proxy and type as SYNCED, STALE or NACK with the error', async () => {
    const proxies = await nc.jetstream().views.kv(BUCKETS.proxies, { history: 1 });
    const type = (name: string, versionAcked: string, error?: string) => ({
      typeUrl: `type.googleapis.com/envoy.config.${name}`,
      versionAcked,
      lastNonce: '7',
      subscribed: [],
      lastNack: error ? { version: 'b', nonce: '7', error } : null,
    });
    await proxies.put(
      nodeToken('router~10.0.0.9~gw.default'),
      proxyStateCodec.encode({
        v: 1,
        nodeId: 'router~10.0.0.9~gw.default',
        nodeCluster: 'gw',
        replica: 'xds-1',
        connectedAt: new Date().toISOString(),
        connected: true,
        types: [type('cluster.v3.Cluster', 'a'), type('listener.v3.Listener', 'a', 'listener default/gw/http/80: duplicate filter chain'), type('route.v3.RouteConfiguration', '')],
      }),
    );
    await waitFor('proxy listed', async () => (await one.json<{ proxies: unknown[] }>('/api/proxies')).proxies.length === 1, 15000);
    const { proxies: listed } = await one.json<{ proxies: { nodeId: string; types: { type: string; status: string; error?: string }[] }[] }>('/api/proxies');
    assert.equal(listed[0]?.nodeId, 'router~10.0.0.9~gw.default');
    assert.deepEqual(
      listed[0]?.types.map((t) => [t.type, t.status, t.error ?? '']),
      [
        ['cluster', 'SYNCED', ''],
        ['listener', 'NACK', 'listener default/gw/http/80: duplicate filter chain'],
        ['route', 'STALE', ''],
      ],
    );
    assert.equal(sample(await one.scrape(), 'tendril_proxy_sync_status', { type: 'listener', status: 'NACK' }), 1);
  });
});
