// The client of bench/e2e.mjs: a child process that first moves itself into the cgroup named by its
// argument (so the datapath's socket load balancer handles its connect()s), then probes VIPs on the
// parent's orders. A probe is an HTTP GET over a fresh TCP connection; it succeeds when the echo
// backend that answers is the one expected (header x-tendril-backend), or any backend when none is.
//
// Orders (IPC messages):
//   { type: 'until', id, targets: [{ host, port, backend? }], window, retryMs, timeoutMs }
//   { type: 'cancel', id }: stop probing for that order and reply at once
// Replies: { type: 'progress', id, answered, total } every second, then
//   { type: 'done', id, answered, total, times: [ms since the epoch of each target's first success, or null] }
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const cgroup = process.argv[2];
writeFileSync(join(cgroup, 'cgroup.procs'), String(process.pid));

/** Wall-clock time in ms with sub-ms resolution, comparable with the parent's. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ATTEMPT_TIMEOUT_MS = 2000;
const cancelled = new Set();
const SAMPLE = 100;

/** Up to `size` distinct elements of `list`, picked at random. */
function sample(list, size) {
  if (list.length <= size) return list;
  const copy = [...list];
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, size);
}

/** One HTTP GET to host:port on a new connection; resolves to the answering backend or undefined. */
function attempt({ host, port }) {
  return new Promise((resolve) => {
    let received = '';
    const socket = connect({ host, port });
    const finish = (backend) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(backend);
    };
    const timer = setTimeout(() => finish(undefined), ATTEMPT_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.once('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const header = /\r\nx-tendril-backend:\s*([^\r\n]+)/i.exec(received.slice(0, end));
      finish(header ? header[1].trim() : '');
    });
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(undefined));
  });
}

/**
 * Probes every target until it answers as expected or the time is up, `window` connections at a time,
 * one round per `retryMs` at most. A round tries a random sample of SAMPLE targets not answered yet;
 * when at least half of a round answered, or its share of answers over all pending ones makes more
 * than 4 x SAMPLE likely to answer, the next one tries all of them (a sweep). So waiting for a
 * system still starting, or one programming its VIPs slowly, costs the machine little (a connect()
 * that fails is not free on 2 cores), while a batch of VIPs arriving at once is noticed within about
 * one sweep; once SAMPLE or fewer are left every round tries them all, so the last VIP's time is
 * exact to about a round. The times of the others are when a round found them, later than they
 * could first answer when VIPs trickle in.
 */
async function until({ id, targets, window = 64, retryMs = 100, timeoutMs = 300000 }) {
  const times = new Array(targets.length).fill(null);
  let pending = targets.map((_, index) => index);
  const deadline = now() + timeoutMs;
  const progress = setInterval(() => process.send({ type: 'progress', id, answered: targets.length - pending.length, total: targets.length }), 1000);
  let sweep = false;
  const going = () => pending.length && now() < deadline && !cancelled.has(id);
  while (going()) {
    const started = now();
    const batch = sweep ? pending : sample(pending, SAMPLE);
    let next = 0;
    let answered = 0;
    const worker = async () => {
      while (next < batch.length && !cancelled.has(id)) {
        const index = batch[next++];
        const target = targets[index];
        const backend = await attempt(target);
        if (backend !== undefined && (!target.backend || backend === target.backend)) {
          times[index] = now();
          answered++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, batch.length) }, worker));
    const before = pending.length;
    pending = pending.filter((index) => times[index] === null);
    // sweep when half the round answered, or when the round's share of answers, over everything
    // still pending, means many VIPs answer that a sample would find only a few at a time
    sweep = answered * 2 >= batch.length || (answered / batch.length) * before >= 4 * SAMPLE;
    const rest = retryMs - (now() - started);
    if (going() && rest > 0) await sleep(rest);
  }
  clearInterval(progress);
  cancelled.delete(id);
  process.send({ type: 'done', id, answered: targets.length - pending.length, total: targets.length, times });
}

process.on('message', (message) => {
  if (message.type === 'until') void until(message);
  if (message.type === 'cancel') cancelled.add(message.id);
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
