#!/usr/bin/env node
// Benchmark: the whole system end to end, started as `npm start` starts it (tools/dev/system.mjs:
// nats-server with JetStream and the per-service NATS users, echo backends, the five services), on a
// manifest folder of N Services (one file each: the Service and its EndpointSlice, one endpoint on
// one of four echo backends on 127.0.2.x). Clients connect() to the VIPs from a process in a cgroup
// under the datapath's, so what answers is what the kernel holds. Measures:
//   (c) cold start: from the start of nats-server until every VIP answers (probed in parallel, a
//       bounded window of connections), with the moment every /readyz was 200 beside it;
//   (a) a new Service file (Service + EndpointSlice) until a connect() to its VIP reaches its backend;
//   (b) an EndpointSlice edit moving a Service to another backend until connects reach that backend;
//   (d) each process's RSS (VmRSS) after (c) and after (a) and (b).
// A run that does not converge within the timeout (a VIP never answers, a change never arrives) is a
// failed run and reported as such; --runs K makes K consecutive cold starts, each from nothing (own
// data folder, cgroup, pinned maps, ports). Everything runs on loopback, on ports picked free, beside
// any other Tendril on this machine; every process, cgroup and pin it made is removed at the end, on
// failure and on Ctrl-C.
// Needs root (the datapath's BPF programs), nats-server, and a build: npm run build.
// Run: node bench/e2e.mjs [services=1000] [--runs K] [--samples S] [--timeout seconds] [--window W]
//        [--logs dir (every process's output)] [--json file (the figures)]
import { fork, execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '@tendril/testing';
import { Processes, SERVICES, natsServerArgs, natsUsers, portOpen, serviceCommand, startEchoBackends, waitUntil } from '../tools/dev/system.mjs';
import { ManifestFolder, VIP_PORT, nameOf, vipOf } from './e2e/manifests.mjs';
import { Sandbox } from './e2e/sandbox.mjs';

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '1' },
    samples: { type: 'string', default: '20' },
    timeout: { type: 'string', default: '300' },
    window: { type: 'string', default: '64' },
    logs: { type: 'string' },
    json: { type: 'string' },
  },
});
const count = Number(positionals[0] ?? 1000);
const runs = Number(options.runs);
const samples = Number(options.samples);
const timeoutMs = Number(options.timeout) * 1000;
const window = Number(options.window);
const logs = options.logs ? resolve(options.logs) : undefined;
const SAMPLE_TIMEOUT_MS = 60000;
/** Quiet time after the cold start before the changes, so they do not queue behind its last writes. */
const SETTLE_MS = 3000;
const BACKEND_ADDRESSES = ['127.0.2.1', '127.0.2.2', '127.0.2.3', '127.0.2.4'];
const command = `node bench/e2e.mjs ${process.argv.slice(2).join(' ')}`.trim();

if (!(count >= 1 && count <= 60000) || !(runs >= 1) || !(samples >= 0) || !(timeoutMs > 0) || !(window >= 1)) {
  console.error('usage: node bench/e2e.mjs [services=1000 (1..60000)] [--runs K] [--samples S] [--timeout seconds] [--window W] [--logs dir] [--json file]');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench/e2e needs root: the datapath loads BPF programs and the probe joins a cgroup');
  process.exit(2);
}

/** Wall-clock ms with sub-ms resolution (the probe process reports its times on the same clock). */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const fmtMs = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const say = (text) => console.log(text);

/** Everything one run started, for cleanup from anywhere (failure, Ctrl-C, exit). */
let current;

function rssMiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function rssOfAll(processes) {
  return Object.fromEntries(processes.children.map(({ name, child }) => [name, rssMiB(child.pid)]));
}

/** The probe child (bench/e2e/probe.mjs), started in the sandbox's probe cgroup. */
async function startProbe(cgroup) {
  const child = fork(fileURLToPath(new URL('./e2e/probe.mjs', import.meta.url)), [cgroup], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let nextId = 1;
  const exited = new Promise((done) => child.once('exit', done));
  child.on('error', () => undefined); // a send after the probe died: its exit is handled below
  child.on('message', (message) => waiting.get(message.id ?? 'ready')?.(message));
  await new Promise((done, fail) => {
    waiting.set('ready', done);
    child.once('exit', (code) => fail(new Error(`the probe exited (${code}) before it was ready`)));
  });
  return {
    child,
    exited,
    /** Ends every probing in progress (each resolves with what answered so far). */
    cancelAll() {
      for (const id of waiting.keys()) if (id !== 'ready' && child.connected) child.send({ type: 'cancel', id });
    },
    /** Probes the targets until each answers as expected; onProgress(answered, total) every second. */
    until(targets, { window: size, retryMs, timeoutMs: limit }, onProgress = () => undefined) {
      const id = nextId++;
      return new Promise((done, fail) => {
        const lost = () => fail(new Error('the probe exited'));
        child.once('exit', lost);
        waiting.set(id, (message) => {
          if (message.type === 'progress') return onProgress(message.answered, message.total);
          waiting.delete(id);
          child.off('exit', lost);
          done(message);
        });
        child.send({ type: 'until', id, targets, window: size, retryMs, timeoutMs: limit });
      });
    },
  };
}

async function readyz(port) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, body: (await response.text()).slice(0, 300) };
  } catch (error) {
    return { status: 0, body: error.message };
  }
}

