/**
 * The whole system as separate processes, the way `npm start` runs it, but on free ports, a private
 * nats-server, a temporary manifest folder, and a cgroup and bpffs pin folder of the test's own, so it
 * can run beside a running Tendril and leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, type ServiceName } from '@tendril/contract';
import { freePort, startNatsServer, waitFor, type NatsServerOptions, type TestNatsServer } from '@tendril/testing';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface RunningService {
  name: ServiceName;
  httpPort: number;
  process: ChildProcess;
  output: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SystemOptions {
  /** Beyond the least-privilege users every system runs with (e.g. `tls`). */
  nats?: Omit<NatsServerOptions, 'auth'>;
  /** Extra environment of every service (e.g. TLS settings). */
  env?: Record<string, string>;
}

export class System {
  readonly services = new Map<ServiceName, RunningService>();
  /** Further replicas of a service (startReplica), beside the one in `services`. */
  readonly replicas: RunningService[] = [];
  readonly manifests: string;
  readonly dataDir: string;
  readonly cgroup: string;
  readonly pinPath: string;
  xdsPort = 0;
  nats!: TestNatsServer;
  private ports = new Map<ServiceName, number>();

  constructor(
    readonly name: string,
    private readonly options: SystemOptions = {},
  ) {
    this.manifests = mkdtempSync(join(tmpdir(), 'tendril-manifests-'));
    this.dataDir = mkdtempSync(join(tmpdir(), 'tendril-data-'));
    this.cgroup = `/sys/fs/cgroup/unified/tendril-${name}-${process.pid}`;
    this.pinPath = `/sys/fs/bpf/tendril-${name}-${process.pid}`;
  }

  /** Starts nats-server and the given services (all five by default) and waits until they are ready. */
  async start(names: readonly ServiceName[] = SERVICES, readyTimeoutMs = 60000): Promise<void> {
    // the same least-privilege users `npm start` runs with: a missing permission fails here first
    this.nats = await startNatsServer({ ...this.options.nats, auth: true });
    mkdirSync(this.cgroup, { recursive: true });
    this.xdsPort = await freePort();
    for (const name of SERVICES) this.ports.set(name, await freePort());
    for (const name of names) await this.startService(name);
    await this.waitReady(names, readyTimeoutMs);
  }

  env(name: ServiceName): Record<string, string> {
    const credentials = this.nats.credentials![name];
    return {
      TENDRIL_NATS_URL: this.nats.url,
      TENDRIL_NATS_USER: credentials.user,
      TENDRIL_NATS_PASSWORD: credentials.password,
      // no TENDRIL_*_HOST: the services' defaults (loopback) are what runs, and what the spine checks
      TENDRIL_HTTP_PORT: String(this.ports.get(name)),
      TENDRIL_XDS_PORT: String(this.xdsPort),
      // the metrics service's access log gRPC port: any free one, so parallel systems do not collide
      TENDRIL_ALS_PORT: '0',
      TENDRIL_MANIFESTS: this.manifests,
      TENDRIL_MANIFESTS_DEBOUNCE_MS: '20',
      TENDRIL_DATA_DIR: join(this.dataDir, name),
      TENDRIL_CGROUP_PATH: this.cgroup,
      TENDRIL_BPF_PIN_PATH: this.pinPath,
      TENDRIL_STATS_INTERVAL_MS: '300',
      TENDRIL_DEBOUNCE_MS: '20',
      TENDRIL_NODE_NAME: `node-${this.name}`,
      // a translator waits out the lease of a predecessor that answers but does not renew: short here, 15 s by default
      TENDRIL_LEASE_DURATION_MS: '3000',
      TENDRIL_LEASE_RENEW_DEADLINE_MS: '2000',
      TENDRIL_LEASE_RETRY_MS: '500',
      ...this.options.env,
    };
  }

  async startService(name: ServiceName): Promise<RunningService> {
    const service = this.spawnApp(name, this.ports.get(name)!, {});
    this.services.set(name, service);
    return service;
  }

