#!/usr/bin/env node
// Removes what the datapath leaves in the kernel on purpose (so traffic survives an agent restart):
// detaches its programs from the cgroup and its north-south tc programs from their interfaces (their
// pinned links), and removes its pinned programs and maps.
// Run: npm run datapath:uninstall   (honours TENDRIL_BPF_PIN_PATH and TENDRIL_CGROUP_PATH)
import { rmSync } from 'node:fs';
import { uninstallPrograms, uninstallTcPrograms } from '@tendril/ebpf';

const pinRoot = process.env.TENDRIL_BPF_PIN_PATH || '/sys/fs/bpf/tendril';
const cgroup = process.env.TENDRIL_CGROUP_PATH || '/sys/fs/cgroup/unified';
const removed = uninstallPrograms(pinRoot, cgroup);
const tc = uninstallTcPrograms(pinRoot);
rmSync(pinRoot, { recursive: true, force: true });
console.log(`detached ${removed.length} programs from ${cgroup}${tc.length ? ` and ${tc.length} tc programs (${tc.join(', ')})` : ''}; removed ${pinRoot}`);