/** What the system says about itself when it did not converge: /readyz bodies, JetStream state, log tails. */
async function diagnose(run) {
  say('  --- diagnosis ---');
  for (const [name, port] of run.ports) {
    const { status, body } = await readyz(port);
    say(`  ${name} /readyz ${status}: ${body.replace(/\s+/g, ' ')}`);
  }
  try {
    const jsz = await (await fetch(`http://127.0.0.1:${run.monitorPort}/jsz?consumers=true`, { signal: AbortSignal.timeout(5000) })).json();
    for (const stream of jsz.account_details?.flatMap((a) => a.stream_detail ?? []) ?? []) {
      const consumers = stream.consumer_detail ?? [];
      const pending = consumers.reduce((sum, c) => sum + (c.num_pending ?? 0), 0);
      say(`  stream ${stream.name}: ${stream.state.messages} messages, last seq ${stream.state.last_seq}, ${consumers.length} consumers, ${pending} pending`);
    }
  } catch (error) {
    say(`  JetStream state unavailable: ${error.message}`);
  }
  for (const [name, lines] of run.tails) say(`  --- ${name} (last lines) ---\n${lines.slice(-15).map((l) => `  ${l}`).join('\n')}`);
}

/** Stops what the run started (probe, services, nats-server, backends) and removes its sandbox, once. */
function teardown(run) {
  if (!run) return Promise.resolve();
  run.teardown ??= (async () => {
    run.stopping = true;
    if (run.probe) {
      run.probe.child.kill('SIGKILL');
      await run.probe.exited;
    }
    await run.processes?.stop();
    for (const server of run.servers ?? []) server.close();
    if (!run.removed) {
      run.removed = true;
      for (const problem of run.sandbox.remove()) say(`cleanup: ${problem}`);
    }
  })();
  return run.teardown;
}

/** Synchronous last resort (process 'exit'): kill what is left, then remove the sandbox. */
function teardownNow(run) {
  if (!run || run.removed) return;
  run.removed = true;
  run.probe?.child.kill('SIGKILL');
  run.processes?.killAll();
  for (const problem of run.sandbox.remove()) console.error(`cleanup: ${problem}`);
}

