/**
 * The one NATS connection of a service. It reconnects forever (nats.js stops after 10 attempts by
 * default), keeps trying when the server is not there at start, reports its state to readiness, and
 * hands out KV buckets: `bucket()` creates (for the writer), `bindBucket()` waits for the writer.
 */
import { connect, type ConnectionOptions, type KV, type NatsConnection, type JetStreamClient, type JetStreamManager, Events, DebugEvents } from 'nats';
import type { ChunkedHead } from '@tendril/contract';
import type { NatsTlsSettings } from './config.js';
import { JsPublisher } from './js-publisher.js';
import { KvValues } from './kv-values.js';
import type { ReadinessCheck } from './readiness.js';
import type { Logger } from './logger.js';

export interface NatsOptions {
  url: string;
  user?: string;
  password?: string;
  /** TLS to NATS (platform config: TENDRIL_NATS_TLS_*, tls:// URLs). */
  tls?: NatsTlsSettings;
  name: string;
  kvReplicas: number;
  logger: Logger;
  readiness?: ReadinessCheck;
  /**
   * Chunks no head names (a writer stopped between a value's chunks and its head) are deleted from the
   * buckets this process writes through values(): looked for every `intervalMs`, deleted once unnamed
   * for `graceMs`. Unset: not swept.
   */
  chunkSweep?: { intervalMs: number; graceMs: number };
}

/**
 * One attempt, for command-line tools: they should say at once that NATS is unreachable rather than
 * retry forever as the services do.
 */
export async function connectOnce(url: string, name: string, timeoutMs = 2000, credentials: { user?: string; password?: string; tls?: NatsTlsSettings } = {}): Promise<NatsConnection> {
  try {
    return await connect({
      ...connectionOptions(url, credentials),
      name,
      timeout: timeoutMs,
      maxReconnectAttempts: 0,
      reconnect: false,
    });
  } catch (error) {
    throw explainNatsError(error as Error, credentials.tls);
  }
}

function connectionOptions(url: string, options: { user?: string; password?: string; tls?: NatsTlsSettings }): ConnectionOptions {
  return {
    servers: url.split(',').map((s) => s.trim()),
    ...(options.user ? { user: options.user, pass: options.password ?? '' } : {}),
    // nats.js takes the scheme off the URL: TLS is asked for by the option (an empty one: system CAs)
    ...(options.tls ? { tls: { ...options.tls } } : {}),
  };
}

/**
 * A connection error in terms of the settings that fix it: TLS failures name TENDRIL_NATS_TLS_CA or
 * TENDRIL_NATS_TLS_CERT/KEY rather than leaving an operator with an OpenSSL code.
 */
export function explainNatsError(error: Error, tls?: NatsTlsSettings): Error {
  const code = (error as { code?: string }).code ?? '';
  const text = `${code} ${error.message}`;
  let hint: string | undefined;
  if (/CERT_IN_CHAIN|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_SIGNATURE_FAILURE|self[- ]signed|unable to verify|unable to get local issuer/i.test(text)) {
    hint = tls?.caFile
      ? `the NATS server's certificate is not signed by TENDRIL_NATS_TLS_CA=${tls.caFile}`
      : "the NATS server's certificate is not trusted: set TENDRIL_NATS_TLS_CA to the CA that signed it";
  } else if (/ALTNAME|does not match|Hostname\/IP/i.test(text)) {
    hint = "the NATS server's certificate does not name the host in TENDRIL_NATS_URL";
  } else if (/certificate required|CERTIFICATE_REQUIRED|bad certificate|BAD_CERTIFICATE|unknown ca|UNKNOWN_CA/i.test(text)) {
    hint = tls?.certFile
      ? `the NATS server refused the client certificate TENDRIL_NATS_TLS_CERT=${tls.certFile}`
      : 'the NATS server requires a client certificate: set TENDRIL_NATS_TLS_CERT and TENDRIL_NATS_TLS_KEY';
  } else if (tls && !tls.certFile && /ECONNRESET|EPIPE/.test(text)) {
    // with TLS 1.3 a server refusing a missing client certificate may close before its alert is read
    hint = 'the NATS server reset the TLS connection (perhaps it requires a client certificate: set TENDRIL_NATS_TLS_CERT and TENDRIL_NATS_TLS_KEY)';
  } else if (/^tls\b|SERVER_OPTION_NA|ServerOptionNotAvailable/i.test(error.message) || (code === 'SERVER_OPTION_NA' && /tls/i.test(error.message))) {
    hint = 'TLS is on (a tls:// URL or TENDRIL_NATS_TLS_*) but the NATS server does not offer it';
  }
  if (!hint) return error;
  const explained = new Error(`${hint} (${error.message.trim()})`, { cause: error });
  Object.assign(explained, { code });
  return explained;
}

export class NatsClient {
  private connection?: NatsConnection;
  private connecting?: Promise<NatsConnection>;
  private closed = false;
  private isConnected = false;
  private readonly connectionListeners = new Set<() => void>();

  constructor(private readonly options: NatsOptions) {}

  get connected(): boolean {
    return this.isConnected;
  }

  /** Resolves once connected the first time; never rejects unless closed first. */
  connect(): Promise<NatsConnection> {
    this.connecting ??= this.open();
    return this.connecting;
  }

