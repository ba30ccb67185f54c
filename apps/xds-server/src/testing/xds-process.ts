/**
 * Test support: an xds-server process started from its build on loopback ports, and a tendril-xds
 * bucket that tests write resources and generation markers into as the translator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KV, NatsConnection } from 'nats';
import { BUCKETS, XDS_GENERATION_KEY, type XdsResourceEnvelope, generationDigest, xdsBucketOf, xdsEnvelope, xdsGenerationCodec, xdsKey, xdsResourceCodec } from '@tendril/contract';
import { encodeResource } from '@tendril/envoy';
import { freePort, waitFor } from '@tendril/testing';

/** The built xds-server entry point. */
export const xdsServerMain = fileURLToPath(new URL('../main.js', import.meta.url));

export interface XdsServerProcess {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** The ADS address, 127.0.0.1:<grpcPort>. */
  address: string;
  /** The status server, http://127.0.0.1:<httpPort>. */
  http: string;
  /** Ends the process (SIGTERM unless told otherwise) and waits for it to exit; nothing if it has. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface XdsServerOptions {
  /** More TENDRIL_* variables (they win over the defaults). */
  env?: Record<string, string>;
  /** Fixed ports (a restart on the same address); free ones otherwise. */
  grpcPort?: number;
  httpPort?: number;
  /** Gets the process's stdout and stderr as they come. */
  onOutput?: (text: string) => void;
  /** What the readiness wait is called in its timeout message. */
  name?: string;
  readyTimeoutMs?: number;
}

/** Starts main.js against this nats-server and resolves once /readyz answers 200. */
export async function startXdsServer(natsUrl: string, options: XdsServerOptions = {}): Promise<XdsServerProcess> {
  const grpcPort = options.grpcPort ?? (await freePort());
  const httpPort = options.httpPort ?? (await freePort());
  const child = spawn(process.execPath, [xdsServerMain], {
    env: {
      ...process.env,
      TENDRIL_NATS_URL: natsUrl,
      TENDRIL_HTTP_PORT: String(httpPort),
      TENDRIL_HTTP_HOST: '127.0.0.1',
      TENDRIL_XDS_HOST: '127.0.0.1',
      TENDRIL_XDS_PORT: String(grpcPort),
      NO_COLOR: '1',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => options.onOutput?.(String(d)));
  child.stderr!.on('data', (d) => options.onOutput?.(String(d)));
  const http = `http://127.0.0.1:${httpPort}`;
  try {
    await waitFor(
      options.name ?? 'xds-server ready',
      async () => child.exitCode === null && (await fetch(`${http}/readyz`).catch(() => undefined))?.ok,
      // a loaded machine starts a process slowly: a generous wait, never a tight one
      options.readyTimeoutMs ?? 60000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    grpcPort,
    httpPort,
    address: `127.0.0.1:${grpcPort}`,
    http,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
}

/** The envelope of an EDS cluster (endpoints over ADS) with this connect timeout. */
export function edsCluster(name: string, connectTimeout = '1s'): XdsResourceEnvelope {
  return xdsEnvelope('cluster', name, encodeResource('cluster', { name, type: 'EDS', connectTimeout, edsClusterConfig: { edsConfig: { ads: {} } } }));
}

/**
 * The envelope of a TLS listener (for the nodes of `nodeIds`, or all) whose one filter chain serves
 * the certificates `secrets` over SDS: what makes a node need those Secrets.
 */
export function tlsListener(name: string, secrets: string[], nodeIds?: string[]): XdsResourceEnvelope {
  const sds = (secret: string) => ({ name: secret, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
  const listener = {
    name,
    address: { socketAddress: { address: '127.0.0.1', portValue: 10443 } },
    filterChains: [
      {
        filters: [{ name: 'tcp', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', statPrefix: 'tls', cluster: 'default/a' } }],
        transportSocket: {
          name: 'envoy.transport_sockets.tls',
          typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', commonTlsContext: { tlsCertificateSdsSecretConfigs: secrets.map(sds) } },
        },
      },
    ],
  };
  return xdsEnvelope('listener', name, encodeResource('listener', listener), nodeIds ? { nodeIds } : undefined);
}

/** The envelope of a Secret holding a generic secret. */
export function genericSecret(name: string, value = 'key material', nodeIds?: string[]): XdsResourceEnvelope {
  return xdsEnvelope('secret', name, encodeResource('secret', { name, genericSecret: { secret: { inlineString: value } } }), nodeIds ? { nodeIds } : undefined);
}

/**
 * tendril-xds and tendril-sds as the translator writes them: resource envelopes (Secrets in
 * tendril-sds), then a generation marker in tendril-xds whose digest covers every key written so far.
 */
export class TestXdsBucket {
  generation = 0;
  private readonly written = new Map<string, XdsResourceEnvelope>();

  private constructor(
    readonly kv: KV,
    readonly sds: KV,
  ) {}

  static async open(nc: NatsConnection): Promise<TestXdsBucket> {
    const js = nc.jetstream();
    return new TestXdsBucket(await js.views.kv(BUCKETS.xds, { history: 1 }), await js.views.kv(BUCKETS.sds, { history: 1 }));
  }

  /** The bucket a key goes to. */
  private bucketOf(key: string): KV {
    return xdsBucketOf(key) === BUCKETS.sds ? this.sds : this.kv;
  }

  /**
   * Puts and removes envelopes, then (unless told not to) writes the next generation marker. `counted`
   * envelopes are counted in the marker without being written (a writer whose marker overtook them).
   */
  async publish(changes: { put?: XdsResourceEnvelope[]; remove?: XdsResourceEnvelope[]; counted?: XdsResourceEnvelope[] }, withMarker = true): Promise<void> {
    for (const envelope of changes.counted ?? []) this.written.set(xdsKey(envelope), envelope);
    for (const envelope of changes.put ?? []) {
      const key = xdsKey(envelope);
      this.written.set(key, envelope);
      await this.bucketOf(key).put(key, xdsResourceCodec.encode(envelope));
    }
    for (const envelope of changes.remove ?? []) {
      const key = xdsKey(envelope);
      this.written.delete(key);
      await this.bucketOf(key).delete(key);
    }
    if (withMarker) await this.writeMarker();
  }

  /** The next generation marker, over everything in the bucket. */
  async writeMarker(): Promise<void> {
    const digest = generationDigest([...this.written].map(([key, envelope]) => [key, envelope.hash]));
    await this.kv.put(XDS_GENERATION_KEY, xdsGenerationCodec.encode({ v: 1, generation: ++this.generation, digest, count: this.written.size }));
  }
}
