/** A real nats-server with JetStream on a free loopback port and a temporary store, for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_USERS, natsAuthorizationConfig, natsPasswordVariable, natsServerLimitsConfig, type NatsUser } from '@tendril/contract';
import { freePort, waitFor } from './ports.js';

export interface NatsCredentials {
  user: string;
  password: string;
}

export interface TestNatsServer {
  /** `tls://...` when the server requires TLS. */
  url: string;
  port: number;
  storeDir: string;
  /** Stops the server (SIGTERM); the store is kept so restart() resumes with the same data. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops and removes the store. */
  dispose(): Promise<void>;
  /** With `auth: true`, each service's user, with the permissions of libs/contract. */
  credentials?: Record<NatsUser, NatsCredentials>;
}

export interface NatsServerOptions {
  /** Run with the least-privilege users the contract defines (as `npm start` does). */
  auth?: boolean;
  /**
   * The server's max_payload in bytes; by default what Tendril's configurations set (the contract's
   * NATS_MAX_PAYLOAD). A small one makes every larger value travel in chunks.
   */
  maxPayload?: number;
  /** Require TLS from every client (the server's certificate and key; `ca` + `verify` ask clients for a certificate). */
  tls?: NatsServerTls;
}

export interface NatsServerTls {
  cert: string;
  key: string;
  /** CA that client certificates must be signed by. */
  ca?: string;
  /** Refuse clients without a certificate signed by `ca`. */
  verify?: boolean;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<TestNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'tendril-nats-'));
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];
  const env: Record<string, string> = {};
  let credentials: Record<NatsUser, NatsCredentials> | undefined;
  // as every configuration Tendril renders (npm start, k8s/): max_payload raised
  const config: string[] = [options.maxPayload === undefined ? natsServerLimitsConfig() : `max_payload: ${options.maxPayload}\n`];
  if (options.tls) config.push(tlsBlock(options.tls));
  if (options.auth) {
    config.push(natsAuthorizationConfig());
    credentials = {} as Record<NatsUser, NatsCredentials>;
    for (const user of NATS_USERS) {
      // nats-server parses a password from the environment as a value: it must not look like a number
      const password = `p${randomBytes(12).toString('hex')}`;
      credentials[user] = { user, password };
      env[natsPasswordVariable(user)] = password;
    }
  }
  const configFile = join(storeDir, 'server.conf');
  writeFileSync(configFile, config.join('\n'));
  args.push('-c', configFile);
  let child: ChildProcess | undefined;
  const start = async () => {
    const log = join(storeDir, 'server.log');
    child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', openSync(log, 'a')], env: { ...process.env, ...env } });
    await waitFor(`nats-server on 127.0.0.1:${port}`, () => canConnect(port), 30000, 50).catch((error: Error) => {
      throw new Error(`${error.message}\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`);
    });
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await start();
  return {
    ...(credentials ? { credentials } : {}),
    url: `${options.tls ? 'tls' : 'nats'}://127.0.0.1:${port}`,
    port,
    storeDir,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

function tlsBlock(tls: NatsServerTls): string {
  const lines = [`  cert_file: ${JSON.stringify(tls.cert)}`, `  key_file: ${JSON.stringify(tls.key)}`];
  if (tls.ca) lines.push(`  ca_file: ${JSON.stringify(tls.ca)}`);
  if (tls.verify) lines.push('  verify: true');
  return `tls {\n${lines.join('\n')}\n  timeout: 5\n}\n`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
