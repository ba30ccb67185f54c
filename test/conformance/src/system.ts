/**
 * The part of Tendril the conformance harness runs for real: a nats-server with the per-service users,
 * the k8s-watcher in standalone mode on a temporary manifest folder, and the translator (their built
 * dist, as `npm start` runs them). The harness reads what they publish through the read-only `cli`
 * user: `tendril-objects`, `tendril-status`, `tendril-lb` and `tendril-xds`, and through the
 * translator's user the key material the cli may not read (`tendril-secrets`, `tendril-sds`), each
 * kept as a local copy by a KV watch, with a revision that moves on every change so checks wait for
 * changes, not for time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type KV, type NatsConnection } from 'nats';
import {
  BUCKETS,
  XDS_GENERATION_KEY,
  kubeObjectCodec,
  isLbServiceKey,
  lbServiceCodec,
  objectStatusCodec,
  parseXdsKey,
  xdsResourceCodec,
  envelopeBytes,
  type KubeObject,
  type LbService,
  type ObjectStatus,
  type ServiceName,
} from '@tendril/contract';
import { decodeResource } from '@tendril/envoy';
import { freePort, startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { repoRoot } from './corpus.js';
import type { EnvoyConfig } from './envoy-resolver.js';

export const CLUSTER = 'conformance';

interface Service {
  name: ServiceName;
  port: number;
  child: ChildProcess;
  output: string[];
  exit: Promise<unknown>;
}

/** A bucket's entries, decoded, kept current by a KV watch. */
class BucketCopy<T> {
  readonly entries = new Map<string, T>();
  private stopped = false;

  constructor(
    private readonly kv: KV,
    private readonly decode: (key: string, bytes: Uint8Array) => T | undefined,
    private readonly changed: () => void,
  ) {}