async function coldStart(index) {
  const sandbox = new Sandbox(`${count}`);
  const run = { index, sandbox, tails: new Map(), ports: [], failures: [] };
  current = run;
  const portsInUse = new Set();
  const port = async () => {
    for (;;) {
      const candidate = await freePort();
      if (!portsInUse.has(candidate)) return portsInUse.add(candidate), candidate;
    }
  };

  // the pods: echo servers on 127.0.2.x, one port, shared by every Service
  const backendPort = await port();
  const backends = BACKEND_ADDRESSES.map((address) => ({ address, port: backendPort, h2: false, service: 'bench' }));
  run.servers = await startEchoBackends(backends, say);
  if (run.servers.length !== backends.length) throw new Error('could not start every echo backend');
  const backendName = (backend) => `${backend.address}:${backend.port}`;

  const folder = new ManifestFolder(sandbox.manifests, sandbox.scratch);
  for (let i = 0; i < count; i++) folder.writeService(i, backends[i % backends.length]);

  run.probe = await startProbe(sandbox.probeCgroup);
  const natsPort = await port();
  run.monitorPort = await port();
  const xdsPort = await port();
  const alsPort = await port();
  for (const [name] of SERVICES) run.ports.push([name, await port()]);

  const { credentials, authConfig, serverEnv } = natsUsers(sandbox.dataDir);
  if (logs) mkdirSync(logs, { recursive: true });
  run.processes = new Processes({
    onLine: (name, line) => {
      const tail = run.tails.get(name) ?? [];
      tail.push(line);
      if (tail.length > 50) tail.shift();
      run.tails.set(name, tail);
      if (logs) appendFileSync(join(logs, `run-${index}-${name}.log`), line + '\n');
    },
    onExit: (name, code, signal) => {
      run.failures.push(`${name} exited (${signal ?? code}) during the run`);
      run.probe?.cancelAll();
    },
  });

  const started = now();
  run.processes.start('nats-server', 'nats-server', natsServerArgs({ port: natsPort, monitorPort: run.monitorPort, dataDir: sandbox.dataDir, authConfig }), serverEnv);
  if (!(await waitUntil(() => portOpen(natsPort), 15000))) throw new Error('nats-server did not listen within 15 s');
  const env = {
    TENDRIL_NATS_URL: `nats://127.0.0.1:${natsPort}`,
    TENDRIL_MANIFESTS: sandbox.manifests,
    TENDRIL_DATA_DIR: sandbox.dataDir,
    TENDRIL_CGROUP_PATH: sandbox.cgroup,
    TENDRIL_BPF_PIN_PATH: sandbox.pinPath,
    TENDRIL_HTTP_HOST: '127.0.0.1',
    TENDRIL_XDS_HOST: '127.0.0.1',
    TENDRIL_XDS_PORT: String(xdsPort),
    TENDRIL_ALS_HOST: '127.0.0.1',
    TENDRIL_ALS_PORT: String(alsPort),
  };
  for (const [name, httpPort] of run.ports) {
    run.processes.start(name, ...serviceCommand(name), { ...env, TENDRIL_HTTP_PORT: String(httpPort), TENDRIL_NATS_USER: name, TENDRIL_NATS_PASSWORD: credentials[name] });
  }

  // every /readyz 200: what `npm start` calls "up"
  let readyAt;
  const readiness = (async () => {
    const deadline = started + timeoutMs;
    while (now() < deadline && !run.stopping && !run.failures.length) {
      const states = await Promise.all(run.ports.map(([, httpPort]) => readyz(httpPort)));
      if (states.every((s) => s.status === 200)) return (readyAt = now() - started);
      await sleep(100);
    }
  })();

  // (c) every VIP, until each answers from its backend
  const targets = Array.from({ length: count }, (_, i) => ({ host: vipOf(i), port: VIP_PORT, backend: backendName(backends[i % backends.length]) }));
  let lastReport = 0;
  const cold = await run.probe.until(targets, { window, retryMs: 100, timeoutMs }, (answered, total) => {
    if (run.failures.length) run.probe.cancelAll();
    if (now() - lastReport < 10000) return;
    lastReport = now();
    say(`  ${((now() - started) / 1000).toFixed(0)} s: ${answered} of ${total} VIPs answer`);
  });
  await readiness;
  const answeredAt = cold.times.filter((t) => t !== null).map((t) => t - started).sort((x, y) => x - y);
  const result = {
    run: index,
    answered: cold.answered,
    converged: cold.answered === count,
    coldMs: cold.answered === count ? answeredAt.at(-1) : undefined,
    firstVipMs: answeredAt[0],
    halfVipsMs: cold.answered >= count / 2 ? answeredAt[Math.ceil(count / 2) - 1] : undefined,
    readyMs: readyAt,
    rssCold: rssOfAll(run.processes),
    failures: run.failures,
  };
  if (!result.converged) result.failures.push(`cold start: ${cold.answered} of ${count} VIPs answered ${result.failures.length ? 'until then' : `within ${timeoutMs / 1000} s`}`);

  if (result.converged && samples > 0) {
    const single = { window: 1, retryMs: 1, timeoutMs: SAMPLE_TIMEOUT_MS };
    await sleep(SETTLE_MS);
    // (a) new Service files
    result.newService = [];
    for (let j = 0; j < samples && !result.failures.length; j++) {
      const i = count + j;
      const backend = backends[j % backends.length];
      const answer = run.probe.until([{ host: vipOf(i), port: VIP_PORT, backend: backendName(backend) }], single);
      const written = now();
      folder.writeService(i, backend);
      const { times } = await answer;
      if (times[0] === null) result.failures.push(`new Service ${nameOf(i)}: its VIP did not answer within ${SAMPLE_TIMEOUT_MS / 1000} s`);
      else result.newService.push(times[0] - written);
      await sleep(200);
    }
    // (b) EndpointSlice edits: Services spread over the folder, each moved to the next backend
    result.sliceEdit = [];
    for (let j = 0; j < samples && !result.failures.length; j++) {
      const i = Math.floor(((j + 0.5) * count) / samples);
      const backend = backends[(i + 1) % backends.length];
      const answer = run.probe.until([{ host: vipOf(i), port: VIP_PORT, backend: backendName(backend) }], single);
      const written = now();
      folder.writeService(i, backend);
      const { times } = await answer;
      if (times[0] === null) result.failures.push(`EndpointSlice edit of ${nameOf(i)}: connects did not reach ${backendName(backend)} within ${SAMPLE_TIMEOUT_MS / 1000} s`);
      else result.sliceEdit.push(times[0] - written);
      await sleep(200);
    }
    result.rssAfterChanges = rssOfAll(run.processes);
  }
  await unlessInterrupted();
  if (result.failures.length) await diagnose(run);
  await teardown(run);
  current = undefined;
  return result;
}

