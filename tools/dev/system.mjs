// The system as `npm start` runs it, in parts the dev launcher (tools/dev/launch.mjs) and the end-to-end
// benchmark (bench/e2e.mjs) share: NATS users and nats-server's command line, echo backends for the
// local endpoints of a manifest folder, the five services' command lines, and a set of child processes
// stopped in order (the services first, nats-server last).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests } from '@tendril/kube';
import { NATS_USERS, natsAuthorizationConfig, natsPasswordVariable, natsServerLimitsConfig } from '@tendril/contract';

export const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The five services in start order, with their default HTTP ports. */
export const SERVICES = [
  ['k8s-watcher', 9871],
  ['translator', 9872],
  ['xds-server', 9873],
  ['datapath', 9874],
  ['metrics', 9875],
];

/**
 * NATS least privilege, as in Kubernetes: one user per service with the permissions libs/contract
 * defines. Passwords are made once per data folder (`<dataDir>/nats/credentials.json`, which the
 * tendril CLI reads); the nats-server `authorization` block is rendered beside it.
 */
export function natsUsers(dataDir) {
  mkdirSync(join(dataDir, 'nats'), { recursive: true });
  const credentialsFile = join(dataDir, 'nats', 'credentials.json');
  const credentials = existsSync(credentialsFile) ? JSON.parse(readFileSync(credentialsFile, 'utf8')) : {};
  // nats-server parses a password taken from the environment as a value: it must start with a letter
  for (const user of NATS_USERS) if (!/^[a-z][a-z0-9]+$/i.test(credentials[user] ?? '')) credentials[user] = `p${randomBytes(16).toString('hex')}`;
  writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  const authConfig = join(dataDir, 'nats', 'auth.conf');
  // max_payload raised as in every configuration Tendril renders (libs/contract large-values.ts)
  writeFileSync(authConfig, natsServerLimitsConfig() + natsAuthorizationConfig());
  /** The environment nats-server reads the passwords from (auth.conf names the variables). */
  const serverEnv = Object.fromEntries(NATS_USERS.map((user) => [natsPasswordVariable(user), credentials[user]]));
  return { credentials, credentialsFile, authConfig, serverEnv };
}

/** nats-server with JetStream on loopback, its store under `<dataDir>/nats`. */
export function natsServerArgs({ port, monitorPort, dataDir, authConfig }) {
  return ['-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-sd', join(dataDir, 'nats'), '-c', authConfig];
}

/** The command line of one service (built in apps/<name>/dist). */
export function serviceCommand(name) {
  // no --enable-source-maps: it parses every module's source map at load (0.4 s of CPU and 6-15 MiB per service)
  // TENDRIL_PROFILE_DIR: each service writes a V8 CPU profile there when it exits (benchmarks' where-does-it-go)
  const profile = process.env.TENDRIL_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TENDRIL_PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  return [process.execPath, [...profile, join(root, 'apps', name, 'dist', 'main.js')]];
}

export function portOpen(port, host = '127.0.0.1') {
  return new Promise((done) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
  });
}

/** Polls check() every 200 ms until it is truthy (true) or the time is up (false). */
export async function waitUntil(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Every (address, port, h2) of EndpointSlices in the manifest folder whose address is on loopback. */
export function localEndpoints(dir, say = console.log) {
  const found = new Map();
  const walk = (path) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(ya?ml|json)$/.test(entry)) {
        // the same reading the k8s-watcher does: refused documents get no backend either
        for (const { object } of parseManifests(readFileSync(full, 'utf8'), full, 'default').objects) {
          if (object.kind !== 'EndpointSlice') continue;
          const service = object.metadata.labels?.['kubernetes.io/service-name'] ?? object.metadata.name;
          for (const endpoint of object.endpoints ?? []) {
            for (const address of endpoint.addresses ?? []) {
              if (!address.startsWith('127.')) continue;
              for (const port of object.ports ?? []) {
                const h2 = /grpc|h2c/.test(port.appProtocol ?? '');
                found.set(`${address}:${port.port}`, { address, port: port.port, h2, service });
              }
            }
          }
        }
      }
    }
  };
  try {
    walk(dir);
  } catch (error) {
    say(`cannot read ${dir}: ${error.message}`);
  }
  return [...found.values()];
}

