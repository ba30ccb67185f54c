#!/usr/bin/env node
// The dev launcher behind `npm start`: a local nats-server with JetStream (data in .data/), echo
// backends for every local endpoint in the manifest folder, and the five services as separate
// processes. Ctrl-C (or SIGTERM) stops everything in reverse order, nats-server last, and exits 0;
// each child runs in a process group of its own, so the terminal's SIGINT reaches the launcher alone
// and a second Ctrl-C kills what is left of the services. The parts are in tools/dev/system.mjs,
// which bench/e2e.mjs starts the same way.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { Processes, SERVICES, localEndpoints, natsServerArgs, natsUsers, portOpen, root, serviceCommand, startEchoBackends, waitUntil } from './system.mjs';

const dataDir = resolve(process.env.TENDRIL_DATA_DIR ?? join(root, '.data'));
const manifests = resolve(process.env.TENDRIL_MANIFESTS ?? join(root, 'examples'));
const natsPort = Number(process.env.TENDRIL_NATS_PORT ?? 4222);
const natsUrl = process.env.TENDRIL_NATS_URL ?? `nats://127.0.0.1:${natsPort}`;
const natsMonitorPort = Number(process.env.TENDRIL_NATS_MONITOR_PORT ?? 8222);
const startBackends = process.env.TENDRIL_START_BACKENDS !== 'false';
// TENDRIL_LAUNCH_SERVICES (a comma-separated subset) and TENDRIL_LAUNCH_HTTP_PORT_BASE (the first
// service's port, the others following in order) let a test run the launcher beside a running Tendril
const portBase = Number(process.env.TENDRIL_LAUNCH_HTTP_PORT_BASE ?? SERVICES[0][1]);
const chosen = process.env.TENDRIL_LAUNCH_SERVICES?.split(',').map((name) => name.trim());
const services = SERVICES.map(([name], index) => [name, portBase + index]).filter(([name]) => !chosen || chosen.includes(name));
const colours = { 'k8s-watcher': 36, translator: 32, 'xds-server': 35, datapath: 33, metrics: 34, 'nats-server': 90, envoy: 91 };
let servers = [];
let stopping = false;

const say = (text) => console.log(`\x1b[1m[tendril]\x1b[0m ${text}`);

const processes = new Processes({
  onLine: (name, line, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(`\x1b[${colours[name]}m${name.padEnd(11)}\x1b[0m ${line}\n`),
  onExit: (name, code, signal) => {
    // the node proxy is optional: without it only the L7 frontends go unserved
    if (name === 'envoy') return say(`envoy exited (${signal ?? code}); L7 frontends are not served (its log is above)`);
    say(`${name} exited (${signal ?? code}); stopping everything`);
    shutdown(1);
  },
});

async function shutdown(code = 0) {
  if (stopping) return void processes.stop(); // a second Ctrl-C: no more waiting for the services
  stopping = true;
  say('stopping…');
  await processes.stop();
  for (const server of servers) server.close();
  say('stopped');
  process.exit(code);
}

async function waitFor(what, check, timeoutMs) {
  const done = await waitUntil(check, timeoutMs);
  if (!done) say(`gave up waiting for ${what}`);
  return done;
}

for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(name, () => void shutdown(0));
// children in process groups of their own outlive a launcher that dies of an error: take them along
process.on('exit', () => processes.killAll());

const { credentials, credentialsFile, authConfig, serverEnv } = natsUsers(dataDir);

if (!process.env.TENDRIL_NATS_URL) {
  if (await portOpen(natsPort)) {
    say(`something already listens on 127.0.0.1:${natsPort}; is Tendril already running? Stop it first.`);
    process.exit(1);
  }
  processes.start('nats-server', 'nats-server', natsServerArgs({ port: natsPort, monitorPort: natsMonitorPort, dataDir, authConfig }), serverEnv);
  if (!(await waitFor('nats-server', () => portOpen(natsPort), 15000))) await shutdown(1);
  say(`nats-server with JetStream on ${natsUrl} (monitoring http://127.0.0.1:${natsMonitorPort}, data in ${join(dataDir, 'nats')})`);
}
if (startBackends) {
  servers = await startEchoBackends(localEndpoints(manifests, say), say);
  if (servers.length) say(`${servers.length} echo backends on 127.0.1.x (from the EndpointSlices in ${manifests})`);
}

const env = { TENDRIL_NATS_URL: natsUrl, TENDRIL_MANIFESTS: manifests, TENDRIL_DATA_DIR: dataDir };
const auth = (name) => (process.env.TENDRIL_NATS_URL ? {} : { TENDRIL_NATS_USER: name, TENDRIL_NATS_PASSWORD: credentials[name] });
for (const [name, port] of services) processes.start(name, ...serviceCommand(name), { ...env, ...auth(name), TENDRIL_HTTP_PORT: String(port) });

const ready = async (port) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  } catch {
    return false;
  }
};
await Promise.all(services.map(([name, port]) => waitFor(`${name} readiness`, () => ready(port), 60000)));