function describe(values) {
  if (!values?.length) return 'n/a';
  const sorted = [...values].sort((x, y) => x - y);
  return `p50 ${fmtMs(percentile(sorted, 50))}, p90 ${fmtMs(percentile(sorted, 90))}, max ${fmtMs(sorted.at(-1))} (${sorted.length} samples)`;
}

function rssLine(rss) {
  if (!rss) return 'n/a';
  const controlPlane = ['k8s-watcher', 'translator', 'xds-server', 'nats-server'].reduce((sum, name) => sum + (rss[name] ?? 0), 0);
  return `${Object.entries(rss).map(([name, mib]) => `${name} ${mib === undefined ? '-' : mib.toFixed(0)}`).join(', ')} MiB; watcher+translator+xds-server+NATS ${controlPlane.toFixed(0)} MiB`;
}

/** Ctrl-C: the run in progress is stopped and removed, nothing more is measured or printed. */
async function interrupted(signal) {
  if (interrupted.once) return;
  interrupted.once = true;
  console.error(`\n${signal}: stopping and cleaning up`);
  await teardown(current).catch((error) => console.error(`cleanup: ${error.message}`));
  process.exit(130);
}
const unlessInterrupted = async () => {
  if (interrupted.once) await new Promise(() => undefined); // the signal handler cleans up and exits
};
process.on('SIGINT', () => void interrupted('SIGINT'));
process.on('SIGTERM', () => void interrupted('SIGTERM'));
process.on('exit', () => teardownNow(current));

const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
say(`bench/e2e: ${count} Services (one file each: Service + EndpointSlice), ${runs} cold start(s), ${samples} samples of each change`);
say(`machine: ${cpuModel} x${cpus().length}, kernel ${release()}, node ${process.version}, ${execFileSync('nats-server', ['--version']).toString().trim()}`);
const startLoad = load();
say(`load average at start: ${startLoad}`);
const settings = Object.entries(process.env).filter(([key]) => key.startsWith('TENDRIL_'));
if (settings.length) say(`environment passed to the services: ${settings.map(([k, v]) => `${k}=${v}`).join(' ')}`);

const results = [];
for (let index = 1; index <= runs; index++) {
  say(`run ${index}/${runs}: cold start of ${count} Services (load ${load()})`);
  let result;
  try {
    result = await coldStart(index);
  } catch (error) {
    await unlessInterrupted();
    if (current) await diagnose(current).catch(() => undefined);
    await teardown(current).catch((cleanup) => say(`cleanup: ${cleanup.message}`));
    current = undefined;
    result = { run: index, converged: false, failures: [`error: ${error.message}`] };
  }
  await unlessInterrupted();
  results.push(result);
  say(`  (c) cold start: ${result.converged ? `every VIP answered after ${fmtMs(result.coldMs)}` : `FAILED (${result.answered ?? 0} of ${count} VIPs answered)`}; every /readyz 200 after ${result.readyMs === undefined ? 'never' : fmtMs(result.readyMs)}; first VIP ${result.firstVipMs === undefined ? 'never' : fmtMs(result.firstVipMs)}, half ${result.halfVipsMs === undefined ? 'never' : fmtMs(result.halfVipsMs)}`);
  if (result.newService) say(`  (a) new Service file -> its VIP reaches the backend: ${describe(result.newService)}`);
  if (result.sliceEdit) say(`  (b) EndpointSlice edit -> connects reach the new backend: ${describe(result.sliceEdit)}`);
  say(`  (d) RSS after (c): ${rssLine(result.rssCold)}`);
  if (result.rssAfterChanges) say(`  (d) RSS after (a), (b): ${rssLine(result.rssAfterChanges)}`);
  for (const failure of result.failures) say(`  FAILED: ${failure}`);
}

const failed = results.filter((r) => r.failures.length);
const colds = results.filter((r) => r.converged).map((r) => r.coldMs);
say('');
say(`summary: ${count} Services, ${runs} cold start(s): ${runs - failed.length} converged, ${failed.length} failed`);
if (colds.length) say(`  (c) cold start until every VIP answers: ${colds.map(fmtMs).join(', ')}`);
const all = (key) => results.flatMap((r) => r[key] ?? []);
if (all('newService').length) say(`  (a) new Service: ${describe(all('newService'))}`);
if (all('sliceEdit').length) say(`  (b) EndpointSlice edit: ${describe(all('sliceEdit'))}`);
const endLoad = load();
say(`load average at the end: ${endLoad}`);
say(`repeat: ${command}`);
if (options.json) writeFileSync(options.json, JSON.stringify({ command, services: count, machine: { cpu: cpuModel, cores: cpus().length, kernel: release(), node: process.version }, loadAtStart: startLoad, loadAtEnd: endLoad, results }, null, 2));
process.exit(failed.length ? 1 : 0);
