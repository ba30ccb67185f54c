/**
 * One incremental (delta) xDS stream as a pure state machine: DeltaDiscoveryRequests and snapshots in,
 * DeltaDiscoveryResponses and ACK/NACK events out. Per type URL it tracks the subscription (wildcard
 * and/or names), the version of each resource the client holds (as far as the server knows), the
 * responses awaiting an ACK, and the versions the client rejected.
 *
 * Rules, after the xDS protocol docs ("Incremental xDS"):
 * - A resource's version is its content hash; a response carries only resources whose version differs
 *   from what the client holds, and names the client holds that are gone in removed_resources.
 * - initial_resource_versions (first request of a type on a stream, e.g. after a reconnect) says what
 *   the client already holds: unchanged resources are not sent again, vanished ones are removed.
 * - The first request of LDS or CDS naming nothing is a (legacy) wildcard; "*" subscribes to
 *   everything, unsubscribing "*" ends it. Subscribing to a name again resends it.
 * - A NACK (error_detail) leaves the client on its previous versions: the rejected versions are not
 *   sent again until the resource changes.
 * - No empty responses. Removals wait until the stream has no response awaiting an ACK, so that what
 *   replaced a resource is in place before it goes (make before break); they go out referrers first.
 */
import type { AdsEvent, NackRecord } from './ads-stream.js';
import { rejectedResources } from './rejected.js';
import { REMOVAL_ORDER_URLS, type SnapshotResource, type XdsSnapshot } from './snapshot.js';
import { type Subscription, TypedStreamState, asksForWildcard, wants } from './subscriptions.js';

export interface DeltaRequest {
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail?: { code: number; message: string } | null;
  node?: { id: string; cluster: string } | null;
}

export interface DeltaResponse {
  typeUrl: string;
  /** Debugging aid only (the protocol says so): `<generation>.<nonce>`, unique per response. */
  systemVersionInfo: string;
  nonce: string;
  /** Added or changed resources; each one's version is its hash. */
  resources: SnapshotResource[];
  removedResources: string[];
}

export interface DeltaStep {
  responses: DeltaResponse[];
  events: AdsEvent[];
}

export interface DeltaTypeState {
  typeUrl: string;
  versionAcked: string;
  lastNonce: string;
  /** Explicit names; empty = wildcard alone; a wildcard with names too lists "*" first. */
  subscribed: string[];
  /**
   * The last NACK; an ACK of a later response clears it unless resources it rejected are still
   * rejected (not sent again since), and then it names only those.
   */
  lastNack: NackRecord | null;
  /** Some response is neither ACKed nor NACKed yet. */
  awaitingAck: boolean;
}

interface Pending {
  systemVersion: string;
  /** Names sent in the response, with what the client held before (undefined = nothing). */
  previous: Map<string, string | undefined>;
  sent: Map<string, string>;
}

interface TypeState extends Subscription {
  /** name -> version the client holds (optimistic: updated when sent, rolled back on NACK). */
  known: Map<string, string>;
  /** name -> version the client rejected; not sent again while the resource keeps that version. */
  rejected: Map<string, string>;
  pending: Map<string, Pending>;
  /** Names to look at when removals are allowed again. */
  removalsDue: Set<string>;
  versionAcked: string;
  lastNonce: string;
  lastNack: NackRecord | null;
}

export class DeltaStreamState extends TypedStreamState<TypeState> {
  protected awaiting(state: TypeState): boolean {
    return state.pending.size > 0;
  }

