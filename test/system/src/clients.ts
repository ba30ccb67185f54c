/** Clients the system test drives: a TCP backend, and connect() from a child process in a cgroup. */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';

export interface TcpBackend {
  address: string;
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** A TCP server that greets each connection with its own address, then echoes. */
export async function startTcpBackend(address: string, port: number): Promise<TcpBackend> {
  const backend: TcpBackend = { address, port, connections: 0, close: async () => undefined };
  const server: Server = createServer((socket) => {
    backend.connections++;
    socket.write(`backend ${address}:${port}\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  backend.close = () => new Promise((resolve) => server.close(() => resolve()));
  return backend;
}

/**
 * connect()s to host:port from a new process placed in the cgroup first (so the cgroup's BPF
 * programs apply), reads the greeting, and reports what happened.
 */
export function connectFromCgroup(cgroup: string, host: string, port: number, timeoutMs = 3000): Promise<{ ok: boolean; greeting?: string; error?: string }> {
  const script = `
    const net = require('node:net');
    const socket = net.connect({ host: ${JSON.stringify(host)}, port: ${port} });
    const timer = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'timeout' })); process.exit(0); }, ${timeoutMs});
    socket.once('data', (data) => { clearTimeout(timer); console.log(JSON.stringify({ ok: true, greeting: data.toString().trim().split('\\n')[0] })); socket.destroy(); });
    socket.once('error', (error) => { clearTimeout(timer); console.log(JSON.stringify({ ok: false, error: error.code || error.message })); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "${process.execPath}" -e "$0"`, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`client failed: ${out} ${err}`));
      }
    });
  });
}
