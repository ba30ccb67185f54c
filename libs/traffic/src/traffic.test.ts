import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowEvent, LbService } from '@tendril/contract';
import { FlowQueryError, FlowRing, LabelBudget, parseFlowQuery, proxyStatus, ServiceDirectory, ServiceMap, methodLabel, observeAccessLog, serviceOfCluster, statusClass } from './index.js';

const lbService = (namespace: string, name: string, vip: string, backends: string[]): LbService => ({
  v: 1,
  cluster: 'default',
  namespace,
  name,
  frontends: [{ address: vip, port: 80, protocol: 'TCP', portName: '', scope: 'ClusterIP' }],
  backends: backends.map((address) => ({ address, port: 8080, protocol: 'TCP', portName: '', weight: 1, state: 'active' })),
  algorithm: 'random',
  affinity: null,
  l7Proxy: null,
});

const directory = new ServiceDirectory();
directory.update([lbService('shop', 'frontend', '10.96.0.10', ['10.0.0.5']), lbService('shop', 'cart', '10.96.0.11', ['10.0.0.6', '10.0.0.7'])]);

const socket = (address: string) => ({ socketAddress: { address, portValue: 1234 } });

describe('access log observations', () => {
  it('names caller and callee by service, and classifies method and status', () => {
    const { observations, dropped } = observeAccessLog(
      {
        httpLogs: {
          logEntry: [
            {
              commonProperties: { downstreamRemoteAddress: socket('10.0.0.5'), upstreamCluster: 'shop/cart:80', startTime: { seconds: '1700000000', nanos: 5e8 }, duration: { seconds: '0', nanos: 25e6 } },
              request: { requestMethod: 'POST' },
              response: { responseCode: { value: 503 } },
            },
            {
              commonProperties: { downstreamRemoteAddress: socket('192.168.1.1'), upstreamRemoteAddress: socket('10.0.0.7'), timeToLastDownstreamTxByte: { seconds: 1 } },
              request: { requestMethod: 'METHOD_UNSPECIFIED' },
              response: { responseCode: { value: 204 } },
            },
            { commonProperties: { upstreamCluster: 'shop/cart:80' }, response: { responseCode: { value: 200 } } },
            { request: { requestMethod: 'GET' } },
          ],
        },
      },
      directory,
      42,
    );
    assert.deepEqual(observations, [
      { protocol: 'http', source: 'shop/frontend', destination: 'shop/cart', method: 'POST', status: 503, statusClass: '5xx', durationSeconds: 0.025, error: true, at: 1700000000500 },
      { protocol: 'http', source: 'unknown', destination: 'shop/cart', method: 'OTHER', status: 204, statusClass: '2xx', durationSeconds: 1, error: false, at: 42 },
    ]);
    assert.deepEqual(dropped, [
      { reason: 'no duration', count: 1 },
      { reason: 'no common properties', count: 1 },
    ]);
  });

  it('counts a TCP entry with a response flag as an error, and a message without entries as dropped', () => {
    const tcp = observeAccessLog({ tcpLogs: { logEntry: [{ commonProperties: { upstreamCluster: 'shop/frontend:80', responseFlags: { upstreamConnectionFailure: true } } }] } }, directory, 1);
    assert.equal(tcp.observations[0]?.destination, 'shop/frontend');
    assert.equal(tcp.observations[0]?.error, true);
    assert.deepEqual(observeAccessLog({}, directory).dropped, [{ reason: 'no log entries', count: 1 }]);
  });

  it('reads service cluster names and keeps labels bounded', () => {
    assert.equal(serviceOfCluster('default/echo:8080'), 'default/echo');
    assert.equal(serviceOfCluster('default/echo/8080'), undefined);
    assert.equal(methodLabel('get'), 'GET');
    assert.equal(methodLabel('/etc/passwd'), 'OTHER');
    assert.deepEqual([0, 99, 101, 302, 404, 599, 600].map(statusClass), ['none', 'none', '1xx', '3xx', '4xx', '5xx', 'none']);
    const budget = new LabelBudget(2);
    assert.deepEqual(['a', 'b', 'a', 'c', 'd', 'b'].map((v) => budget.label(v)), ['a', 'b', 'a', 'other', 'other', 'b']);
    assert.equal(budget.overflowed, 2);
  });
});

