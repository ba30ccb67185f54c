#!/usr/bin/env node
// The dev launcher behind `npm start`: a local nats-server with JetStream (data in .data/), echo
// backends for every local endpoint in the manifest folder, and the five services as separate
// processes. Ctrl-C (or SIGTERM) stops everything in reverse order and exits 0.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests } from '@tendril/kube';
import { NATS_USERS, natsAuthorizationConfig, natsPasswordVariable } from '@tendril/contract';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dataDir = resolve(process.env.TENDRIL_DATA_DIR ?? join(root, '.data'));
const manifests = resolve(process.env.TENDRIL_MANIFESTS ?? join(root, 'examples'));
const natsPort = Number(process.env.TENDRIL_NATS_PORT ?? 4222);
const natsUrl = process.env.TENDRIL_NATS_URL ?? `nats://127.0.0.1:${natsPort}`;
const startBackends = process.env.TENDRIL_START_BACKENDS !== 'false';
const SERVICES = [
  ['k8s-watcher', 9871],
  ['translator', 9872],
  ['xds-server', 9873],
  ['datapath', 9874],
  ['metrics', 9875],
];
const colours = [36, 32, 35, 33, 34, 31];
const children = [];
const servers = [];
let stopping = false;

const say = (text) => console.log(`\x1b[1m[tendril]\x1b[0m ${text}`);

function pipe(name, colour, stream, target) {
  let rest = '';
  stream.on('data', (chunk) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop();
    for (const line of lines) target.write(`\x1b[${colour}m${name.padEnd(11)}\x1b[0m ${line}\n`);
  });
}

function start(name, command, args, env, colour) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  pipe(name, colour, child.stdout, process.stdout);
  pipe(name, colour, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) say(`${name} exited (${signal ?? code}); stopping everything`);
    if (!stopping) shutdown(1);
  });
  children.push({ name, child });
  return child;
}

function portOpen(port) {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
  });
}

async function waitUntil(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`gave up waiting for ${what}`);
  return false;
}

/** Every (address, port, h2) of EndpointSlices in the manifest folder whose address is on loopback. */
function localEndpoints(dir) {
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

function echo(backend) {
  return (request, response) => {
    const body = JSON.stringify({ backend: `${backend.address}:${backend.port}`, service: backend.service, method: request.method, path: request.url, host: request.headers.host ?? request.headers[':authority'] });
    response.writeHead(200, { 'content-type': 'application/json', 'x-tendril-backend': `${backend.address}:${backend.port}` });
    response.end(body + '\n');
  };
}

async function startEchoBackends() {
  for (const backend of localEndpoints(manifests)) {
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
  if (servers.length) say(`${servers.length} echo backends on 127.0.1.x (from the EndpointSlices in ${manifests})`);
}

async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  const services = children.filter((c) => c.name !== 'nats-server').reverse();
  const exited = (child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r)));
  for (const { child } of services) child.kill('SIGTERM');
  await Promise.race([Promise.all(services.map(({ child }) => exited(child))), new Promise((r) => setTimeout(r, 10000))]);
  for (const { child } of services) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  const nats = children.find((c) => c.name === 'nats-server');
  if (nats) {
    nats.child.kill('SIGTERM');
    await Promise.race([exited(nats.child), new Promise((r) => setTimeout(r, 5000))]);
  }
  for (const server of servers) server.close();
  say('stopped');
  process.exit(code);
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

mkdirSync(join(dataDir, 'nats'), { recursive: true });

// NATS least privilege, as in Kubernetes: one user per service with the permissions libs/contract
// defines. Passwords are made once per data folder; the tendril CLI reads the `cli` one from here.
const credentialsFile = join(dataDir, 'nats', 'credentials.json');
const credentials = existsSync(credentialsFile) ? JSON.parse(readFileSync(credentialsFile, 'utf8')) : {};
// nats-server parses a password taken from the environment as a value: it must start with a letter
for (const user of NATS_USERS) if (!/^[a-z][a-z0-9]+$/i.test(credentials[user] ?? '')) credentials[user] = `p${randomBytes(16).toString('hex')}`;
writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2), { mode: 0o600 });
const authConfig = join(dataDir, 'nats', 'auth.conf');
writeFileSync(authConfig, natsAuthorizationConfig());
const natsPasswords = Object.fromEntries(NATS_USERS.map((user) => [natsPasswordVariable(user), credentials[user]]));

if (!process.env.TENDRIL_NATS_URL) {
  if (await portOpen(natsPort)) {
    say(`something already listens on 127.0.0.1:${natsPort}; is Tendril already running? Stop it first.`);
    process.exit(1);
  }
  start('nats-server', 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-m', '8222', '-sd', join(dataDir, 'nats'), '-c', authConfig], natsPasswords, 90);
  if (!(await waitUntil('nats-server', () => portOpen(natsPort), 15000))) await shutdown(1);
  say(`nats-server with JetStream on ${natsUrl} (monitoring http://127.0.0.1:8222, data in ${join(dataDir, 'nats')})`);
}
if (startBackends) await startEchoBackends();

const env = { TENDRIL_NATS_URL: natsUrl, TENDRIL_MANIFESTS: manifests, TENDRIL_DATA_DIR: dataDir };
const auth = (name) => (process.env.TENDRIL_NATS_URL ? {} : { TENDRIL_NATS_USER: name, TENDRIL_NATS_PASSWORD: credentials[name] });
SERVICES.forEach(([name], index) => start(name, process.execPath, ['--enable-source-maps', join(root, 'apps', name, 'dist', 'main.js')], { ...env, ...auth(name) }, colours[index]));

const ready = async (port) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  } catch {
    return false;
  }
};
await Promise.all(SERVICES.map(([name, port]) => waitUntil(`${name} readiness`, () => ready(port), 60000)));
if (!stopping) {
  say('Tendril is up:');
  for (const [name, port] of SERVICES) say(`  ${name.padEnd(11)} http://127.0.0.1:${port}/readyz  /metrics`);
  say(`  xDS (ADS gRPC)  127.0.0.1:18000`);
  say(`  NATS            ${natsUrl} (a user per service; passwords in ${credentialsFile})`);
  say(`  CLI             npx tendril status   (uses the read-only cli user from there)`);
  say(`  manifests       ${manifests} (edit files here; changes apply live)`);
  say('Try: curl http://127.100.0.10:9080/   (the details Service VIP, load-balanced in eBPF)');
  say('Ctrl-C stops everything.');
}
