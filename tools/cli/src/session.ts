/** One CLI invocation's NATS connection and KV access, failing fast with a clear message. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KV, NatsConnection } from 'nats';
import yoctoSpinner from 'yocto-spinner';
import { connectOnce, envString, natsCredentials, natsTlsConfig, type NatsTlsSettings } from '@tendril/platform/light';
import { chunkKeys, decodeChunkedHead, isChunkKey } from '@tendril/contract';
import { UnreachableError } from './output.js';

export interface GlobalOptions {
  nats: string;
  output: string;
  timeout: string;
}

export class Session {
  private constructor(
    readonly nc: NatsConnection,
    readonly timeoutMs: number,
  ) {}

  static async open(options: GlobalOptions): Promise<Session> {
    const timeoutMs = Number(options.timeout);
    try {
      return new Session(await waiting(`connecting to ${options.nats}`, () => connectOnce(options.nats, 'tendril-cli', timeoutMs, { ...cliCredentials(), ...cliTls(options.nats) })), timeoutMs);
    } catch (error) {
      throw new UnreachableError(`cannot reach NATS at ${options.nats}: ${(error as Error).message}`);
    }
  }

  /** A bucket that must exist; its absence means that part of Tendril never ran. */
  async bucket(name: string): Promise<KV> {
    try {
      const kv = await this.nc.jetstream().views.kv(name, { bindOnly: true });
      await kv.status();
      return kv;
    } catch (error) {
      throw new UnreachableError(`bucket ${name} is not there (${(error as Error).message}): is Tendril running against this NATS?`);
    }
  }

  /** Every live value of a bucket (keys listed first: nats.js ends keys() early if the loop awaits). */
  async entries(name: string, filter?: string): Promise<[string, Uint8Array][]> {
    const kv = await this.bucket(name);
    const keys: string[] = [];
    for await (const key of await kv.keys(filter)) keys.push(key);
    const out: [string, Uint8Array][] = [];
    for (const key of keys.sort()) {
      if (isChunkKey(key)) continue;
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      // a value over max_payload: its head names the chunks (libs/contract large-values.ts)
      const head = decodeChunkedHead(entry.value);
      if (!head) {
        out.push([key, entry.value]);
        continue;
      }
      const parts = await Promise.all(chunkKeys(key, head).map((chunk) => kv.get(chunk)));
      if (parts.some((part) => !part || part.operation !== 'PUT')) continue; // replaced meanwhile
      out.push([key, Buffer.concat(parts.map((part) => part!.value))]);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** Shows a spinner on a terminal while waiting; nothing when output goes to a pipe. */
export async function waiting<T>(what: string, action: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return action();
  const spinner = yoctoSpinner({ text: what, stream: process.stderr }).start();
  try {
    return await action();
  } finally {
    spinner.stop();
  }
}

/** TENDRIL_NATS_TLS_CA / _CERT / _KEY and tls:// URLs, as the services read them. */
export function cliTls(url: string): { tls?: NatsTlsSettings } {
  const { natsTls } = natsTlsConfig(url);
  return natsTls ? { tls: natsTls } : {};
}

/**
 * TENDRIL_NATS_USER/PASSWORD when set; else the read-only `cli` user that `npm start` made in
 * the data folder (TENDRIL_DATA_DIR, default .data); else none.
 */
export function cliCredentials(): { user?: string; password?: string } {
  const { natsUser, natsPassword } = natsCredentials();
  if (natsUser) return { user: natsUser, password: natsPassword ?? '' };
  const file = join(envString('TENDRIL_DATA_DIR', '.data'), 'nats', 'credentials.json');
  if (!existsSync(file)) return {};
  const password = (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)['cli'];
  return password ? { user: 'cli', password } : {};
}
