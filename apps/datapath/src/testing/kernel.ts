/**
 * Real-kernel test support: a scratch cgroup and pin directory per test, TCP/UDP backends on
 * loopback addresses, and clients run inside (or outside) the cgroup as child processes.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let counter = 0;

export const OBJECT_PATH = fileURLToPath(new URL('../../../../bpf/build/sock_lb.o', import.meta.url));

export interface Scratch {
  cgroupPath: string;
  pinPath: string;
  dataDir: string;
  idsFile: string;
  objectPath: string;
  dispose(): void;
}

/** Removing the cgroup detaches its programs; removing the pin directory drops the maps. */
export function scratch(): Scratch {
  const name = `tendril-test-${process.pid}-${++counter}`;
  const cgroupPath = `/sys/fs/cgroup/unified/${name}`;
  const pinPath = `/sys/fs/bpf/${name}`;
  mkdirSync(cgroupPath);
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-datapath-'));
  return {
    cgroupPath,
    pinPath,
    dataDir,
    idsFile: join(dataDir, 'datapath-service-ids.log'),
    objectPath: OBJECT_PATH,
    dispose() {
      if (existsSync(cgroupPath)) rmdirSync(cgroupPath);
      rmSync(pinPath, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Backend {
  host: string;
  port: number;
  /** Remote addresses of the connections it accepted. */
  peers: string[];
  close(): Promise<void>;
}

/** A TCP server that answers every connection with its own host:port and closes. */
export async function tcpBackend(host: string): Promise<Backend> {
  const peers: string[] = [];
  const server: Server = createServer((socket) => {
    peers.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.end(`${host}:${(server.address() as { port: number }).port}`);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return { host, port, peers, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A UDP server that echoes its own host:port back to the sender. */
export async function udpBackend(host: string): Promise<Backend> {
  const peers: string[] = [];
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const port = socket.address().port;
  socket.on('message', (_message, remote) => {
    peers.push(`${remote.address}:${remote.port}`);
    socket.send(`${host}:${port}`, remote.port, remote.address);
  });
  return { host, port, peers, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

export interface ClientResult {
  /** What the server said, or undefined on error. */
  reply?: string;
  /** getpeername() of the connected socket (TCP) or the source of the reply (UDP). */
  peer?: string;
  error?: string;
}

const CLIENT = `
const [proto, host, port, count, locals] = process.argv.slice(1);
const net = require('node:net'), dgram = require('node:dgram');
const one = (localAddress) => new Promise((resolve) => {
  if (proto === 'udp') {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => { s.close(); resolve({ error: 'timeout' }); }, 2000);
    s.on('error', (e) => { clearTimeout(timer); s.close(); resolve({ error: e.code }); });
    s.on('message', (m, r) => { clearTimeout(timer); s.close(); resolve({ reply: m.toString(), peer: r.address + ':' + r.port }); });
    s.send('hi', Number(port), host);
    return;
  }
  const s = net.connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
  let data = '', peer;
  s.on('connect', () => { peer = s.remoteAddress + ':' + s.remotePort; });
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => resolve({ error: e.code }));
  s.on('close', (hadError) => { if (!hadError) resolve({ reply: data, peer }); });
});
(async () => {
  const out = [];
  for (const local of locals ? locals.split(',') : [undefined]) for (let i = 0; i < Number(count); i++) out.push(await one(local));
  console.log(JSON.stringify(out));
})();
`;

/**
 * Runs `count` connections (or datagrams) to host:port from a child process; with cgroupPath the
 * child first moves itself into that cgroup, so the programs attached there see its sockets. With
 * localAddresses (TCP), `count` connections from each of those source addresses in turn.
 */
export function runClient(options: { host: string; port: number; count?: number; udp?: boolean; cgroupPath?: string; localAddresses?: string[] }): Promise<ClientResult[]> {
  const args = [options.udp ? 'udp' : 'tcp', options.host, String(options.port), String(options.count ?? 1), (options.localAddresses ?? []).join(',')];
  const node = JSON.stringify(process.execPath);
  const command = options.cgroupPath
    ? `echo $$ > ${options.cgroupPath}/cgroup.procs && exec ${node} -e "$0" "$@"`
    : `exec ${node} -e "$0" "$@"`;
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command, CLIENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`client exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as ClientResult[]);
    });
  });
}

export interface ContinuousClient {
  /** Stops connecting and resolves with every connection's outcome, in order (again on a second call). */
  stop(): Promise<ClientResult[]>;
  /** Outcomes so far, in order (grows as the client reports them). */
  readonly results: readonly ClientResult[];
}

const LOOP_CLIENT = `
const [host, port] = process.argv.slice(1);
const net = require('node:net');
let stopping = false;
process.stdin.on('data', () => { stopping = true; });
process.stdin.on('end', () => { stopping = true; });
const one = () => new Promise((resolve) => {
  const s = net.connect({ host, port: Number(port) });
  let data = '';
  const timer = setTimeout(() => { s.destroy(); resolve({ error: 'timeout' }); }, 5000);
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code }); });
  s.on('close', (hadError) => { clearTimeout(timer); if (!hadError) resolve({ reply: data }); });
});
(async () => {
  while (!stopping) process.stdout.write(JSON.stringify(await one()) + '\\n');
})();
`;

/**
 * A client in the cgroup that connects to host:port one connection after another until stopped,
 * each connection reading the backend's reply (a failed connect shows as `error`).
 */
export function continuousClient(options: { host: string; port: number; cgroupPath: string }): ContinuousClient {
  const node = JSON.stringify(process.execPath);
  const child = spawn('sh', ['-c', `echo $$ > ${options.cgroupPath}/cgroup.procs && exec ${node} -e "$0" "$@"`, LOOP_CLIENT, options.host, String(options.port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const results: ClientResult[] = [];
  let pending = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line) results.push(JSON.parse(line) as ClientResult);
  });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    results,
    async stop() {
      if (!child.stdin!.writableEnded) child.stdin!.end('stop\n');
      const code = await exited;
      if (code !== 0) throw new Error(`continuous client exited ${code}: ${stderr}`);
      return results;
    },
  };
}