const flow = (serviceName: string, verdict: FlowEvent['verdict'], address = '10.96.0.10'): FlowEvent => ({
  v: 1,
  node: 'n1',
  at: new Date(0).toISOString(),
  protocol: 'TCP',
  service: { address, port: 80 },
  backend: { address: '10.0.0.5', port: 8080 },
  serviceName,
  verdict,
  count: 1,
});

describe('flow ring', () => {
  it('keeps the newest flows up to its capacity and filters by service, verdict and time', () => {
    const ring = new FlowRing(3, 60_000);
    ring.push(flow('shop/frontend', 'translated'), 1000);
    ring.push(flow('shop/cart', 'no-backend', '10.96.0.11'), 2000);
    ring.push(flow('shop/cart', 'translated', '10.96.0.11'), 3000);
    ring.push(flow('shop/frontend', 'translated'), 4000);
    assert.equal(ring.size, 3);
    assert.deepEqual(ring.query({}, 5000).map((f) => f.seq), [2, 3, 4]);
    assert.deepEqual(ring.query({ service: 'shop/cart' }, 5000).map((f) => f.seq), [2, 3]);
    assert.deepEqual(ring.query({ service: '10.96.0.11:80', verdict: 'translated' }, 5000).map((f) => f.seq), [3]);
    assert.deepEqual(ring.query({ since: 3000 }, 5000).map((f) => f.seq), [3, 4]);
    assert.deepEqual(ring.query({ limit: 1 }, 5000).map((f) => f.seq), [4]);
    assert.deepEqual(ring.query({}, 62_500).map((f) => f.seq), [3, 4], 'older than a minute is gone');
  });

  it('tells followers of every new flow until they stop', () => {
    const ring = new FlowRing(10, 60_000);
    const seen: number[] = [];
    const stop = ring.follow((f) => seen.push(f.seq));
    ring.push(flow('a/b', 'translated'));
    stop();
    ring.push(flow('a/b', 'translated'));
    assert.deepEqual(seen, [1]);
  });
});

describe('service map', () => {
  it('has services as nodes and traffic as edges with rates over the window', () => {
    const map = new ServiceMap(10, 100);
    const at = 1_000_000;
    for (let i = 0; i < 20; i++) map.record({ source: 'shop/frontend', destination: 'shop/cart', protocol: 'http', error: i % 4 === 0, durationSeconds: 0.01, at: at + i * 100 });
    map.record({ source: 'shop/cart', destination: 'shop/db', protocol: 'tcp', error: false, durationSeconds: 2, at: at - 60_000 });
    const snapshot = map.snapshot(at + 2000);
    assert.deepEqual(snapshot.nodes.map((n) => n.id), ['shop/cart', 'shop/db', 'shop/frontend']);
    const [cartToDb, frontendToCart] = snapshot.edges;
    assert.equal(frontendToCart?.requests, 20);
    assert.equal(frontendToCart?.errors, 5);
    assert.equal(frontendToCart?.requestRate, 2);
    assert.equal(frontendToCart?.errorRate, 0.25);
    assert.ok(Math.abs((frontendToCart?.meanLatencySeconds ?? 0) - 0.01) < 1e-9);
    assert.equal(cartToDb?.requests, 1, 'totals stay');
    assert.equal(cartToDb?.requestRate, 0, 'but it is outside the window');
    assert.equal(snapshot.nodes.find((n) => n.id === 'shop/cart')?.errorsIn, 5);
  });

  it('stops adding edges at its bound and counts what it dropped', () => {
    const map = new ServiceMap(10, 2);
    for (const destination of ['a', 'b', 'c']) map.record({ source: 's', destination, protocol: 'http', error: false, durationSeconds: 0, at: 0 });
    assert.equal(map.snapshot(0).edges.length, 2);
    assert.equal(map.droppedEdges, 1);
  });
});