  /** One more replica of a service, on its own HTTP port (and data folder), beside the one in `services`. */
  async startReplica(name: ServiceName, env: Record<string, string> = {}): Promise<RunningService> {
    const replica = this.spawnApp(name, await freePort(), { TENDRIL_DATA_DIR: join(this.dataDir, `${name}-${this.replicas.length + 2}`), ...env });
    this.replicas.push(replica);
    return replica;
  }

  private spawnApp(name: ServiceName, httpPort: number, env: Record<string, string>): RunningService {
    const child = spawn(process.execPath, ['--enable-source-maps', join(repoRoot, 'apps', name, 'dist', 'main.js')], {
      cwd: repoRoot,
      env: { ...process.env, ...this.env(name), TENDRIL_HTTP_PORT: String(httpPort), ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer) => {
      output.push(...chunk.toString().split('\n').filter(Boolean));
      if (output.length > 400) output.splice(0, output.length - 400);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    return { name, httpPort, process: child, output, exit };
  }

  url(name: ServiceName, path: string): string {
    return `http://127.0.0.1:${this.ports.get(name)}${path}`;
  }

  async readyz(name: ServiceName): Promise<number> {
    try {
      return (await fetch(this.url(name, '/readyz'))).status;
    } catch {
      return 0;
    }
  }

  async waitReady(names: readonly ServiceName[] = SERVICES, timeoutMs = 60000): Promise<void> {
    for (const name of names) {
      await waitFor(`${name} /readyz 200`, async () => (await this.readyz(name)) === 200, timeoutMs).catch((error: Error) => {
        throw new Error(`${error.message}\n--- ${name} output ---\n${this.services.get(name)?.output.slice(-40).join('\n')}`);
      });
    }
  }

  async metrics(name: ServiceName): Promise<string> {
    return (await fetch(this.url(name, '/metrics'))).text();
  }

  writeManifest(file: string, text: string): void {
    writeFileSync(join(this.manifests, file), text);
  }

  removeManifest(file: string): void {
    rmSync(join(this.manifests, file), { force: true });
  }

  /** SIGTERM every service; returns each one's exit code and how long it took. */
  async stopAll(): Promise<Map<ServiceName, { code: number | null; signal: NodeJS.Signals | null; ms: number }>> {
    const results = new Map<ServiceName, { code: number | null; signal: NodeJS.Signals | null; ms: number }>();
    await Promise.all(
      [...this.services.values()].map(async (service) => {
        const started = Date.now();
        if (service.process.exitCode === null && service.process.signalCode === null) service.process.kill('SIGTERM');
        const timer = setTimeout(() => service.process.kill('SIGKILL'), 15000);
        const exit = await service.exit;
        clearTimeout(timer);
        results.set(service.name, { ...exit, ms: Date.now() - started });
      }),
    );
    return results;
  }

  /** Stops what is still running and removes everything the system made. */
  async dispose(): Promise<void> {
    const all = [...this.services.values(), ...this.replicas];
    for (const service of all) if (service.process.exitCode === null && service.process.signalCode === null) service.process.kill('SIGKILL');
    await Promise.all(all.map((s) => s.exit));
    await this.nats?.dispose();
    rmSync(this.manifests, { recursive: true, force: true });
    rmSync(this.dataDir, { recursive: true, force: true });
    removeCgroup(this.cgroup);
    rmSync(this.pinPath, { recursive: true, force: true });
  }

  /** Connection options of the read-only `cli` user, for checks from the test itself. */
  get observer(): { servers: string; user: string; pass: string } {
    const credentials = this.nats.credentials!.cli;
    return { servers: this.nats.url, user: credentials.user, pass: credentials.password };
  }

  dumpOutput(): string {
    return [...this.services.values()].map((s) => `--- ${s.name} ---\n${s.output.slice(-30).join('\n')}`).join('\n');
  }
}

/** A cgroup can only be removed once empty; removing it detaches its programs. */
export function removeCgroup(path: string): void {
  if (!existsSync(path)) return;
  const procs = readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  for (const pid of procs) {
    try {
      writeFileSync('/sys/fs/cgroup/unified/cgroup.procs', pid);
    } catch {
      // the process is gone
    }
  }
  try {
    rmdirSync(path);
  } catch {
    // still busy: left for the next run
  }
}
