/**
 * Network namespaces for north-south kernel tests: a "client" outside, the "node" where the tc
 * programs attach, and backends behind the node, each on its own veth pair, addresses from
 * 198.18.0.0/15 only. Names carry the test's pid and a counter, so parallel runs never collide.
 * Processes run inside with `ip netns exec`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

let counter = 0;

export interface Topology {
  /** Namespace names (/run/netns/<name>). */
  client: string;
  node: string;
  backends: string[];
  /** The node's address toward the client (a NodePort address), and the client's. */
  nodeAddress: string;
  clientAddress: string;
  /** The backends' addresses, and the node's address on each backend's link. */
  backendAddresses: string[];
  nodeBackendSide: string[];
  /** The node's devices: toward the client first, then one per backend. */
  devices: string[];
  dispose(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
export const inNs = (ns: string, ...command: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** client 198.18.1.2 - 198.18.1.1 node 198.18.(2+i).1 - 198.18.(2+i).2 backend i */
export function topology(backendCount: number): Topology {
  const base = `tnd-${process.pid}-${++counter}`;
  const client = `${base}-client`;
  const node = `${base}-node`;
  const backends = Array.from({ length: backendCount }, (_, index) => `${base}-b${index}`);
  const all = [client, node, ...backends];
  const dispose = () => {
    for (const name of all) {
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    }
  };
  try {
    for (const name of all) {
      ip('netns', 'add', name);
      ip('-n', name, 'link', 'set', 'lo', 'up');
    }
    ip('-n', node, 'link', 'add', 'n0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', client);
    ip('-n', node, 'addr', 'add', '198.18.1.1/24', 'dev', 'n0');
    ip('-n', client, 'addr', 'add', '198.18.1.2/24', 'dev', 'c0');
    ip('-n', node, 'link', 'set', 'n0', 'up');
    ip('-n', client, 'link', 'set', 'c0', 'up');
    ip('-n', client, 'route', 'add', 'default', 'via', '198.18.1.1');
    backends.forEach((name, index) => {
      const net = `198.18.${2 + index}`;
      ip('-n', node, 'link', 'add', `n${index + 1}`, 'type', 'veth', 'peer', 'name', 'b0', 'netns', name);
      ip('-n', node, 'addr', 'add', `${net}.1/24`, 'dev', `n${index + 1}`);
      ip('-n', name, 'addr', 'add', `${net}.2/24`, 'dev', 'b0');
      ip('-n', node, 'link', 'set', `n${index + 1}`, 'up');
      ip('-n', name, 'link', 'set', 'b0', 'up');
      ip('-n', name, 'route', 'add', 'default', 'via', `${net}.1`);
    });
    // a node forwards (kube-proxy and Cilium need the same); the tc programs' route lookups check it
    inNs(node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  } catch (error) {
    dispose();
    throw error;
  }
  return {
    client,
    node,
    backends,
    nodeAddress: '198.18.1.1',
    clientAddress: '198.18.1.2',
    backendAddresses: backends.map((_, index) => `198.18.${2 + index}.2`),
    nodeBackendSide: backends.map((_, index) => `198.18.${2 + index}.1`),
    devices: ['n0', ...backends.map((_, index) => `n${index + 1}`)],
    dispose,
  };
}

const SERVER = `
const [name, port, host] = process.argv.slice(1);
const net = require('node:net'), dgram = require('node:dgram');
// TCP: greets each connection with "<name> <peer address>", then answers every chunk with its name;
// with host 127.0.0.1 it stands in for the node proxy and says the address the client dialled
net.createServer((s) => {
  s.on('error', () => {});
  s.write(host === '127.0.0.1' ? name + ' ' + s.localAddress + ':' + s.localPort + '\\n' : name + ' ' + s.remoteAddress + '\\n');
  s.on('data', () => s.write(name + '\\n'));
}).listen(Number(port), host || '0.0.0.0', () => {
  if (host === '127.0.0.1') return console.log('ready');
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(name + ' ' + r.address, r.port, r.address));
  u.bind(Number(port), '0.0.0.0', () => console.log('ready'));
});
`;

/** A TCP and UDP server in a namespace (see SERVER); resolves once it listens. */
export function startServer(ns: string, name: string, port: number, host = ''): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, name, String(port), host], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`server ${name} exited ${code}: ${err}`)));
  });
}

