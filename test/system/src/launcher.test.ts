/**
 * The dev launcher (`npm start`, tools/dev/launch.mjs) stopped the way a terminal stops it: SIGINT to
 * its whole foreground process group. The services must stop before nats-server, so the translator
 * releases its lease through it, and the next start takes the lease at once instead of serving the
 * previous run's output until the old lease expires. Runs the launcher with the watcher and the
 * translator only, on free ports and a data folder of its own.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { BUCKETS, leaseCodec } from '@tendril/contract';
import { freePort, waitFor } from '@tendril/testing';
import { serviceManifest } from './fixtures.js';
import { repoRoot } from './system.js';

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** Two consecutive free ports: the watcher's and the translator's. */
async function portPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
}

interface Launch {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

describe('the dev launcher stopped with Ctrl-C', { timeout: 240000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-launch-data-'));
  const manifests = mkdtempSync(join(tmpdir(), 'tendril-launch-manifests-'));
  const launched: Launch[] = [];
  const connections: NatsConnection[] = [];
  after(async () => {
    // a failed test leaves a launcher running: its children run in process groups of their own, so
    // the launcher is asked to stop them (SIGINT) before it is killed, and the test's connections close
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    for (const launch of launched) {
      if (launch.child.exitCode !== null || launch.child.signalCode !== null) continue;
      process.kill(-launch.child.pid!, 'SIGINT');
      const stopped = await Promise.race([launch.exit.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20000))]);
      if (!stopped) process.kill(-launch.child.pid!, 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(manifests, { recursive: true, force: true });
  });

  const launch = async (env: Record<string, string>): Promise<Launch> => {
    let text = '';
    // detached: the launcher leads a process group, as a shell's foreground job does
    const child = spawn(process.execPath, [join(repoRoot, 'tools', 'dev', 'launch.mjs')], {
      cwd: repoRoot,
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.on('data', (chunk) => (text += chunk));
    child.stderr!.on('data', (chunk) => (text += chunk));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const started: Launch = { child, output: () => text, exit };
    launched.push(started);
    await waitFor('the launcher to say Tendril is up', () => {
      if (child.exitCode !== null) throw new Error(`launcher exited ${child.exitCode}:\n${text}`);
      return text.includes('Tendril is up');
    }, 120000).catch((error: Error) => {
      throw new Error(`${error.message}\n${text.split('\n').slice(-40).join('\n')}`);
    });
    return started;
  };

  it('stops the services before nats-server: the translator releases its lease, and the next start takes it at once', async () => {
    writeFileSync(join(manifests, 'shop.yaml'), serviceManifest({ name: 'shop', clusterIP: '127.100.93.1', endpoints: ['127.0.93.1'] }));
    // an Ingress: the watcher adds its load balancer's owned Service and EndpointSlice to what the
    // translator reads, and "up" must still be said once they are all translated
    writeFileSync(
      join(manifests, 'ingress.yaml'),
      'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: shop, namespace: default }\nspec:\n  ingressClassName: cilium\n  rules:\n  - http:\n      paths:\n      - { path: /, pathType: Prefix, backend: { service: { name: shop, port: { number: 80 } } } }\n',
    );
    const natsPort = await freePort();
    const env = {
      TENDRIL_DATA_DIR: dataDir,
      TENDRIL_MANIFESTS: manifests,
      TENDRIL_NATS_PORT: String(natsPort),
      TENDRIL_NATS_MONITOR_PORT: String(await freePort()),
      TENDRIL_START_BACKENDS: 'false',
      TENDRIL_LAUNCH_SERVICES: 'k8s-watcher,translator',
      TENDRIL_LAUNCH_HTTP_PORT_BASE: String(await portPair()),
      TENDRIL_HTTP_HOST: '127.0.0.1',
    };
    const first = await launch(env);
    const credentials = JSON.parse(readFileSync(join(dataDir, 'nats', 'credentials.json'), 'utf8')) as Record<string, string>;
    const nc = await connect({ servers: `nats://127.0.0.1:${natsPort}`, user: 'cli', pass: credentials.cli!, reconnect: false });
    connections.push(nc);
    const leases = await nc.jetstream().views.kv(BUCKETS.leases, { bindOnly: true });
    await waitFor('the translator to hold its lease', async () => (await leases.get('translator'))?.operation === 'PUT', 60000);
    const holder = leaseCodec.decode((await leases.get('translator'))!.value).holder;

    const events: string[] = [];
    const watch = await leases.watch({ key: 'translator' });
    void (async () => {
      for await (const entry of watch) if (entry.operation !== 'PUT') events.push(`lease ${entry.operation}`);
    })().catch(() => undefined);
    const closed = nc.closed().then(() => events.push('nats-server gone'));

    // Ctrl-C: the terminal signals the launcher's whole process group
    process.kill(-first.child.pid!, 'SIGINT');
    assert.equal(await first.exit, 0, first.output().split('\n').slice(-30).join('\n'));
    await closed;
    assert.deepEqual(events, ['lease DEL', 'nats-server gone'], `the lease was released before NATS stopped:\n${first.output().split('\n').slice(-30).join('\n')}`);

    const second = await launch(env);
    await waitFor('the new translator to take the lease', () => /lease translator: acquired by \S+ \(the lease was free\)/.test(second.output()), 30000);
    assert.doesNotMatch(second.output(), /did not renew/, 'nothing waited for the old lease to expire');
    const again = await connect({ servers: `nats://127.0.0.1:${natsPort}`, user: 'cli', pass: credentials.cli! });
    connections.push(again);
    const now = (await (await again.jetstream().views.kv(BUCKETS.leases, { bindOnly: true })).get('translator'))!;
    assert.notEqual(leaseCodec.decode(now.value).holder, holder);
    await again.close();
    process.kill(-second.child.pid!, 'SIGINT');
    assert.equal(await second.exit, 0);
  });
});
