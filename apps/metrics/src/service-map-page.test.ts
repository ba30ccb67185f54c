import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startNatsServer, type TestNatsServer } from '@tendril/testing';
import { httpEntry, identifier, sendAccessLogs, startMetrics, type MetricsProcess } from './testing/metrics-process.js';

const run = promisify(execFile);
const results = fileURLToPath(new URL('../test-results/', import.meta.url));
const WIDTH = 1200;
const HEIGHT = 800;

/** Debian's chromium, headless, in a profile of its own. */
async function chromium(profile: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, `--window-size=${WIDTH},${HEIGHT}`, '--virtual-time-budget=6000', ...args],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

describe('service map page', () => {
  let nats: TestNatsServer;
  let metrics: MetricsProcess;
  let profile: string;

  before(async () => {
    nats = await startNatsServer();
    metrics = await startMetrics(nats.url);
    profile = mkdtempSync(join(tmpdir(), 'tendril-chromium-'));
    const call = (from: string, cluster: string, status: number) => httpEntry({ from, cluster, method: 'GET', status, millis: 12 });
    // no tendril-lb here: callers are "unknown", clusters name the destinations
    await sendAccessLogs(metrics.alsPort, [
      { identifier: identifier('node-a'), httpLogs: { logEntry: [call('192.0.2.1', 'shop/frontend:80', 200), call('192.0.2.1', 'shop/frontend:80', 200)] } },
      { httpLogs: { logEntry: [call('192.0.2.1', 'shop/cart:8080', 500), call('192.0.2.1', 'shop/checkout:80', 200)] } },
    ]);
  });
  after(async () => {
    await metrics.stop();
    await nats.dispose();
    rmSync(profile, { recursive: true, force: true });
  });

  it('draws the nodes and edges the API returns, in a real browser', async () => {
    const map = await metrics.json<{ nodes: { id: string }[]; edges: unknown[] }>('/api/service-map');
    assert.deepEqual(map.nodes.map((n) => n.id), ['shop/cart', 'shop/checkout', 'shop/frontend', 'unknown']);

    const dom = await chromium(profile, '--dump-dom', `${metrics.http}/`);
    const drawn = [...dom.matchAll(/<li data-x="(-?\d+)" data-y="(-?\d+)">([^<]+)<\/li>/g)].map(([, x, y, name]) => ({ name: name!, x: Number(x), y: Number(y) }));
    assert.deepEqual(drawn.map((node) => node.name).sort(), map.nodes.map((n) => n.id), `drawn: ${dom.slice(0, 2000)}`);
    for (const node of drawn) assert.ok(node.x > 0 && node.x < WIDTH && node.y > 0 && node.y < HEIGHT, `${node.name} is on screen at ${node.x},${node.y}`);
    assert.match(dom, new RegExp(`data-drawn-edges="${map.edges.length}"`));
    assert.match(dom, /4 services, 3 edges/);

    mkdirSync(results, { recursive: true });
    const screenshot = join(results, 'service-map.png');
    rmSync(screenshot, { force: true });
    await chromium(profile, `--screenshot=${screenshot}`, `${metrics.http}/`);
    assert.ok(statSync(screenshot).size > 10_000, `a screenshot with something drawn in ${screenshot}`);
  });
});
