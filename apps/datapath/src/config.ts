/** The datapath agent's own settings (the platform's are in libs/platform). */
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAGLEV_TABLE_SIZE, isPrime } from '@tendril/datapath-core';
import { envInt, envString } from '@tendril/platform';

function maglevTableSize(size: number): number {
  if (!isPrime(size)) throw new Error(`TENDRIL_MAGLEV_TABLE_SIZE=${size}: must be a prime (e.g. 16381, 65521)`);
  return size;
}

export interface DatapathConfig {
  /** TENDRIL_BPF_OBJECT: the compiled programs (default: the repo's bpf/build/sock_lb.o, found from this file). */
  objectPath: string;
  /** TENDRIL_BPF_PIN_PATH: bpffs directory where maps and programs are pinned and adopted from. */
  pinPath: string;
  /** TENDRIL_CGROUP_PATH: the cgroup v2 directory whose sockets are load-balanced (and all below it). */
  cgroupPath: string;
  /** Where the service id allocation is kept (under TENDRIL_DATA_DIR): an append-only log. */
  idsFile: string;
  /** The JSON file older agents kept the allocation in: read once into the log, then removed. */
  legacyIdsFile: string;
  /** TENDRIL_FLOW_INTERVAL_MS: how often connection counts go to tendril.flows.<node> (0: never). */
  flowIntervalMs: number;
  /** TENDRIL_MAGLEV_TABLE_SIZE: entries of each Maglev service's lookup table (a prime). */
  maglevTableSize: number;
  /** TENDRIL_BPF_POLICY_OBJECT: the network policy programs (default: the repo's bpf/build/policy.o); `none` turns enforcement off. */
  policyObjectPath: string;
  /** TENDRIL_POLICY_RESCAN_MS: how often the cgroups of this node's Pods are looked for again (new containers). */
  policyRescanMs: number;
  /** TENDRIL_RECONCILE_INTERVAL_MS: how often the maps are compared with tendril-lb and drift repaired (0: never). */
  reconcileIntervalMs: number;
  /** North-south (bpf/nodeport.o on the node's external interfaces); undefined when TENDRIL_NODEPORT_DEVICES is unset. */
  northSouth?: NorthSouthConfig;
}

export interface NorthSouthConfig {
  /** TENDRIL_NODEPORT_DEVICES: the interfaces whose traffic from outside (and the backends' replies) the tc programs see. */
  devices: string[];
  /** TENDRIL_NODEPORT_ADDRESSES: the IPv4 addresses NodePorts answer on (empty: every IPv4 address of the namespace but loopback). */
  addresses: string[];
  /** TENDRIL_NODEPORT_NETNS: the network namespace of the devices, as a path ('': the agent's own). */
  netnsPath: string;
  /** TENDRIL_BPF_NODEPORT_OBJECT: the tc programs (default: the repo's bpf/build/nodeport.o). */
  objectPath: string;
}

function list(name: string): string[] {
  return envString(name, '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function northSouthConfig(): NorthSouthConfig | undefined {
  const devices = list('TENDRIL_NODEPORT_DEVICES');
  if (devices.length === 0) return undefined;
  for (const device of devices) if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(device)) throw new Error(`TENDRIL_NODEPORT_DEVICES: "${device}" is not an interface name`);
  const addresses = list('TENDRIL_NODEPORT_ADDRESSES');
  for (const address of addresses) if (isIP(address) !== 4) throw new Error(`TENDRIL_NODEPORT_ADDRESSES: "${address}" is not an IPv4 address`);
  return {
    devices,
    addresses,
    netnsPath: envString('TENDRIL_NODEPORT_NETNS', ''),
    objectPath: resolve(envString('TENDRIL_BPF_NODEPORT_OBJECT', resolve(repoRoot, 'bpf', 'build', 'nodeport.o'))),
  };
}

export const DATAPATH_CONFIG = Symbol('DATAPATH_CONFIG');

// dist/config.js -> apps/datapath -> repo root
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function readDatapathConfig(dataDir: string): DatapathConfig {
  const northSouth = northSouthConfig();
  return {
    objectPath: resolve(envString('TENDRIL_BPF_OBJECT', resolve(repoRoot, 'bpf', 'build', 'sock_lb.o'))),
    pinPath: envString('TENDRIL_BPF_PIN_PATH', '/sys/fs/bpf/tendril'),
    cgroupPath: envString('TENDRIL_CGROUP_PATH', '/sys/fs/cgroup/unified'),
    idsFile: resolve(dataDir, 'datapath-service-ids.log'),
    legacyIdsFile: resolve(dataDir, 'datapath-service-ids.json'),
    flowIntervalMs: envInt('TENDRIL_FLOW_INTERVAL_MS', 1000, 0),
    reconcileIntervalMs: envInt('TENDRIL_RECONCILE_INTERVAL_MS', 60000, 0),
    policyObjectPath: envString('TENDRIL_BPF_POLICY_OBJECT', resolve(repoRoot, 'bpf', 'build', 'policy.o')),
    policyRescanMs: envInt('TENDRIL_POLICY_RESCAN_MS', 1000, 0),
    maglevTableSize: maglevTableSize(envInt('TENDRIL_MAGLEV_TABLE_SIZE', DEFAULT_MAGLEV_TABLE_SIZE, 3)),
    ...(northSouth ? { northSouth } : {}),
  };
}
