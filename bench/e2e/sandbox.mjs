// What one cold start of bench/e2e.mjs owns on this machine, under names no other run uses: a temporary
// folder (manifests, data), a cgroup v2 (the datapath's TENDRIL_CGROUP_PATH, the probe in a child
// cgroup of it) and a bpffs pin folder (TENDRIL_BPF_PIN_PATH). remove() is synchronous, so it also
// runs from a process 'exit' handler.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uninstallPrograms } from '@tendril/ebpf';

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on a pure v2 host). */
export function cgroup2Root() {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2') return mountPoint;
  }
  throw new Error('no cgroup2 file system is mounted: the datapath needs one');
}

export class Sandbox {
  constructor(label) {
    this.cgroupRoot = cgroup2Root();
    this.dir = mkdtempSync(join(tmpdir(), `tendril-bench-e2e-${label}-`));
    const unique = this.dir.slice(this.dir.lastIndexOf('-') + 1);
    this.manifests = join(this.dir, 'manifests');
    this.scratch = join(this.dir, 'scratch');
    this.dataDir = join(this.dir, '.data');
    for (const dir of [this.manifests, this.scratch, this.dataDir]) mkdirSync(dir);
    this.cgroup = join(this.cgroupRoot, `tendril-bench-e2e-${process.pid}-${unique}`);
    this.probeCgroup = join(this.cgroup, 'probe');
    this.pinPath = `/sys/fs/bpf/tendril-bench-e2e-${process.pid}-${unique}`;
    mkdirSync(this.cgroup);
    mkdirSync(this.probeCgroup);
  }

  /** Detaches the datapath's programs, removes its pins, the cgroups (their processes moved out) and the folder. */
  remove() {
    const problems = [];
    const attempt = (what, action) => {
      try {
        action();
      } catch (error) {
        problems.push(`${what}: ${error.message}`);
      }
    };
    attempt(`detach programs from ${this.cgroup}`, () => uninstallPrograms(this.pinPath, this.cgroup));
    attempt(`remove ${this.pinPath}`, () => rmSync(this.pinPath, { recursive: true, force: true }));
    for (const cgroup of [this.probeCgroup, this.cgroup]) attempt(`remove ${cgroup}`, () => this.removeCgroup(cgroup));
    attempt(`remove ${this.dir}`, () => rmSync(this.dir, { recursive: true, force: true }));
    return problems;
  }

  removeCgroup(cgroup) {
    if (!existsSync(cgroup)) return;
    for (const pid of readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        writeFileSync(join(this.cgroupRoot, 'cgroup.procs'), pid);
      } catch {
        // the process is gone
      }
    }
    rmdirSync(cgroup);
  }
}
