/**
 * Node proxy ports. The socket load balancer sends redirected connections to 127.0.0.1:<port>, so each
 * listener that must know which service was dialled needs a port of its own: the first port for the
 * shared Ingress, a stable pick above it for every other listener (by a hash of its name), skipping
 * the ports hand-written listeners bind (reserve()).
 */
import type { PortAllocator } from '../context.js';
import { featureState } from '../feature-state.js';
import { fnv1a } from './stable-hash.js';

/** One pick, in the order they were asked for, with the feature that asked (patch/ replays them). */
export interface PortPick {
  name: string;
  phase: string;
  /** Undefined when the range was full. */
  port: number | undefined;
}

/** The node-proxy port picks of the last full pass, in order (kept by translate()). */
export const PROXY_PORTS_STATE = featureState<ProxyPorts>('proxy-ports');

export class ProxyPorts implements PortAllocator {
  private readonly byName = new Map<string, number>();
  private readonly used = new Set<number>();
  /** Slots hand-written listeners hold (reserve()). */
  private readonly reserved = new Set<number>();
  /** Every pick, in order (the first ask of each name). */
  readonly picks: PortPick[] = [];
  /** The feature asking now (set by translate() before each feature builds). */
  phase = '';

  constructor(
    private readonly first: number,
    private readonly count: number,
  ) {}

  /**
   * Keeps a port that a hand-written listener (CiliumEnvoyConfig) binds out of the picks, so no
   * generated listener gets it. Ports outside the picked range (the shared port included) are left.
   */
  reserve(port: number): void {
    const slot = port - this.first - 1;
    if (Number.isInteger(slot) && slot >= 0 && slot < this.count - 1) {
      this.used.add(slot);
      this.reserved.add(slot);
    }
  }

  /** The first port, for the shared Ingress listener. */
  shared(): number {
    return this.first;
  }

  /** A port of its own for this listener name, or undefined when the range is full. */
  portFor(name: string): number | undefined {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    const port = this.pick(name, this.used);
    this.picks.push({ name, phase: this.phase, port });
    if (port !== undefined) this.byName.set(name, port);
    return port;
  }

  private pick(name: string, used: Set<number>): number | undefined {
    const slots = this.count - 1;
    if (slots < 1 || used.size >= slots) return undefined;
    let slot = fnv1a(name) % slots;
    while (used.has(slot)) slot = (slot + 1) % slots;
    used.add(slot);
    return this.first + 1 + slot;
  }

  /**
   * The picks again with `picks` asked instead (the same names in the same order, one more or one
   * less): the port each name would get. patch/ takes a change only when no other name's port moves.
   */
  replay(picks: readonly Pick<PortPick, 'name'>[]): Map<string, number | undefined> {
    const used = new Set(this.reserved);
    return new Map(picks.map(({ name }) => [name, this.pick(name, used)] as const));
  }

  /** The port picked for `name`, if it was. */
  known(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** Adopts `picks` (from replay()) as what was picked. */
  adopt(picks: PortPick[]): void {
    this.byName.clear();
    this.used.clear();
    for (const slot of this.reserved) this.used.add(slot);
    this.picks.length = 0;
    for (const pick of picks) {
      this.picks.push(pick);
      if (pick.port !== undefined) {
        this.byName.set(pick.name, pick.port);
        this.used.add(pick.port - this.first - 1);
      }
    }
  }
}

/**
 * The picks of one feature made again by its own code alone (patch/): names picked before keep their
 * port; a new name gets the port it would get with this feature's names in place of its old ones.
 * verify() says whether every pick, this feature's and the others', comes out as the full pass would
 * make it, and answers the picks to adopt.
 */
export class PhasePorts implements PortAllocator {
  private readonly asked: string[] = [];
  private readonly answered = new Map<string, number | undefined>();

  constructor(
    private readonly kept: ProxyPorts,
    private readonly phase: string,
    /** Whether a phase runs before this one (the full pass asks in feature order). */
    private readonly before: (phase: string) => boolean,
  ) {}

  shared(): number {
    return this.kept.shared();
  }

  reserve(): void {
    throw new Error('ports are reserved by the full pass only');
  }

  portFor(name: string): number | undefined {
    if (this.answered.has(name)) return this.answered.get(name);
    this.asked.push(name);
    const port = this.kept.known(name) ?? this.kept.replay(this.picks()).get(name);
    this.answered.set(name, port);
    return port;
  }

  /** The picks in full-pass order with this phase's names as asked now. */
  private picks(): PortPick[] {
    const others = this.kept.picks.filter((pick) => pick.phase !== this.phase);
    const at = others.findIndex((pick) => !this.before(pick.phase));
    const mine = this.asked.map((name) => ({ name, phase: this.phase, port: undefined }));
    return at < 0 ? [...others, ...mine] : [...others.slice(0, at), ...mine, ...others.slice(at)];
  }

  /** The picks to adopt when every port comes out as answered and as kept; undefined otherwise. */
  verify(): PortPick[] | undefined {
    const before = this.kept.picks.filter((pick) => pick.phase === this.phase);
    if (before.length === this.asked.length && before.every((pick, i) => pick.name === this.asked[i])) return this.kept.picks; // the same names: nothing moves
    const picks = this.picks();
    const replayed = this.kept.replay(picks);
    for (const pick of picks) {
      const port = replayed.get(pick.name);
      const expected = pick.phase === this.phase ? this.answered.get(pick.name) : this.kept.known(pick.name);
      if (port !== expected) return undefined;
    }
    return picks.map((pick) => ({ ...pick, port: replayed.get(pick.name) }));
  }
}
