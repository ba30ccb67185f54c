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
 *   first round of responses; a second round, after every addition, removes it.
 */
import { PUSH_ORDER_URLS, type NodeIdentity, type SnapshotResource, WILDCARD_TYPE_URLS, type XdsSnapshot, versionOf } from './snapshot.js';

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
  lastNack: { version: string; nonce: string; error: string } | null;
}

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** What the last response held, by name; undefined before the first response. */
  sent: Map<string, SnapshotResource> | undefined;
  sentVersion: string;
  lastNonce: string;
  versionAcked: string;
  lastNack: { version: string; nonce: string; error: string } | null;
}

export class AdsStreamState {
  private readonly types = new Map<string, TypeState>();
  private nonceCounter = 0;
  private identity: NodeIdentity | undefined;

  get node(): NodeIdentity | undefined {
    return this.identity;
  }

  /** Handles one request; `snapshot` undefined = nothing to serve yet (subscriptions are still recorded). */
  handleRequest(request: AdsRequest, snapshot: XdsSnapshot | undefined): AdsStep {
    if (request.node?.id && !this.identity) this.identity = { id: request.node.id, cluster: request.node.cluster ?? '' };
    const step: AdsStep = { responses: [], events: [] };
    if (!request.typeUrl) return step;
    let state = this.types.get(request.typeUrl);
    const first = state === undefined;
    if (!state) {
      state = { wildcard: false, names: new Set(), sent: undefined, sentVersion: '', lastNonce: '', versionAcked: '', lastNack: null };
      this.types.set(request.typeUrl, state);
    }
    if (request.responseNonce !== '' && request.responseNonce !== state.lastNonce) return step; // stale

    let nacked = false;
    if (request.responseNonce !== '') {
      if (request.errorDetail) {
        nacked = true;
        state.lastNack = { version: state.sentVersion, nonce: request.responseNonce, error: request.errorDetail.message };
        step.events.push({ event: 'nack', typeUrl: request.typeUrl, version: state.sentVersion, nonce: request.responseNonce, error: request.errorDetail.message });
      } else {
        state.versionAcked = request.versionInfo;
        state.lastNack = null;
        step.events.push({ event: 'ack', typeUrl: request.typeUrl, version: request.versionInfo, nonce: request.responseNonce });
      }
    }
    const changed = this.subscribe(state, request, first);
    if (!snapshot) return step;
    const target = this.target(state, request.typeUrl, snapshot);
    const version = versionOf(target.values());
    // A NACKed response is not repeated; an unchanged subscription with unchanged content needs nothing.
    const respond = state.sent === undefined || (changed && !(nacked && version === state.sentVersion)) || (!nacked && version !== state.sentVersion);
    if (respond) step.responses.push(this.respond(state, request.typeUrl, target));
    return step;
  }

  /** Responses a new snapshot calls for, in push order, removals in a second round. */
  handleSnapshot(snapshot: XdsSnapshot): AdsResponse[] {
    const typeUrls = [...this.types.keys()].sort((a, b) => rank(a) - rank(b));
    const firstRound: AdsResponse[] = [];
    const secondRound: { typeUrl: string; target: Map<string, SnapshotResource> }[] = [];
    for (const typeUrl of typeUrls) {
      const state = this.types.get(typeUrl)!;
      const target = this.target(state, typeUrl, snapshot);
      const version = versionOf(target.values());
      if (state.sent !== undefined && version === state.sentVersion) continue;
      const kept = new Map(target);
      for (const [name, resource] of state.sent ?? []) if (!kept.has(name) && this.wants(state, name)) kept.set(name, resource);
      if (kept.size !== target.size) secondRound.push({ typeUrl, target });
      if (state.sent === undefined || versionOf(kept.values()) !== state.sentVersion) firstRound.push(this.respond(state, typeUrl, kept));
    }
    return [...firstRound, ...secondRound.map(({ typeUrl, target }) => this.respond(this.types.get(typeUrl)!, typeUrl, target))];
  }

  typeStates(): AdsTypeState[] {
    return [...this.types.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([typeUrl, state]) => ({
        typeUrl,
        versionAcked: state.versionAcked,
        lastNonce: state.lastNonce,
        subscribed: state.wildcard ? [] : [...state.names].sort(),
        lastNack: state.lastNack,
      }));
  }

  /** Updates the subscription; true if it changed. */
  private subscribe(state: TypeState, request: AdsRequest, first: boolean): boolean {
    const names = new Set(request.resourceNames);
    let wildcard: boolean;
    if (names.delete('*')) wildcard = true;
    else if (first) wildcard = names.size === 0 && WILDCARD_TYPE_URLS.has(request.typeUrl);
    else wildcard = state.wildcard && names.size === 0;
    const changed = wildcard !== state.wildcard || names.size !== state.names.size || [...names].some((n) => !state.names.has(n));
    state.wildcard = wildcard;
    state.names = names;
    return changed;
  }

  private wants(state: TypeState, name: string): boolean {
    return state.wildcard || state.names.has(name);
  }

  private target(state: TypeState, typeUrl: string, snapshot: XdsSnapshot): Map<string, SnapshotResource> {
    const visible = snapshot.visible(typeUrl, this.identity);
    if (state.wildcard) return visible;
    const out = new Map<string, SnapshotResource>();
    for (const name of [...state.names].sort()) {
      const resource = visible.get(name);
      if (resource) out.set(name, resource);
    }
    return out;
  }

  private respond(state: TypeState, typeUrl: string, resources: Map<string, SnapshotResource>): AdsResponse {
    const sorted = [...resources.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const response: AdsResponse = { typeUrl, versionInfo: versionOf(sorted), nonce: String(++this.nonceCounter), resources: sorted };
    state.sent = new Map(sorted.map((r) => [r.name, r]));
    state.sentVersion = response.versionInfo;
    state.lastNonce = response.nonce;
    return response;
  }
}

function rank(typeUrl: string): number {
  const index = PUSH_ORDER_URLS.indexOf(typeUrl);
  return index < 0 ? PUSH_ORDER_URLS.length : index;
}