/** A figure of a service's /metrics (`tendril_<name>`), or undefined. */
async function figure(port, name) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const match = new RegExp(`^tendril_${name}(?:\\{[^}]*\\})? (-?[0-9.e+]+)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
const portOf = (name) => services.find(([service]) => service === name)?.[1];

/**
 * Served, not only started: the translator holds every object the watcher wrote and has published
 * their translation, the xds-server holds that generation to push, and the datapath has programmed it
 * into the kernel's maps. Judged twice in a row, so a translation still on its way is waited for.
 */
async function served() {
  const watcher = portOf('k8s-watcher');
  const translator = portOf('translator');
  if (translator === undefined) return true;
  const generation = await figure(translator, 'generation');
  if (generation === undefined || generation < 1) return false;
  // the folder's objects and the load balancers' owned Services and EndpointSlices the watcher adds
  if (watcher !== undefined && (await figure(watcher, 'objects_seen')) + ((await figure(watcher, 'owned_objects')) ?? 0) !== (await figure(translator, 'objects_seen'))) return false;
  const xds = portOf('xds-server');
  if (xds !== undefined && !((await figure(xds, 'generation')) >= generation)) return false;
  const datapath = portOf('datapath');
  if (datapath !== undefined && !((await figure(datapath, 'generation_applied')) >= generation && (await figure(datapath, 'generation_lag')) === 0)) return false;
  return (await figure(translator, 'generation')) === generation;
}
let settled = 0;
if (!stopping) await waitFor('the manifests to reach the kernel', async () => ((await served()) ? ++settled : (settled = 0)) >= 2, 120000);
if (!stopping) {
  const generation = portOf('translator') === undefined ? undefined : await figure(portOf('translator'), 'generation');
  say(`Tendril is up${generation === undefined ? '' : `: generation ${generation} of the manifests served${portOf('datapath') ? ' and in the kernel' : ''}`}:`);
  for (const [name, port] of services) say(`  ${name.padEnd(11)} http://127.0.0.1:${port}/readyz  /metrics`);
  say(`  xDS (ADS gRPC)  127.0.0.1:18000`);
  say(`  NATS            ${natsUrl} (a user per service; passwords in ${credentialsFile})`);
  say(`  CLI             npx tendril status   (uses the read-only cli user from there)`);
  say(`  manifests       ${manifests} (edit files here; changes apply live)`);
  say('Try: curl http://127.100.0.10:9080/   (the details Service VIP, load-balanced in eBPF)');
  nodeProxy();
  say('Ctrl-C stops everything.');
}

/** An executable: TENDRIL_ENVOY_BIN, else `envoy` on PATH; undefined when there is none. */
function envoyBinary() {
  const candidates = process.env.TENDRIL_ENVOY_BIN ? [process.env.TENDRIL_ENVOY_BIN] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'envoy'));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The node's Envoy, which serves the L7 frontends (Ingress, Gateway, L7 Services, CiliumEnvoyConfig):
 * started with the DaemonSet's bootstrap (`tendril envoy bootstrap`) when one is installed; otherwise
 * the L7 addresses that nothing serves are listed, with how to get Envoy.
 */
function nodeProxy() {
  if (!portOf('xds-server')) return;
  const cli = join(root, 'tools', 'cli', 'dist', 'main.js');
  const node = process.env.TENDRIL_NODE_NAME ?? hostname();
  const binary = envoyBinary();
  if (binary) {
    const bootstrap = spawnSync(process.execPath, [cli, 'envoy', 'bootstrap', '--node', node], { encoding: 'utf8' });
    if (bootstrap.status !== 0) return say(`no node proxy: tendril envoy bootstrap failed: ${bootstrap.stderr.trim()}`);
    const file = join(dataDir, 'envoy-bootstrap.yaml');
    writeFileSync(file, bootstrap.stdout);
    processes.start('envoy', binary, ['-c', file, '--use-dynamic-base-id', '--log-level', 'warn'], {});
    return say(`  node proxy      ${binary} as node ${node} (bootstrap ${file}, admin http://127.0.0.1:9901)`);
  }
  const listed = spawnSync(process.execPath, [cli, 'services', '-o', 'json'], { encoding: 'utf8', env: { ...process.env, TENDRIL_DATA_DIR: dataDir, TENDRIL_NATS_URL: natsUrl } });
  let l7 = [];
  try {
    l7 = JSON.parse(listed.stdout).filter((entry) => entry.l7Proxy);
  } catch {
    // the listing failed: say so below without addresses
  }
  const addresses = l7.flatMap((entry) => entry.frontends.map((frontend) => `${frontend.address}:${frontend.port} (${entry.namespace}/${entry.name})`));
  say(`no Envoy found (TENDRIL_ENVOY_BIN, or envoy on PATH): ${addresses.length ? `these L7 addresses are not served: ${addresses.join(', ')}` : 'L7 frontends (Ingress, Gateway, L7 Services) would not be served'}`);
  say('  get Envoy: the envoyproxy/envoy container image (docker run --network host envoyproxy/envoy:v1.31-latest),');
  say('  or a package (https://www.envoyproxy.io/docs/envoy/latest/start/install: apt, brew, or func-e); then start again');
}
