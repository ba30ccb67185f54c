/**
 * One ADS stream (state of the world) as a pure state machine: requests and snapshots in, responses
 * and ACK/NACK events out. Per type URL it tracks the subscription (wildcard or names), the last
 * response (version, nonce, what it held), and what the proxy ACKed or NACKed.
 *
 * Rules, after the xDS protocol docs and go-control-plane:
 * - A request whose response_nonce is not the last nonce sent on its type is stale and ignored.
 * - A request with the last nonce and no error_detail ACKs that response; with error_detail it NACKs
 *   it: the proxy keeps its last good version, we record the error and never resend the same content
 *   until something changes.
 * - A push happens only when what a stream subscribed to changed (its content hash, the version).
 * - On a snapshot change, types go out in PUSH_ORDER, and a resource leaving the snapshot stays in the
 *   responses while any response of the stream awaits its ACK; once all are answered, a last round
 *   (referrers first) drops it: make before break, a route never names a cluster the proxy lacks.
 * - Only the names a snapshot changed are looked at when it says which (XdsSnapshot.apply). LDS and
 *   CDS responses hold the full state; for RDS, EDS and SDS, where a resource left out of a response
 *   is not removed (the xDS docs), a snapshot's push holds only the resources that changed.
 */
import { rejectedResources } from './rejected.js';
import { FULL_STATE_TYPE_URLS, REMOVAL_ORDER_URLS, type SnapshotResource, type XdsSnapshot, versionOf } from './snapshot.js';
import { type Subscription, TypedStreamState, asksForWildcard, wants } from './subscriptions.js';

export interface AdsRequest {
  typeUrl: string;
  versionInfo: string;
  resourceNames: string[];
  responseNonce: string;
  errorDetail?: { code: number; message: string } | null;
  node?: { id: string; cluster: string } | null;
}

export interface AdsResponse {
  typeUrl: string;
  versionInfo: string;
  nonce: string;
  resources: SnapshotResource[];
}

export interface AdsEvent {
  event: 'ack' | 'nack';
  typeUrl: string;
  version: string;
  nonce: string;
  error?: string;
  /** NACK only: the names of the resources it rejected (see NackRecord.resources). */
  resources?: string[];
}

/** A proxy's last NACK of a type: the shape of ProxyTypeState.lastNack in the contract. */
export interface NackRecord {
  version: string;
  nonce: string;
  error: string;
  /**
   * The resources rejected, by name: state of the world, those whose version the rejected response
   * changed from what the proxy last ACKed; delta, those the response carried. Narrowed to the ones
   * Envoy's message names when it names any (rejectedResources).
   */
  resources: string[];
}

export interface AdsStep {
  responses: AdsResponse[];
  events: AdsEvent[];
}

/** What the stream knows of one type; the shape of ProxyTypeState in the contract. */
export interface AdsTypeState {
  typeUrl: string;
  versionAcked: string;
  lastNonce: string;
  subscribed: string[];
  lastNack: NackRecord | null;
  /** The last response is neither ACKed nor NACKed yet. */
  awaitingAck: boolean;
}

interface TypeState extends Subscription {
  /** What the last response held, by name; undefined before the first response. */
  sent: Map<string, SnapshotResource> | undefined;
  sentVersion: string;
  lastNonce: string;
  /** The last response is neither ACKed nor NACKed yet. */
  awaiting: boolean;
  versionAcked: string;
  /** What the proxy last ACKed (the `sent` of that response, shared, not copied); empty before the first ACK. */
  acked: ReadonlyMap<string, SnapshotResource>;
  lastNack: NackRecord | null;
}

export class AdsStreamState extends TypedStreamState<TypeState> {
  protected awaiting(state: TypeState): boolean {
    return state.awaiting;
  }

  /** Handles one request; `snapshot` undefined = nothing to serve yet (subscriptions are still recorded). */
  handleRequest(request: AdsRequest, snapshot: XdsSnapshot | undefined): AdsStep {
    const accepted = this.accept(request, () => ({ wildcard: false, names: new Set(), sent: undefined, sentVersion: '', lastNonce: '', awaiting: false, versionAcked: '', acked: new Map(), lastNack: null }));
    const step: AdsStep = { responses: [], events: [] };
    if (!accepted) return step;
    const { typeUrl, state, first } = accepted;
    request = { ...request, typeUrl };
    if (request.responseNonce !== '' && request.responseNonce !== state.lastNonce) return step; // stale

    let nacked = false;
    if (request.responseNonce !== '') {
      state.awaiting = false;
      if (request.errorDetail) {
        nacked = true;
        // Envoy rejects the update as a whole; what it changed from the ACKed state is what was refused.
        const changed: string[] = [];
        for (const [name, resource] of state.sent ?? []) if (state.acked.get(name)?.hash !== resource.hash) changed.push(name);
        const error = request.errorDetail.message;
        const resources = rejectedResources(changed, error);
        state.lastNack = { version: state.sentVersion, nonce: request.responseNonce, error, resources };
        step.events.push({ event: 'nack', typeUrl: request.typeUrl, version: state.sentVersion, nonce: request.responseNonce, error, resources });
      } else {
        state.versionAcked = request.versionInfo;
        state.acked = state.sent ?? new Map(); // respond() replaces `sent` with a new map, so this one stays as ACKed
        state.lastNack = null;
        step.events.push({ event: 'ack', typeUrl: request.typeUrl, version: request.versionInfo, nonce: request.responseNonce });
      }
    }
    const changed = this.subscribe(state, request, first);
    if (!snapshot) return step;
    const target = this.target(state, typeUrl, snapshot);
    const content = this.awaitingAck ? this.keeping(state, target) : target;
    const version = versionOf(content.values());
    // A NACKed response is not repeated; an unchanged subscription with unchanged content needs nothing.
    const respond = state.sent === undefined || (changed && !(nacked && version === state.sentVersion)) || (!nacked && version !== state.sentVersion);
    if (respond) step.responses.push(this.respond(state, typeUrl, content));
    if (!this.awaitingAck) step.responses.push(...this.flushRemovals(snapshot));
    return step;
  }

