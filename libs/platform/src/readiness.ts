/** Named readiness checks; a service is ready when every check is. */
export interface ReadinessState {
  ok: boolean;
  reason: string;
}

export class ReadinessCheck {
  private state: ReadinessState;
  constructor(
    readonly name: string,
    initialReason: string,
    private readonly onChange: () => void,
  ) {
    this.state = { ok: false, reason: initialReason };
  }
  get ok(): boolean {
    return this.state.ok;
  }
  pass(reason = 'ok'): void {
    this.set({ ok: true, reason });
  }
  fail(reason: string): void {
    this.set({ ok: false, reason });
  }
  private set(state: ReadinessState): void {
    if (state.ok === this.state.ok && state.reason === this.state.reason) return;
    this.state = state;
    this.onChange();
  }
  snapshot(): ReadinessState {
    return { ...this.state };
  }
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly listeners = new Set<(ready: boolean) => void>();

  /** Adds a check that starts failing with the given reason. */
  register(name: string, initialReason: string): ReadinessCheck {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" registered twice`);
    const check = new ReadinessCheck(name, initialReason, () => this.notify());
    this.checks.set(name, check);
    return check;
  }

  get ready(): boolean {
    return [...this.checks.values()].every((check) => check.ok);
  }

  /** The first failing check's reason, or 'ready'. */
  get reason(): string {
    const failing = [...this.checks.values()].find((check) => !check.ok);
    return failing ? `${failing.name}: ${failing.snapshot().reason}` : 'ready';
  }

  snapshot(): Record<string, ReadinessState> {
    return Object.fromEntries([...this.checks].map(([name, check]) => [name, check.snapshot()]));
  }

  onChange(listener: (ready: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    const ready = this.ready;
    for (const listener of this.listeners) listener(ready);
  }
}
