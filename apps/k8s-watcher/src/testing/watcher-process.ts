/**
 * The k8s-watcher as its own process in standalone mode, for the tests that drive it with files and
 * read what it writes with a real nats-server (test support, not used by the service).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, kubeObjectCodec, type KubeObject } from '@tendril/contract';
import type { ManifestError } from '@tendril/kube';
import { freePort, waitFor } from '@tendril/testing';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

export interface WatcherProcess {
  port: number;
  output(): string;
  clearOutput(): void;
  stop(): Promise<number | null>;
  start(): void;
  readyz(): Promise<{ status: number; body: string } | undefined>;
  kv: KV;
  nc: NatsConnection;
  object(key: string): Promise<KubeObject | undefined>;
  keys(): Promise<string[]>;
  errors(): Promise<ManifestError[]>;
  close(): Promise<void>;
}

export async function startWatcherProcess(natsUrl: string, folder: string, env: Record<string, string> = {}): Promise<WatcherProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const start = () => {
    child = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        KUBECONFIG: '/nonexistent/kubeconfig',
        TENDRIL_NATS_URL: natsUrl,
        TENDRIL_HTTP_PORT: String(port),
        TENDRIL_HTTP_HOST: '127.0.0.1',
        TENDRIL_MANIFESTS: folder,
        TENDRIL_MANIFESTS_DEBOUNCE_MS: '20',
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
  };
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (!child || child.exitCode !== null) return resolve(child?.exitCode ?? null);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  start();
  const nc = await connect({ servers: natsUrl });
  const kv = await waitFor(
    'tendril-objects bucket',
    async () => {
      const bucket = await nc.jetstream().views.kv(BUCKETS.objects, { bindOnly: true });
      await bucket.status();
      return bucket;
    },
    120000,
    200,
  );
  return {
    port,
    output: () => output,
    clearOutput: () => void (output = ''),
    stop,
    start,
    readyz: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return response ? { status: response.status, body: await response.text() } : undefined;
    },
    kv,
    nc,
    object: async (key) => {
      const entry = await kv.get(key);
      return entry && entry.operation === 'PUT' ? kubeObjectCodec.decode(entry.value) : undefined;
    },
    keys: async () => {
      const out: string[] = [];
      for await (const key of await kv.keys()) out.push(key);
      return out.sort();
    },
    errors: async () => JSON.parse(new TextDecoder().decode((await nc.request('tendril.k8s-watcher.errors', new Uint8Array(), { timeout: 10000 })).data)) as ManifestError[],
    close: async () => {
      await stop();
      await nc.close();
    },
  };
}