  /** Responses a new snapshot calls for, in push order; removals once nothing awaits an ACK. */
  handleSnapshot(snapshot: XdsSnapshot): AdsResponse[] {
    const removalsAllowed = !this.awaitingAck;
    const out: AdsResponse[] = [];
    for (const typeUrl of this.typeUrlsIn()) {
      const state = this.types.get(typeUrl)!;
      if (state.sent !== undefined && !this.touches(state, snapshot.changedNames(typeUrl))) continue;
      const kept = this.keeping(state, this.target(state, typeUrl, snapshot));
      if (state.sent !== undefined && versionOf(kept.values()) === state.sentVersion) continue;
      const changed = snapshot.changedNames(typeUrl);
      if (state.sent === undefined || changed === undefined || FULL_STATE_TYPE_URLS.has(typeUrl) || state.lastNack) {
        out.push(this.respond(state, typeUrl, kept));
        continue;
      }
      // RDS, EDS, SDS: a resource left out of a response is not removed, so only what changed goes.
      const sent = state.sent;
      const only: SnapshotResource[] = [];
      for (const name of changed) {
        const resource = kept.get(name);
        if (resource && sent.get(name)?.hash !== resource.hash) only.push(resource);
      }
      out.push(this.respond(state, typeUrl, kept, only));
    }
    if (removalsAllowed && out.length === 0) out.push(...this.flushRemovals(snapshot));
    return out;
  }

  /** Whether a snapshot's changes (undefined = unknown) can matter to this subscription. */
  private touches(state: TypeState, changed: ReadonlySet<string> | undefined): boolean {
    if (changed === undefined) return true;
    if (changed.size === 0) return false;
    if (state.wildcard) return true;
    for (const name of changed) if (state.names.has(name)) return true;
    return false;
  }

  /** The target plus what was sent, is still wanted, and left the snapshot: removals wait. */
  private keeping(state: TypeState, target: Map<string, SnapshotResource>): Map<string, SnapshotResource> {
    const kept = new Map(target);
    for (const [name, resource] of state.sent ?? []) if (!kept.has(name) && wants(state, name)) kept.set(name, resource);
    return kept;
  }

  /** Full-state responses without the resources that left, referrers first. */
  private flushRemovals(snapshot: XdsSnapshot): AdsResponse[] {
    const out: AdsResponse[] = [];
    for (const typeUrl of this.typeUrlsIn(REMOVAL_ORDER_URLS)) {
      const state = this.types.get(typeUrl)!;
      if (state.sent === undefined) continue;
      const target = this.target(state, typeUrl, snapshot);
      let stale = false;
      for (const name of state.sent.keys()) if (!target.has(name) && wants(state, name)) stale = true;
      if (stale) out.push(this.respond(state, typeUrl, target));
    }
    return out;
  }

  typeStates(): AdsTypeState[] {
    return this.typesForReport().map(([typeUrl, state]) => ({
      typeUrl,
      versionAcked: state.versionAcked,
      lastNonce: state.lastNonce,
      subscribed: state.wildcard ? [] : [...state.names].sort(),
      lastNack: state.lastNack,
      awaitingAck: state.awaiting,
    }));
  }

  /** Updates the subscription; true if it changed. */
  private subscribe(state: TypeState, request: AdsRequest, first: boolean): boolean {
    const names = new Set(request.resourceNames);
    const wildcard = asksForWildcard(names, first, request.typeUrl) || (!first && state.wildcard && names.size === 0);
    const changed = wildcard !== state.wildcard || names.size !== state.names.size || [...names].some((n) => !state.names.has(n));
    state.wildcard = wildcard;
    state.names = names;
    return changed;
  }

  private target(state: TypeState, typeUrl: string, snapshot: XdsSnapshot): Map<string, SnapshotResource> {
    if (state.wildcard) return snapshot.visible(typeUrl, this.node);
    const out = new Map<string, SnapshotResource>();
    for (const name of state.names) {
      const resource = snapshot.get(typeUrl, name, this.node);
      if (resource) out.set(name, resource);
    }
    return out;
  }

  /** Sends `resources` (all of them, or `only` those for the incremental types) as the new state. */
  private respond(state: TypeState, typeUrl: string, resources: Map<string, SnapshotResource>, only?: SnapshotResource[]): AdsResponse {
    const byName = (a: SnapshotResource, b: SnapshotResource) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const sorted = (only ?? [...resources.values()]).sort(byName);
    const response: AdsResponse = { typeUrl, versionInfo: versionOf(resources.values()), nonce: this.nextNonce(), resources: sorted };
    state.sent = new Map(resources);
    state.sentVersion = response.versionInfo;
    state.lastNonce = response.nonce;
    state.awaiting = true;
    return response;
  }
}
