/**
 * Node proxy ports. The socket load balancer sends redirected connections to 127.0.0.1:<port>, so each
 * listener that must know which service was dialled needs a port of its own: the first port for the
 * shared Ingress, a stable pick above it for every other listener (by a hash of its name), skipping
 * the ports hand-written listeners bind (reserve()).
 */
import { fnv1a } from './stable-hash.js';

export class ProxyPorts {
  private readonly byName = new Map<string, number>();
  private readonly used = new Set<number>();

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
    if (Number.isInteger(slot) && slot >= 0 && slot < this.count - 1) this.used.add(slot);
  }

  /** The first port, for the shared Ingress listener. */
  shared(): number {
    return this.first;
  }

  /** A port of its own for this listener name, or undefined when the range is full. */
  portFor(name: string): number | undefined {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    const slots = this.count - 1;
    if (slots < 1 || this.used.size >= slots) return undefined;
    let slot = fnv1a(name) % slots;
    while (this.used.has(slot)) slot = (slot + 1) % slots;
    this.used.add(slot);
    const port = this.first + 1 + slot;
    this.byName.set(name, port);
    return port;
  }
}