  async start(): Promise<void> {
    const watch = await this.kv.watch({ key: '>' });
    void (async () => {
      for await (const entry of watch) {
        if (this.stopped) break;
        if (entry.operation === 'PUT') {
          try {
            const value = this.decode(entry.key, entry.value);
            if (value === undefined) this.entries.delete(entry.key);
            else this.entries.set(entry.key, value);
          } catch {
            this.entries.delete(entry.key);
          }
        } else this.entries.delete(entry.key);
        this.changed();
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }
}

export class ConformanceSystem {
  readonly manifests = mkdtempSync(join(tmpdir(), 'tendril-conformance-manifests-'));
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'tendril-conformance-data-'));
  private nats!: TestNatsServer;
  private nc?: NatsConnection;
  private services: Service[] = [];
  /** Moves on every change to any watched bucket. */
  revision = 0;
  private waiters: (() => void)[] = [];
  objects!: BucketCopy<KubeObject>;
  status!: BucketCopy<ObjectStatus>;
  lb!: BucketCopy<LbService>;
  xds!: BucketCopy<{ type: string; name: string; resource: Record<string, unknown> } | { generation: number }>;
  /** The Secrets (tendril-secrets) and SDS Secrets (tendril-sds), read as the translator reads them. */
  secrets!: BucketCopy<KubeObject>;
  sds!: BucketCopy<{ type: string; name: string; resource: Record<string, unknown> } | { generation: number }>;
  private keysNc?: NatsConnection;
  private configCache?: { revision: number; config: EnvoyConfig };

  async start(): Promise<void> {
    this.nats = await startNatsServer({ auth: true });
    for (const name of ['k8s-watcher', 'translator'] as const) this.services.push(await this.spawn(name));
    for (const service of this.services) {
      await waitFor(`${service.name} /readyz 200`, async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`).catch(() => undefined))?.status === 200, 120000, 100).catch((error: Error) => {
        throw new Error(`${error.message}\n${this.output()}`);
      });
    }
    const credentials = this.nats.credentials!.cli;
    this.nc = await connect({ servers: this.nats.url, user: credentials.user, pass: credentials.password });
    const js = this.nc.jetstream();
    const bind = (bucket: string) => waitFor(`bucket ${bucket}`, async () => js.views.kv(bucket, { bindOnly: true }), 30000, 200);
    const bump = () => this.bump();
    this.objects = new BucketCopy(await bind(BUCKETS.objects), (_k, b) => kubeObjectCodec.decode(b), bump);
    this.status = new BucketCopy(await bind(BUCKETS.status), (_k, b) => objectStatusCodec.decode(b), bump);
    this.lb = new BucketCopy(await bind(BUCKETS.lb), (k, b) => (isLbServiceKey(k) ? lbServiceCodec.decode(b) : undefined), bump);
    const decodeXds = (key: string, bytes: Uint8Array) => {
      if (key === XDS_GENERATION_KEY) return { generation: (JSON.parse(new TextDecoder().decode(bytes)) as { generation: number }).generation };
      const envelope = xdsResourceCodec.decode(bytes);
      parseXdsKey(key);
      return { type: envelope.type, name: envelope.name, resource: decodeResource(envelope.type, envelopeBytes(envelope)) };
    };
    this.xds = new BucketCopy(await bind(BUCKETS.xds), decodeXds, bump);
    const translator = this.nats.credentials!.translator;
    this.keysNc = await connect({ servers: this.nats.url, user: translator.user, pass: translator.password });
    const bindKeys = (bucket: string) => waitFor(`bucket ${bucket}`, async () => this.keysNc!.jetstream().views.kv(bucket, { bindOnly: true }), 30000, 200);
    this.secrets = new BucketCopy(await bindKeys(BUCKETS.secrets), (_k, b) => kubeObjectCodec.decode(b), bump);
    this.sds = new BucketCopy(await bindKeys(BUCKETS.sds), decodeXds, bump);
    await Promise.all([this.objects.start(), this.status.start(), this.lb.start(), this.xds.start(), this.secrets.start(), this.sds.start()]);
  }

  private async spawn(name: ServiceName): Promise<Service> {
    const port = await freePort();
    const credentials = this.nats.credentials![name];
    const child = spawn(process.execPath, ['--enable-source-maps', join(repoRoot, 'apps', name, 'dist', 'main.js')], {
      cwd: repoRoot,
      env: {
        ...process.env,
        NO_COLOR: '1',
        TENDRIL_CLUSTER: CLUSTER,
        TENDRIL_NATS_URL: this.nats.url,
        TENDRIL_NATS_USER: credentials.user,
        TENDRIL_NATS_PASSWORD: credentials.password,
        TENDRIL_HTTP_HOST: '127.0.0.1',
        TENDRIL_HTTP_PORT: String(port),
        TENDRIL_MANIFESTS: this.manifests,
        TENDRIL_MANIFESTS_DEBOUNCE_MS: '20',
        TENDRIL_DATA_DIR: join(this.dataDir, name),
        TENDRIL_DEBOUNCE_MS: '20',
        TENDRIL_DEBOUNCE_MAX_MS: '200',
        TENDRIL_STATS_INTERVAL_MS: '60000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer) => {
      output.push(...chunk.toString().split('\n').filter(Boolean));
      if (output.length > 300) output.splice(0, output.length - 300);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exit = new Promise((done) => child.once('exit', done));
    return { name, port, child, output, exit };
  }

  output(lines = 30): string {
    return this.services.map((s) => `--- ${s.name} ---\n${s.output.slice(-lines).join('\n')}`).join('\n');
  }

  /** Lines of the services' output containing `text` (translation errors name their object). */
  grep(text: string): string[] {
    return this.services.flatMap((s) => s.output.filter((line) => line.includes(text)).map((line) => `${s.name}: ${line}`));
  }

  private bump(): void {
    this.revision++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves on the next change to any bucket, or after `ms`. */
  nextChange(ms: number): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(done, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        done();
      });
    });
  }

  /**
   * The translator's summary of its last publish (`tendril.translator.dump`), set once the publish
   * finished: a different answer means a translation of newer input reached the buckets.
   */
  async lastPublish(): Promise<string> {
    const reply = await this.nc!.request('tendril.translator.dump', new Uint8Array(), { timeout: 5000 }).catch(() => undefined);
    return reply ? new TextDecoder().decode(reply.data) : '';
  }

  writeFile(file: string, text: string): void {
    writeFileSync(join(this.manifests, file), text);
  }

  removeFile(file: string): void {
    rmSync(join(this.manifests, file), { force: true });
  }

  /** The configuration a node proxy gets, decoded, for the resolver (rebuilt only when buckets changed). */
  envoyConfig(): EnvoyConfig {
    if (this.configCache?.revision === this.revision) return this.configCache.config;
    const config: EnvoyConfig = { listeners: [], routes: new Map(), clusters: new Map(), endpoints: new Map(), secrets: new Map(), lb: new Map() };
    for (const value of [...this.xds.entries.values(), ...this.sds.entries.values()]) {
      if (!('type' in value)) continue;
      if (value.type === 'listener') config.listeners.push(value.resource);
      else if (value.type === 'route') config.routes.set(value.name, value.resource);
      else if (value.type === 'cluster') config.clusters.set(value.name, value.resource);
      else if (value.type === 'endpoint') config.endpoints.set(value.name, value.resource);
      else if (value.type === 'secret') config.secrets.set(value.name, value.resource);
    }
    for (const entry of this.lb.entries.values()) config.lb.set(`${entry.namespace}/${entry.name}`, entry);
    this.configCache = { revision: this.revision, config };
    return config;
  }

  async dispose(): Promise<void> {
    for (const copy of [this.objects, this.status, this.lb, this.xds, this.secrets, this.sds]) copy?.stop();
    await this.nc?.close().catch(() => undefined);
    await this.keysNc?.close().catch(() => undefined);
    for (const service of this.services) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGTERM');
    const deadline = setTimeout(() => this.services.forEach((s) => s.child.kill('SIGKILL')), 10000);
    await Promise.all(this.services.map((s) => s.exit));
    clearTimeout(deadline);
    await this.nats?.dispose();
    rmSync(this.manifests, { recursive: true, force: true });
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
