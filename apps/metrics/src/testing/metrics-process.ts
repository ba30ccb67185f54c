/** Test support: a metrics process started from its build, with its own ports, and what tests send it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { FlowEvent, LbService } from '@tendril/contract';
import { accessLogService, type StreamAccessLogsMessage } from '@tendril/envoy';
import { freePort, waitFor } from '@tendril/testing';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

export interface MetricsProcess {
  http: string;
  alsPort: number;
  child: ChildProcess;
  scrape(): Promise<string>;
  json<T = any>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startMetrics(natsUrl: string, env: Record<string, string> = {}): Promise<MetricsProcess> {
  const httpPort = await freePort();
  const alsPort = await freePort();
  // each process its own data dir: its own flow database
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-metrics-'));
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      TENDRIL_NATS_URL: natsUrl,
      TENDRIL_HTTP_PORT: String(httpPort),
      TENDRIL_HTTP_HOST: '127.0.0.1',
      TENDRIL_ALS_HOST: '127.0.0.1',
      TENDRIL_ALS_PORT: String(alsPort),
      TENDRIL_STATS_INTERVAL_MS: '200',
      TENDRIL_DATA_DIR: dataDir,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const http = `http://127.0.0.1:${httpPort}`;
  await waitFor('metrics ready', async () => {
    if (child.exitCode !== null) throw new Error(`metrics exited with ${child.exitCode} before it was ready`);
    return (await fetch(`${http}/readyz`).catch(() => undefined))?.status === 200;
  }, 20000);
  return {
    http,
    alsPort,
    child,
    scrape: async () => (await fetch(`${http}/metrics`)).text(),
    json: async <T>(path: string) => (await (await fetch(`${http}${path}`)).json()) as T,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A real gRPC client of envoy.service.accesslog.v3.AccessLogService, as Envoy's gRPC access logger is. */
export async function sendAccessLogs(port: number, messages: (StreamAccessLogsMessage | Buffer)[], credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): Promise<void> {
  const Client = grpc.makeGenericClientConstructor(accessLogService as unknown as grpc.ServiceDefinition, 'AccessLogService');
  const client = new Client(`127.0.0.1:${port}`, credentials) as unknown as {
    StreamAccessLogs(callback: (error: grpc.ServiceError | null) => void): grpc.ClientWritableStream<StreamAccessLogsMessage | Buffer>;
    close(): void;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const call = client.StreamAccessLogs((error) => (error ? reject(error) : resolve()));
      for (const message of messages) call.write(message);
      call.end();
    });
  } finally {
    client.close();
  }
}

const socket = (address: string, portValue: number) => ({ socketAddress: { address, portValue } });

/** One HTTP entry as Envoy's HTTPAccessLogEntry, from a caller address to a cluster. */
export function httpEntry(options: { from: string; cluster: string; method: string; status: number; millis: number; startSeconds?: number }) {
  return {
    commonProperties: {
      downstreamRemoteAddress: socket(options.from, 40000),
      upstreamRemoteAddress: socket('10.0.0.6', 8080),
      upstreamCluster: options.cluster,
      startTime: { seconds: options.startSeconds ?? Math.floor(Date.now() / 1000), nanos: 0 },
      duration: { seconds: Math.floor(options.millis / 1000), nanos: (options.millis % 1000) * 1e6 },
      routeName: 'shop/cart/http',
    },
    protocolVersion: 'HTTP11',
    request: { requestMethod: options.method, scheme: 'http', authority: 'cart', path: `/items/${Math.random()}` },
    response: { responseCode: { value: options.status } },
  };
}

export function identifier(node: string) {
  return { node: { id: node, cluster: 'tendril' }, logName: 'tendril-als' };
}

export function lbService(namespace: string, name: string, vip: string, backends: string[]): LbService {
  return {
    v: 1,
    cluster: 'default',
    namespace,
    name,
    frontends: [{ address: vip, port: 80, protocol: 'TCP', portName: '', scope: 'ClusterIP' }],
    backends: backends.map((address) => ({ address, port: 8080, protocol: 'TCP', portName: '', weight: 1, state: 'active' })),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
  };
}

/** A flow to shop/cart (10.96.0.11:80) translated to backend 10.0.0.6:<8000 + n>, seen now on node-a. */
export function flowEvent(n: number, overrides: Partial<FlowEvent> = {}): FlowEvent {
  return {
    v: 1,
    node: 'node-a',
    at: new Date().toISOString(),
    protocol: 'TCP',
    service: { address: '10.96.0.11', port: 80 },
    backend: { address: '10.0.0.6', port: 8000 + n },
    serviceName: 'shop/cart',
    verdict: 'translated',
    count: 1,
    ...overrides,
  };
}

/** The value of one sample line of a scrape, by metric name and label subset; 0 if absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