const CLIENT = `
const [mode, host, port, arg] = process.argv.slice(1);
const net = require('node:net'), dgram = require('node:dgram'), http = require('node:http');
const tcp = () => new Promise((resolve) => {
  const s = net.connect({ host, port: Number(port) });
  let data = '';
  const timer = setTimeout(() => { s.destroy(); resolve({ error: 'timeout' }); }, 5000);
  s.on('data', (d) => { data += d; if (data.includes('\\n')) { clearTimeout(timer); s.end(); resolve({ reply: data.split('\\n')[0] }); } });
  s.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code }); });
});
const udp = () => new Promise((resolve) => {
  const s = dgram.createSocket('udp4');
  const timer = setTimeout(() => { s.close(); resolve({ error: 'timeout' }); }, 3000);
  s.on('message', (m, r) => { clearTimeout(timer); s.close(); resolve({ reply: m.toString(), from: r.address + ':' + r.port }); });
  s.send('hi', Number(port), host);
});
(async () => {
  if (mode === 'udpc') {
    // a connected UDP socket: an ICMP error about it surfaces as an error (ECONNREFUSED)
    const s = dgram.createSocket('udp4');
    let again;
    const done = (result) => { clearTimeout(timer); clearTimeout(again); s.close(); console.log(JSON.stringify(result)); };
    const timer = setTimeout(() => done({ error: 'timeout' }), 3000);
    s.on('error', (e) => done({ error: e.code }));
    s.on('message', (m) => done({ reply: m.toString() }));
    s.connect(Number(port), host, () => { s.send('hi'); again = setTimeout(() => s.send('hi'), 300); });
    return;
  }
  if (mode === 'tcp' || mode === 'udp') {
    const out = [];
    for (let i = 0; i < Number(arg); i++) out.push(await (mode === 'tcp' ? tcp() : udp()));
    return console.log(JSON.stringify(out));
  }
  if (mode === 'http') {
    http.get({ host, port: Number(port), path: '/healthz', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: JSON.parse(body) })));
    }).on('error', (e) => console.log(JSON.stringify({ error: e.code })));
    return;
  }
  if (mode === 'loop') {
    // new connections one after another until stdin closes; one JSON line per connection
    let stop = false;
    process.stdin.on('data', () => {}).on('end', () => (stop = true)).resume();
    while (!stop) console.log(JSON.stringify(await tcp()));
    return;
  }
  if (mode === 'long') {
    // one connection that asks every 50 ms until stdin closes; prints each answer, then the outcome
    const s = net.connect({ host, port: Number(port) });
    let timer;
    s.setEncoding('utf8');
    s.on('data', (d) => { for (const line of d.split('\\n')) if (line) console.log(JSON.stringify({ reply: line })); });
    s.on('connect', () => { timer = setInterval(() => s.write('?'), 50); });
    s.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
    s.on('close', () => { clearInterval(timer); console.log(JSON.stringify({ closed: true })); process.exit(0); });
    process.stdin.on('data', () => {}).on('end', () => { clearInterval(timer); s.end(); }).resume();
  }
})();
`;

export interface ClientReply {
  reply?: string;
  from?: string;
  error?: string;
  status?: number;
  body?: { localEndpoints: number; service: { namespace: string; name: string } };
  closed?: boolean;
}

/** Runs one client to completion in a namespace: `count` TCP connections or UDP datagrams, or one HTTP GET. */
export function runIn(ns: string, mode: 'tcp' | 'udp' | 'udpc' | 'http', host: string, port: number, count = 1): Promise<ClientReply[]> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, mode, host, String(port), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (err += chunk));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`client exited ${code}: ${err}`));
      const parsed = JSON.parse(out) as ClientReply | ClientReply[];
      resolve(Array.isArray(parsed) ? parsed : [parsed]);
    }),
  );
}

export interface RunningClient {
  /** Every line so far. */
  lines: ClientReply[];
  /** Ends the client (stdin closes) and resolves with every line. */
  stop(): Promise<ClientReply[]>;
}

/** A client that keeps going until stopped: `loop` (new connections) or `long` (one connection asking). */
export function startIn(ns: string, mode: 'loop' | 'long', host: string, port: number): RunningClient {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, mode, host, String(port), ''], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: ClientReply[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const part of parts) if (part) lines.push(JSON.parse(part) as ClientReply);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    lines,
    stop: async () => {
      child.stdin!.end();
      await exited;
      return lines;
    },
  };
}