  handleRequest(request: DeltaRequest, snapshot: XdsSnapshot | undefined): DeltaStep {
    const accepted = this.accept(request, () => ({ wildcard: false, names: new Set(), known: new Map(), rejected: new Map(), pending: new Map(), removalsDue: new Set(), versionAcked: '', lastNonce: '', lastNack: null }));
    const step: DeltaStep = { responses: [], events: [] };
    if (!accepted) return step;
    const { typeUrl, state, first } = accepted;
    if (request.responseNonce !== '') this.answer(state, typeUrl, request, step);

    // Subscription changes; `look` collects the names whose state may now call for a response.
    const look = new Set<string>();
    let everything = false;
    if (first) {
      for (const [name, version] of Object.entries(request.initialResourceVersions ?? {})) {
        state.known.set(name, version);
        look.add(name);
      }
    }
    const subscribe = new Set(request.resourceNamesSubscribe);
    if (asksForWildcard(subscribe, first, typeUrl)) {
      if (!state.wildcard) everything = true;
      state.wildcard = true;
    }
    for (const name of subscribe) {
      state.names.add(name);
      // A subscription asks for the resource now, unless the client just said which version it holds.
      if (!(first && name in (request.initialResourceVersions ?? {}))) state.known.delete(name);
      state.rejected.delete(name);
      look.add(name);
    }
    for (const name of request.resourceNamesUnsubscribe) {
      if (name === '*') {
        state.wildcard = false;
        for (const held of state.known.keys()) if (!state.names.has(held)) this.forget(state, held);
        continue;
      }
      state.names.delete(name);
      if (!state.wildcard) this.forget(state, name);
    }
    if (!snapshot) return step;
    const names = everything ? this.everyName(state, typeUrl, snapshot) : look;
    // Removals never ride with a request's answer: they follow once what it added is ACKed.
    const response = this.diff(state, typeUrl, snapshot, names, false);
    if (response) step.responses.push(response);
    if (!this.awaitingAck) step.responses.push(...this.flushRemovals(snapshot));
    return step;
  }

  /** Responses a new snapshot calls for: additions in push order, removals once nothing awaits an ACK. */
  handleSnapshot(snapshot: XdsSnapshot): DeltaResponse[] {
    const out: DeltaResponse[] = [];
    const removalsAllowed = !this.awaitingAck;
    for (const typeUrl of this.typeUrlsIn()) {
      const state = this.types.get(typeUrl)!;
      const changed = snapshot.changedNames(typeUrl);
      const names = changed ?? this.everyName(state, typeUrl, snapshot);
      const response = this.diff(state, typeUrl, snapshot, names, false);
      if (response) out.push(response);
    }
    // With nothing in flight before this snapshot and nothing added by it, removals can go now.
    if (removalsAllowed && out.length === 0) out.push(...this.flushRemovals(snapshot));
    return out;
  }

  typeStates(): DeltaTypeState[] {
    return this.typesForReport().map(([typeUrl, state]) => ({
      typeUrl,
      versionAcked: state.versionAcked,
      lastNonce: state.lastNonce,
      subscribed: state.wildcard && state.names.size === 0 ? [] : [...(state.wildcard ? ['*'] : []), ...[...state.names].sort()],
      lastNack: state.lastNack,
      awaitingAck: state.pending.size > 0,
    }));
  }

  private answer(state: TypeState, typeUrl: string, request: DeltaRequest, step: DeltaStep): void {
    const pending = state.pending.get(request.responseNonce);
    if (!pending) return; // not ours, or answered already
    state.pending.delete(request.responseNonce);
    if (request.errorDetail) {
      // The client keeps what it had before this response.
      for (const [name, before] of pending.previous) {
        if (state.known.get(name) !== pending.sent.get(name)) continue; // overtaken by a later response
        const rejected = pending.sent.get(name);
        if (rejected !== undefined) state.rejected.set(name, rejected);
        if (before === undefined) state.known.delete(name);
        else state.known.set(name, before);
      }
      const error = request.errorDetail.message;
      const resources = rejectedResources(pending.sent.keys(), error);
      state.lastNack = { version: pending.systemVersion, nonce: request.responseNonce, error, resources };
      step.events.push({ event: 'nack', typeUrl, version: pending.systemVersion, nonce: request.responseNonce, error, resources });
    } else {
      for (const name of pending.sent.keys()) state.rejected.delete(name);
      state.versionAcked = pending.systemVersion;
      // Delta ACKs only what the response carried: a rejection of something else still stands.
      const still = state.lastNack?.resources.filter((name) => state.rejected.has(name)) ?? [];
      state.lastNack = still.length > 0 ? { ...state.lastNack!, resources: still } : null;
      step.events.push({ event: 'ack', typeUrl, version: pending.systemVersion, nonce: request.responseNonce });
    }
  }

