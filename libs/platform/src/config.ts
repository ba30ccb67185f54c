/**
 * Configuration from environment variables, read in one place, with defaults that run on a laptop.
 * Every variable a service reads is declared here or through envString/envInt, so docs/operations.md can list them.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { PORTS, type ServiceName } from '@tendril/contract';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function envString(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envInt(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${raw}: expected an integer between ${min} and ${max}`);
  }
  return value;
}

export function envBool(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name}=${raw}: expected true or false`);
}

/** What every service reads. */
export interface PlatformConfig {
  service: ServiceName;
  version: string;
  /** TENDRIL_NATS_URL: comma-separated server URLs. */
  natsUrl: string;
  /** TENDRIL_NATS_USER / TENDRIL_NATS_PASSWORD: this service's NATS user (none: no authentication). */
  natsUser?: string;
  natsPassword?: string;
  /** TENDRIL_NATS_TLS_CA / _CERT / _KEY, or a tls:// URL: TLS to NATS (none: plain, or TLS when the server asks). */
  natsTls?: NatsTlsSettings;
  /** TENDRIL_CLUSTER: the cluster name this control plane serves (first token of object keys). */
  cluster: string;
  /** TENDRIL_HTTP_HOST / TENDRIL_HTTP_PORT: where /healthz, /readyz and /metrics listen. */
  httpHost: string;
  httpPort: number;
  /** TENDRIL_NODE_NAME: this node (hostname by default). */
  nodeName: string;
  /** Unique per process: tells replicas apart in stats and proxy records. */
  instance: string;
  /** TENDRIL_KV_REPLICAS: replicas of the buckets this service creates (3 in Kubernetes). */
  kvReplicas: number;
  /** TENDRIL_STATS_INTERVAL_MS: how often figures go to tendril.stats.<service>. */
  statsIntervalMs: number;
  /** TENDRIL_DATA_DIR: where local state lives (sqlite, ids). */
  dataDir: string;
  /**
   * TENDRIL_KV_CHUNK_SWEEP_MS / TENDRIL_KV_CHUNK_GRACE_MS: how often the buckets this service writes
   * are looked through for chunks no head names, and how long such chunks are left before deletion.
   */
  chunkSweep: { intervalMs: number; graceMs: number };
}

export const PLATFORM_VERSION = '0.1.0';

export function readPlatformConfig(service: ServiceName): PlatformConfig {
  const nodeName = envString('TENDRIL_NODE_NAME', hostname());
  return {
    service,
    version: PLATFORM_VERSION,
    natsUrl: envString('TENDRIL_NATS_URL', `nats://127.0.0.1:${PORTS.natsClient}`),
    ...natsCredentials(),
    ...natsTlsConfig(envString('TENDRIL_NATS_URL', `nats://127.0.0.1:${PORTS.natsClient}`)),
    cluster: envString('TENDRIL_CLUSTER', 'default'),
    httpHost: envString('TENDRIL_HTTP_HOST', '127.0.0.1'),
    httpPort: envInt('TENDRIL_HTTP_PORT', PORTS[service], 0, 65535),
    nodeName,
    instance: `${nodeName}-${process.pid}-${randomBytes(3).toString('hex')}`,
    kvReplicas: envInt('TENDRIL_KV_REPLICAS', 1, 1, 5),
    statsIntervalMs: envInt('TENDRIL_STATS_INTERVAL_MS', 2000, 100),
    dataDir: envString('TENDRIL_DATA_DIR', '.data'),
    chunkSweep: { intervalMs: envInt('TENDRIL_KV_CHUNK_SWEEP_MS', 300_000, 1000), graceMs: envInt('TENDRIL_KV_CHUNK_GRACE_MS', 600_000, 0) },
  };
}

/** TENDRIL_NATS_USER and TENDRIL_NATS_PASSWORD, when set. */
export function natsCredentials(): { natsUser?: string; natsPassword?: string } {
  const user = envString('TENDRIL_NATS_USER', '');
  if (user === '') return {};
  return { natsUser: user, natsPassword: envString('TENDRIL_NATS_PASSWORD', '') };
}

/** Files for TLS to NATS; each named after the variable it came from in errors. */
export interface NatsTlsSettings {
  /** TENDRIL_NATS_TLS_CA: the CA that signed the server's certificate (PEM). */
  caFile?: string;
  /** TENDRIL_NATS_TLS_CERT / TENDRIL_NATS_TLS_KEY: this client's certificate and key, for servers that verify clients. */
  certFile?: string;
  keyFile?: string;
}

/**
 * TLS to NATS is on when the CA or a client certificate is set, or a URL says tls://. Without any of
 * them the client still upgrades when the server requires TLS, and then trusts the system's CAs.
 */
export function natsTlsConfig(url: string): { natsTls?: NatsTlsSettings } {
  const file = (name: string) => {
    const path = envString(name, '');
    if (path !== '' && !existsSync(path)) throw new ConfigError(`${name}=${path}: no such file`);
    return path === '' ? undefined : path;
  };
  const caFile = file('TENDRIL_NATS_TLS_CA');
  const certFile = file('TENDRIL_NATS_TLS_CERT');
  const keyFile = file('TENDRIL_NATS_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('TENDRIL_NATS_TLS_CERT and TENDRIL_NATS_TLS_KEY go together: set both or neither');
  }
  const tlsUrl = url.split(',').some((server) => /^\s*tls:\/\//i.test(server));
  if (!tlsUrl && !caFile && !certFile) return {};
  return { natsTls: { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile, keyFile: keyFile! } : {}) } };
}