  /** Called after every reconnect: watchers re-check themselves. */
  onReconnect(listener: () => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  private async open(): Promise<NatsConnection> {
    const { logger, readiness } = this.options;
    readiness?.fail(`connecting to ${this.options.url}`);
    let attempt = 0;
    while (!this.closed) {
      try {
        const nc = await connect({
          ...connectionOptions(this.options.url, this.options),
          name: this.options.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          reconnectJitter: 200,
          pingInterval: 5000,
          maxPingOut: 3,
          timeout: 2000,
        });
        this.connection = nc;
        this.isConnected = true;
        readiness?.pass(`connected to ${nc.getServer()}`);
        logger.log(`connected to NATS at ${nc.getServer()}`);
        void this.followStatus(nc);
        return nc;
      } catch (error) {
        attempt++;
        const reason = `cannot reach NATS at ${this.options.url}: ${explainNatsError(error as Error, this.options.tls).message}`;
        readiness?.fail(reason);
        if (attempt === 1 || attempt % 20 === 0) logger.warn(`${reason} (attempt ${attempt}, retrying)`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
      }
    }
    throw new Error('NATS client closed before it connected');
  }

  private async followStatus(nc: NatsConnection): Promise<void> {
    const { logger, readiness } = this.options;
    for await (const status of nc.status()) {
      switch (status.type) {
        case Events.Disconnect:
          this.isConnected = false;
          readiness?.fail(`disconnected from ${String(status.data)}`);
          logger.warn(`NATS disconnected from ${String(status.data)}; reconnecting`);
          break;
        case Events.Reconnect:
          this.isConnected = true;
          readiness?.pass(`connected to ${String(status.data)}`);
          logger.log(`NATS reconnected to ${String(status.data)}`);
          for (const listener of this.connectionListeners) listener();
          break;
        case Events.Error:
          logger.warn(`NATS error: ${String(status.data)}`);
          break;
        case DebugEvents.Reconnecting:
          break;
        default:
          break;
      }
    }
  }

  /** The connection; only after connect() resolved. */
  get nc(): NatsConnection {
    if (!this.connection) throw new Error('NATS is not connected yet');
    return this.connection;
  }

  /** The server's max_payload, from its INFO (nats-server's default until connected). */
  get maxPayload(): number {
    return this.connection?.info?.max_payload ?? 1024 * 1024;
  }

  /**
   * The writer of `bucket` (opened with bucket()) that takes values of any size up to the contract's
   * limit, chunking those over max_payload; `previous` (given by the first caller) tells it the
   * chunked heads the bucket holds that it did not write itself. One per bucket and connection.
   */
  values(name: string, previous?: (key: string) => ChunkedHead | undefined): Promise<KvValues> {
    // one writer per bucket: it remembers the chunks it wrote, to delete them when they are replaced
    let opened = this.valueWriters.get(name);
    if (!opened) {
      opened = this.bucket(name).then((kv) => {
        const values = new KvValues(kv, { bucket: name, maxPayload: () => this.maxPayload, publisher: this.publisher, ...(previous ? { previous } : {}) });
        const sweep = this.options.chunkSweep;
        if (sweep && !this.closed) values.startSweeping(sweep.intervalMs, sweep.graceMs, this.options.logger);
        return values;
      });
      this.valueWriters.set(name, opened);
      opened.catch(() => this.valueWriters.delete(name));
    }
    return opened;
  }

  private readonly valueWriters = new Map<string, Promise<KvValues>>();

  /** The lean JetStream publisher every KvValues of this connection writes through. */
  readonly publisher = new JsPublisher(() => this.nc);

  get js(): JetStreamClient {
    return this.nc.jetstream();
  }

  jsm(): Promise<JetStreamManager> {
    return this.nc.jetstreamManager();
  }

  /** Handles already opened: opening asks the server for the stream each time, so it is done once. */
  private readonly buckets = new Map<string, Promise<KV>>();

  /** Opens a bucket this service writes, creating it (history 1) when missing; once per bucket. */
  bucket(name: string): Promise<KV> {
    let opened = this.buckets.get(name);
    if (!opened) {
      opened = this.connect().then(() => this.retry(`create bucket ${name}`, () => this.js.views.kv(name, { history: 1, replicas: this.options.kvReplicas })));
      this.buckets.set(name, opened);
      opened.catch(() => this.buckets.delete(name));
    }
    return opened;
  }

  /** Opens a bucket another service writes; waits until it exists. */
  async bindBucket(name: string, onWaiting?: (reason: string) => void): Promise<KV> {
    await this.connect();
    // bindOnly does not look for the stream: status() does, and fails until the writer made it
    return this.retry(
      `open bucket ${name}`,
      async () => {
        const kv = await this.js.views.kv(name, { bindOnly: true });
        await kv.status();
        return kv;
      },
      onWaiting,
    );
  }

  private async retry<T>(what: string, action: () => Promise<T>, onWaiting?: (reason: string) => void): Promise<T> {
    let attempt = 0;
    for (;;) {
      try {
        return await action();
      } catch (error) {
        if (this.closed) throw error;
        attempt++;
        const reason = `${what}: ${(error as Error).message}`;
        onWaiting?.(reason);
        if (attempt === 1 || attempt % 30 === 0) this.options.logger.warn(`${reason} (retrying)`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2000)));
      }
    }
  }

  /** Drains subscriptions and closes; safe to call twice. */
  async drain(): Promise<void> {
    this.closed = true;
    for (const opened of this.valueWriters.values()) void opened.then((values) => values.stopSweeping()).catch(() => undefined);
    const nc = this.connection;
    if (!nc || nc.isClosed()) return;
    try {
      await Promise.race([nc.drain(), new Promise((resolve) => setTimeout(resolve, 3000))]);
    } catch {
      // already closing
    }
    if (!nc.isClosed()) await nc.close();
    // writes still unacknowledged fail now rather than at their timeout
    this.publisher.close();
  }
}
