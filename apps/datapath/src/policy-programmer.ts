/**
 * Network policy on this node: attaches bpf/policy.o to the cgroup root after the load balancer's
 * programs (so connect() is judged against the chosen backend), mirrors `tendril-policy`, finds the
 * cgroups of the Pods on this node by their uid (kubelet names a Pod's cgroup `pod<uid>`, with `_` for
 * `-` under systemd; its containers' cgroups are below it), and keeps the policy maps equal to the
 * plan: puts first (rules, addresses, then the endpoints that turn enforcement on), deletes after
 * (endpoints first). Maps are pinned: a restarted agent adopts them with their entries, so there is
 * no moment without enforcement. The cgroups are looked for again every TENDRIL_POLICY_RESCAN_MS, as
 * containers start after their Pod.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUCKETS, POLICY_GENERATION_KEY, addressEntryCodec, identityPolicyCodec, parsePolicyKey, type AddressEntryValue, type IdentityPolicyValue } from '@tendril/contract';
import { POLICY_MAP_NAMES, planPolicyMaps, policyEndpointCodec, type PolicyMapPlan } from '@tendril/datapath-core';
import { PinnedMap, installPrograms } from '@tendril/ebpf';
import { KvMirror, type Logger, type NatsClient } from '@tendril/platform';

type PolicyValue = { kind: 'address'; value: AddressEntryValue } | { kind: 'policy'; value: IdentityPolicyValue } | { kind: 'other' };

export interface PolicyProgrammerConfig {
  policyObjectPath: string;
  pinPath: string;
  cgroupPath: string;
  nodeName: string;
  rescanMs: number;
}

/** Cgroup directories below `root` (depth-limited), by the Pod uid their name carries. */
export function podCgroups(root: string, uids: ReadonlySet<string>, depth = 6): Map<string, string[]> {
  const found = new Map<string, string[]>();
  if (uids.size === 0) return found; // no Pod of this node to look for: the tree is not walked
  const byName = new Map<string, string>();
  for (const uid of uids) {
    byName.set(`pod${uid}`, uid);
    byName.set(`pod${uid.replaceAll('-', '_')}`, uid);
  }
  const walk = (dir: string, level: number, owner: string | undefined) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a cgroup removed while we looked
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      const name = entry.name.replace(/\.slice$/, '');
      const match = owner ?? [...byName].find(([podName]) => name === podName || name.endsWith(`-${podName}`))?.[1];
      if (match) found.set(match, [...(found.get(match) ?? []), path]);
      if (level < depth) walk(path, level + 1, match);
    }
  };
  walk(root, 0, undefined);
  return found;
}

export class PolicyProgrammer {
  private readonly mirror: KvMirror<PolicyValue>;
  private maps?: Record<keyof typeof POLICY_MAP_NAMES, PinnedMap>;
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private stopped = false;
  endpoints = 0;
  rules = 0;
  errors = 0;

  constructor(
    nats: NatsClient,
    private readonly config: PolicyProgrammerConfig,
    private readonly logger: Logger,
  ) {
    this.mirror = new KvMirror<PolicyValue>(nats, {
      bucket: BUCKETS.policy,
      decode: (key, bytes) => {
        if (key === POLICY_GENERATION_KEY) return { kind: 'other' };
        const { kind } = parsePolicyKey(key);
        if (kind === 'address') return { kind, value: addressEntryCodec.decode(bytes) };
        if (kind === 'policy') return { kind, value: identityPolicyCodec.decode(bytes) };
        return { kind: 'other' };
      },
      logger,
    });
    this.mirror.onChange(() => this.schedule());
  }

  /** Attaches the programs (after the load balancer's) and starts following tendril-policy. */
  async start(): Promise<void> {
    installPrograms({ objectPath: this.config.policyObjectPath, pinRoot: this.config.pinPath, cgroupPath: this.config.cgroupPath });
    const open = (name: string) => PinnedMap.open(join(this.config.pinPath, name));
    this.maps = { endpoints: open(POLICY_MAP_NAMES.endpoints), ipcache4: open(POLICY_MAP_NAMES.ipcache4), allow: open(POLICY_MAP_NAMES.allow), deny: open(POLICY_MAP_NAMES.deny) };
    this.logger.log(`network policy programs attached to ${this.config.cgroupPath}`);
    await this.mirror.start();
    this.sync();
    if (this.config.rescanMs > 0) {
      this.timer = setInterval(() => this.sync(), this.config.rescanMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.mirror.stop();
    for (const map of Object.values(this.maps ?? {})) map.close();
  }

  private schedule(): void {
    if (this.pending || this.stopped || !this.mirror.isInitiallySynced) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.sync();
    }, 20);
  }

  /** Makes the maps equal to the plan for what tendril-policy holds and the cgroups found now. */
  sync(): void {
    if (!this.maps || this.stopped) return;
    try {
      const addresses: AddressEntryValue[] = [];
      const policies: IdentityPolicyValue[] = [];
      for (const [, entry] of this.mirror.values()) {
        if (entry.kind === 'address') addresses.push(entry.value);
        else if (entry.kind === 'policy') policies.push(entry.value);
      }
      const local = new Map<string, number>();
      for (const address of addresses) if (address.uid && address.node === this.config.nodeName) local.set(address.uid, address.identity);
      const workloads = new Map<bigint, number>();
      for (const [uid, paths] of podCgroups(this.config.cgroupPath, new Set(local.keys()))) {
        for (const path of paths) {
          try {
            workloads.set(BigInt(statSync(path).ino), local.get(uid)!);
          } catch {
            // removed meanwhile
          }
        }
      }
      this.apply(planPolicyMaps(addresses, policies, workloads, this.config.nodeName));
    } catch (error) {
      this.errors++;
      this.logger.error(`programming network policy failed: ${(error as Error).message}`);
    }
  }

  private apply(plan: PolicyMapPlan): void {
    const maps = this.maps!;
    const hex = (key: Buffer) => key.toString('hex');
    const endpoints = new Map([...plan.endpoints].map(([cgroupId, value]) => [hex(policyEndpointCodec.key(cgroupId)), [policyEndpointCodec.key(cgroupId), value] as const]));
    const allow = new Map([...plan.allow].map(([key, buffer]) => [key, [buffer, Buffer.alloc(4)] as const]));
    const deny = new Map([...plan.deny].map(([key, buffer]) => [key, [buffer, Buffer.alloc(4)] as const]));
    const ipcache = plan.ipcache;
    const targets = [
      [maps.ipcache4, ipcache],
      [maps.allow, allow],
      [maps.deny, deny],
      [maps.endpoints, endpoints],
    ] as const;
    // puts: what a rule needs before the endpoint entry that turns enforcement on
    for (const [map, desired] of targets) {
      const held = new Map(map.entries().map(([key, value]) => [hex(key), value]));
      for (const [key, [keyBytes, value]] of desired) {
        const current = held.get(key);
        // rule values are hit counters: an existing rule is left alone
        if (!current || (map !== maps.allow && map !== maps.deny && !current.equals(value))) map.update(keyBytes, value);
      }
    }
    // deletes: endpoints first
    for (const [map, desired] of [...targets].reverse()) {
      for (const key of map.keys()) if (!desired.has(hex(key))) map.delete(key);
    }
    this.endpoints = endpoints.size;
    this.rules = allow.size + deny.size;
  }
}