describe('flow queries', () => {
  it('reads service, verdict, since as a time or an age, and limit; refuses what it cannot read', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    assert.deepEqual(parseFlowQuery({ service: 'shop/cart', verdict: 'no-backend', since: '5m', limit: '10' }, now), {
      service: 'shop/cart',
      verdict: 'no-backend',
      since: Date.parse('2026-01-01T00:05:00Z'),
      limit: 10,
    });
    assert.deepEqual(parseFlowQuery({ since: '2026-01-01T00:00:00Z', service: '' }, now), { since: Date.parse('2026-01-01T00:00:00Z') });
    assert.throws(() => parseFlowQuery({ verdict: 'dropped' }), FlowQueryError);
    assert.throws(() => parseFlowQuery({ since: 'yesterday' }), /since=yesterday/);
    assert.throws(() => parseFlowQuery({ limit: '-1' }), FlowQueryError);
    assert.throws(() => parseFlowQuery({ service: ['a', 'b'] }), FlowQueryError);
  });
});

describe('proxy status', () => {
  it('says per type whether the proxy is synced, rejected the last push, or has not answered', () => {
    const type = (typeUrl: string, versionAcked: string, lastNonce: string, error?: string) => ({
      typeUrl: `type.googleapis.com/${typeUrl}`,
      versionAcked,
      lastNonce,
      subscribed: [],
      lastNack: error ? { version: 'v2', nonce: lastNonce, error } : null,
    });
    const status = proxyStatus({
      v: 1,
      nodeId: 'node-a',
      nodeCluster: 'c',
      replica: 'x-1',
      connectedAt: '2026-01-01T00:00:00Z',
      connected: true,
      types: [
        type('envoy.config.route.v3.RouteConfiguration', 'v1', '3', 'route default/r: unknown cluster'),
        type('envoy.config.cluster.v3.Cluster', 'v1', '2'),
        type('envoy.config.listener.v3.Listener', '', '4'),
        type('envoy.config.endpoint.v3.ClusterLoadAssignment', '', ''),
      ],
    });
    assert.deepEqual(
      status.types.map((t) => [t.type, t.status, t.error]),
      [
        ['cluster', 'SYNCED', undefined],
        ['endpoint', 'NOT SENT', undefined],
        ['listener', 'STALE', undefined],
        ['route', 'NACK', 'route default/r: unknown cluster'],
      ],
    );
  });

  it('is STALE while a newer push waits for its ACK, SYNCED once it came', () => {
    const state = (awaitingAck: boolean) =>
      proxyStatus({
        v: 1, nodeId: 'node-a', nodeCluster: 'c', replica: 'x-1', connectedAt: '2026-01-01T00:00:00Z', connected: true,
        types: [{ typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', versionAcked: 'v1', lastNonce: '7', subscribed: [], lastNack: null, awaitingAck }],
      }).types[0]!.status;
    assert.equal(state(true), 'STALE');
    assert.equal(state(false), 'SYNCED');
  });
});

describe('service directory', () => {
  it('follows one service at a time: added, moved, shared and removed addresses', () => {
    const names = new ServiceDirectory();
    names.set('lb.shop.cart', lbService('shop', 'cart', '198.18.0.11', ['198.18.1.6']));
    names.set('lb.shop.admin', lbService('shop', 'admin', '198.18.0.12', ['198.18.1.6']));
    // a backend shared by two services is the first's in name order, whatever order they came in
    assert.equal(names.serviceAt('198.18.1.6'), 'shop/admin');
    assert.equal(names.serviceAt('198.18.0.11'), 'shop/cart');
    // the cart moves to another backend: its old address is the admin's alone, the new one the cart's
    names.set('lb.shop.cart', lbService('shop', 'cart', '198.18.0.11', ['198.18.1.7']));
    assert.equal(names.serviceAt('198.18.1.7'), 'shop/cart');
    assert.equal(names.serviceAt('198.18.1.6'), 'shop/admin');
    // the admin goes: none of its addresses names it any more
    names.set('lb.shop.admin', undefined);
    assert.equal(names.serviceAt('198.18.1.6'), undefined);
    assert.equal(names.serviceAt('198.18.0.12'), undefined);
    assert.equal(names.size, 2);
    // update() replaces the whole view
    names.update([lbService('web', 'front', '198.18.0.20', [])]);
    assert.equal(names.serviceAt('198.18.0.11'), undefined);
    assert.equal(names.serviceAt('198.18.0.20'), 'web/front');
  });
});
