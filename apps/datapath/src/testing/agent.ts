/** The datapath agent as a real process for tests: started on a scratch cgroup and pin directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@tendril/testing';
import type { Scratch } from './kernel.js';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  http: string;
  log(): string;
  /** Resolves once /readyz answers 200 (programs attached, initial sync in the maps). */
  ready(): Promise<void>;
}

/** Spawns the agent; `ready()` waits for it. */
export async function spawnAgent(dir: Scratch, natsUrl: string, env: Record<string, string> = {}): Promise<AgentProcess> {
  const port = await freePort();
  let log = '';
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      TENDRIL_NATS_URL: natsUrl,
      TENDRIL_HTTP_HOST: '127.0.0.1',
      TENDRIL_HTTP_PORT: String(port),
      TENDRIL_CGROUP_PATH: dir.cgroupPath,
      TENDRIL_BPF_PIN_PATH: dir.pinPath,
      TENDRIL_DATA_DIR: dir.dataDir,
      TENDRIL_NODE_NAME: 'node-a',
      TENDRIL_FLOW_INTERVAL_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  const http = `http://127.0.0.1:${port}`;
  return {
    child,
    http,
    log: () => log,
    ready: () =>
      waitFor(`datapath ready on ${http}`, async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`agent exited ${child.exitCode ?? child.signalCode}: ${log}`);
        return (await fetch(`${http}/readyz`).catch(() => undefined))?.ok;
      }, 90000).then(() => undefined),
  };
}

/** Spawns the agent and waits until it is ready. */
export async function startAgent(dir: Scratch, natsUrl: string, env: Record<string, string> = {}): Promise<AgentProcess> {
  const agent = await spawnAgent(dir, natsUrl, env);
  await agent.ready();
  return agent;
}

/** Sends the signal and resolves with the exit code (null when killed by a signal). */
export function stopAgent(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