/** Answers every request with a JSON echo naming the backend (also in the x-tendril-backend header). */
function echo(backend) {
  return (request, response) => {
    const body = JSON.stringify({ backend: `${backend.address}:${backend.port}`, service: backend.service, method: request.method, path: request.url, host: request.headers.host ?? request.headers[':authority'] });
    response.writeHead(200, { 'content-type': 'application/json', 'x-tendril-backend': `${backend.address}:${backend.port}` });
    response.end(body + '\n');
  };
}

/** An HTTP (or h2c) echo server on each endpoint; those that cannot listen are reported and skipped. */
export async function startEchoBackends(endpoints, say = console.log) {
  const servers = [];
  for (const backend of endpoints) {
    const server = backend.h2 ? createH2Server(echo(backend)) : createHttpServer(echo(backend));
    await new Promise((done) => {
      server.once('error', (error) => {
        say(`backend ${backend.address}:${backend.port} not started: ${error.message}`);
        done();
      });
      server.listen(backend.port, backend.address, () => {
        servers.push(server);
        done();
      });
    });
  }
  return servers;
}

/**
 * Child processes started and stopped together. `onLine(name, line, stream)` receives their output line
 * by line; `onExit(name, code, signal)` is told of a child that exits before stop() was called.
 */
export class Processes {
  children = [];
  stopping = false;

  constructor({ onLine, onExit }) {
    this.onLine = onLine;
    this.onExit = onExit;
  }

  start(name, command, args, env) {
    // detached: each child leads a process group of its own, out of reach of the terminal's Ctrl-C
    // (SIGINT to the foreground group), so nats-server is not stopped at once beside the services
    // but last, after the translator released its lease through it
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    for (const stream of ['stdout', 'stderr']) {
      let rest = '';
      child[stream].on('data', (chunk) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop();
        for (const line of lines) this.onLine(name, line, stream);
      });
    }
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.onExit?.(name, code, signal);
    });
    this.children.push({ name, child });
    return child;
  }

  /**
   * SIGTERM to the services in reverse start order (SIGKILL after 10 s), then to nats-server (5 s).
   * Called again while stopping (a second Ctrl-C), it kills the services at once; NATS still goes last.
   */
  async stop() {
    const services = this.children.filter((c) => c.name !== 'nats-server').reverse();
    if (this.stopping) {
      for (const { child } of services) signal(child, 'SIGKILL');
      return;
    }
    this.stopping = true;
    const exited = ({ child }) => (running(child) ? new Promise((r) => child.once('exit', r)) : Promise.resolve());
    for (const { child } of services) signal(child, 'SIGTERM');
    await Promise.race([Promise.all(services.map(exited)), new Promise((r) => setTimeout(r, 10000))]);
    for (const { child } of services) signal(child, 'SIGKILL');
    await Promise.all(services.map(exited));
    for (const nats of this.children.filter((c) => c.name === 'nats-server')) {
      signal(nats.child, 'SIGTERM');
      await Promise.race([exited(nats), new Promise((r) => setTimeout(r, 5000))]);
      signal(nats.child, 'SIGKILL');
      await exited(nats);
    }
  }

  /** SIGKILL to whatever still runs (synchronous: usable in a process 'exit' handler). */
  killAll() {
    this.stopping = true;
    for (const { child } of this.children) signal(child, 'SIGKILL');
  }
}

const running = (child) => child.exitCode === null && child.signalCode === null;

/** Signals a child's whole process group (it leads one), or the child alone when that fails. */
function signal(child, name) {
  if (!running(child)) return;
  try {
    process.kill(-child.pid, name);
  } catch {
    child.kill(name);
  }
}
