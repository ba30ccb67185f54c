/**
 * What the state-of-the-world and delta stream state machines share: per type URL, a subscription
 * (wildcard and/or names), the node the stream speaks for, which requests belong to the stream (one
 * type for the per-type services), the nonces, and the order types are looked at in.
 */
import { type NodeIdentity, WILDCARD_TYPE_URLS, rankIn } from './snapshot.js';

/** A stream's subscription to one type: everything (wildcard), named resources, or both. */
export interface Subscription {
  wildcard: boolean;
  names: Set<string>;
}

/** Whether the subscription covers this resource name. */
export function wants(subscription: Subscription, name: string): boolean {
  return subscription.wildcard || subscription.names.has(name);
}

/**
 * Whether a request's names ask for everything: "*" among them (taken out of `names`), or, on the
 * first request of LDS or CDS, no names at all (the legacy wildcard).
 */
export function asksForWildcard(names: Set<string>, first: boolean, typeUrl: string): boolean {
  return names.delete('*') || (first && names.size === 0 && WILDCARD_TYPE_URLS.has(typeUrl));
}

/** The type URLs of one stream with their state, the node it speaks for, and its nonces. */
export abstract class TypedStreamState<State extends Subscription> {
  protected readonly types = new Map<string, State>();
  private nonceCounter = 0;
  private identity: NodeIdentity | undefined;

  /**
   * `onlyType` restricts the stream to one type (the per-type services; undefined = aggregated);
   * `proven`: the connection proved the node id the stream claims, so it may be served Secrets.
   */
  constructor(
    private readonly onlyType?: string,
    private readonly proven = false,
  ) {}

  get node(): NodeIdentity | undefined {
    return this.identity;
  }

  /** True while some response has neither been ACKed nor NACKed. */
  get awaitingAck(): boolean {
    for (const state of this.types.values()) if (this.awaiting(state)) return true;
    return false;
  }

  /** Whether a response of this type is neither ACKed nor NACKed yet. */
  protected abstract awaiting(state: State): boolean;

  /**
   * Takes in a request: records the node of the first one naming it, and resolves its type (the
   * per-type services may leave it empty); undefined when the request is not for this stream. The
   * type's state is made on its first request (`first`).
   */
  protected accept(request: { typeUrl: string; node?: { id: string; cluster: string } | null }, create: () => State): { typeUrl: string; state: State; first: boolean } | undefined {
    if (request.node?.id && !this.identity) this.identity = { id: request.node.id, cluster: request.node.cluster ?? '', proven: this.proven };
    const typeUrl = request.typeUrl || this.onlyType;
    if (!typeUrl || (this.onlyType && typeUrl !== this.onlyType)) return undefined;
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (!state) {
      state = create();
      this.types.set(typeUrl, state);
    }
    return { typeUrl, state, first };
  }

  protected nextNonce(): string {
    return String(++this.nonceCounter);
  }

  /** The subscribed type URLs in an order (push order by default; the sort is stable). */
  protected typeUrlsIn(order?: readonly string[]): string[] {
    return [...this.types.keys()].sort((a, b) => rankIn(a, order) - rankIn(b, order));
  }

  /** Every type's state, in push order then by name, as the typeStates() reports list them. */
  protected typesForReport(): [string, State][] {
    return [...this.types.entries()].sort(([a], [b]) => rankIn(a) - rankIn(b) || a.localeCompare(b));
  }
}