  private forget(state: TypeState, name: string): void {
    state.known.delete(name);
    state.rejected.delete(name);
    state.removalsDue.delete(name);
  }

  private everyName(state: TypeState, typeUrl: string, snapshot: XdsSnapshot): Set<string> {
    const names = new Set<string>([...state.names, ...state.known.keys()]);
    if (state.wildcard) for (const name of snapshot.visible(typeUrl, this.node).keys()) names.add(name);
    return names;
  }

  /** Compares what the client holds of `names` with the snapshot; removals only if allowed, else remembered. */
  private diff(state: TypeState, typeUrl: string, snapshot: XdsSnapshot, names: Iterable<string>, removalsAllowed: boolean): DeltaResponse | undefined {
    const resources: SnapshotResource[] = [];
    const removed: string[] = [];
    for (const name of names) {
      if (!wants(state, name)) continue;
      const resource = snapshot.get(typeUrl, name, this.node);
      const held = state.known.get(name);
      if (resource) {
        state.removalsDue.delete(name);
        if (held !== resource.hash && state.rejected.get(name) !== resource.hash) resources.push(resource);
      } else if (held !== undefined && held !== ABSENT) {
        if (removalsAllowed) removed.push(name);
        else state.removalsDue.add(name);
      } else if (held === undefined && state.names.has(name)) {
        // A named subscription to a resource that does not exist: the protocol's "does not exist" is
        // its name in removed_resources, said once (known as ABSENT until it appears or is resubscribed).
        removed.push(name);
      }
    }
    return this.respond(state, typeUrl, resources, removed, snapshot.generation);
  }

  private flushRemovals(snapshot: XdsSnapshot): DeltaResponse[] {
    const out: DeltaResponse[] = [];
    for (const typeUrl of this.typeUrlsIn(REMOVAL_ORDER_URLS)) {
      const state = this.types.get(typeUrl)!;
      if (state.removalsDue.size === 0) continue;
      const removed = [...state.removalsDue].filter((name) => {
        const held = state.known.get(name);
        return wants(state, name) && held !== undefined && held !== ABSENT && !snapshot.get(typeUrl, name, this.node);
      });
      state.removalsDue.clear();
      const response = this.respond(state, typeUrl, [], removed, snapshot.generation);
      if (response) out.push(response);
    }
    return out;
  }

  private respond(state: TypeState, typeUrl: string, resources: SnapshotResource[], removed: string[], generation: number): DeltaResponse | undefined {
    const removedResources = removed;
    if (resources.length === 0 && removedResources.length === 0) return undefined;
    resources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    removedResources.sort();
    const previous = new Map<string, string | undefined>();
    const sent = new Map<string, string>();
    for (const resource of resources) {
      previous.set(resource.name, realVersion(state.known.get(resource.name)));
      sent.set(resource.name, resource.hash);
      state.known.set(resource.name, resource.hash);
    }
    for (const name of removedResources) {
      previous.set(name, realVersion(state.known.get(name)));
      state.rejected.delete(name); // gone: nothing of it is rejected any more
      // An explicitly subscribed name stays known as absent, so "does not exist" is said once.
      if (state.names.has(name)) state.known.set(name, ABSENT);
      else state.known.delete(name);
    }
    // Per-resource versions carry the meaning; a content hash here would cost O(all) per response.
    const nonce = this.nextNonce();
    const systemVersionInfo = `${generation}.${nonce}`;
    state.pending.set(nonce, { systemVersion: systemVersionInfo, previous, sent });
    state.lastNonce = nonce;
    return { typeUrl, systemVersionInfo, nonce, resources, removedResources };
  }
}

/** Marks a subscribed name the client was told does not exist. */
const ABSENT = '\u0000absent';

function realVersion(version: string | undefined): string | undefined {
  return version === ABSENT ? undefined : version;
}
