/**
 * The gRPC face of xDS: ADS (state of the world and delta) and the per-type services (LDS, RDS, CDS,
 * EDS, SDS, both variants) share one state machine per stream (AdsStreamState or DeltaStreamState,
 * the per-type ones restricted to their type), fed with requests and with every new snapshot; their
 * responses go out on the stream, their ACK/NACK events to the proxy recorder. The unary Fetch* RPCs
 * are not served (UNIMPLEMENTED): they would bypass the stream's state and its checks. With TLS and
 * a node check (TENDRIL_XDS_TLS_*), a stream whose node id is not an identity of its client
 * certificate ends with PERMISSION_DENIED before anything is served.
 *
 * Secrets go only to a stream whose node id is proven (the node check, or a loopback client of a
 * loopback-bound listener) and only those its node's listeners and clusters refer to (XdsSnapshot's
 * rule); any other secret a stream names is answered as absent, counted and logged.
 */
import * as grpc from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  aggregatedDiscoveryService,
  typedDiscoveryServices,
} from '@tendril/envoy';
import { shutdownGrpcServer } from '@tendril/platform';
import { XDS_TYPES } from '@tendril/contract';
import { type AdsEvent, type AdsResponse, AdsStreamState, type DeltaResponse, DeltaStreamState, type XdsSnapshot } from '@tendril/xds';
import type { XdsTlsConfig } from './config.js';
import type { ProxyRecorder } from './proxy-recorder.js';
import { deltaResponseBytes, sotwResponseBytes } from './response-wire.js';
import type { SnapshotSource } from './snapshot-source.js';
import { nodeIdRefusal, xdsServerCredentials } from './xds-tls.js';

// Responses are written as bytes (response-wire.ts); the method's serializer passes them through.
type SotwCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse | Uint8Array>;
type DeltaCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse | Uint8Array>;

interface SessionBase {
  connectedAt: string;
  closed: boolean;
  /** Secret names this stream asked for that were judged already (refusals are counted once per stream). */
  secretsJudged: Set<string>;
}
type Session = (SessionBase & { kind: 'sotw'; call: SotwCall; state: AdsStreamState }) | (SessionBase & { kind: 'delta'; call: DeltaCall; state: DeltaStreamState });

export interface AdsCounters {
  acks: number;
  nacks: number;
  /** Responses written, all streams. */
  responses: number;
  /** Secrets asked for by a node that may not have them (not proven, or not referred to by its config). */
  secretsRefused: number;
}

export class AdsServer {
  private readonly logger = new Logger('ads');
  private readonly server = new grpc.Server();
  private readonly sessions = new Set<Session>();
  readonly counters: AdsCounters = { acks: 0, nacks: 0, responses: 0, secretsRefused: 0 };
  boundPort = 0;
  /** The listener is bound on a loopback address: a loopback client of it is a local process. */
  private loopbackListener = false;

  constructor(
    private readonly source: SnapshotSource,
    private readonly recorder: ProxyRecorder,
    private readonly replica: string,
    private readonly tls?: XdsTlsConfig,
  ) {
    this.server.addService(aggregatedDiscoveryService as unknown as grpc.ServiceDefinition, {
      StreamAggregatedResources: (call: SotwCall) => this.stream(call),
      DeltaAggregatedResources: (call: DeltaCall) => this.delta(call),
    });
    for (const service of Object.values(typedDiscoveryServices)) {
      const definition = { [service.stream.originalName]: service.stream, [service.delta.originalName]: service.delta };
      this.server.addService(definition as unknown as grpc.ServiceDefinition, {
        [service.stream.originalName]: (call: SotwCall) => this.stream(call, service.typeUrl),
        [service.delta.originalName]: (call: DeltaCall) => this.delta(call, service.typeUrl),
      });
    }
    source.onSnapshot((snapshot) => this.push(snapshot));
  }

  async listen(host: string, port: number): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.loopbackListener = isLoopbackAddress(host);
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, xdsServerCredentials(this.tls), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const security = !this.tls ? 'plaintext' : this.tls.caFile ? `mTLS${this.nodeCheck ? ', node id checked against the client certificate' : ''}` : 'TLS';
    this.logger.log(`ADS listening on ${host}:${this.boundPort} (${security})`);
    return this.boundPort;
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.call.end();
    await shutdownGrpcServer(this.server, 2000);
  }

  get connected(): number {
    return [...this.sessions].filter((s) => s.state.node).length;
  }

  proxies(): { nodeId: string; nodeCluster: string; proven: boolean; connectedAt: string; types: ReturnType<AdsStreamState['typeStates']>; delta: boolean }[] {
    return [...this.sessions]
      .filter((s) => s.state.node)
      .map((s) => ({ nodeId: s.state.node!.id, nodeCluster: s.state.node!.cluster, proven: s.state.node!.proven ?? false, connectedAt: s.connectedAt, types: s.state.typeStates(), delta: s.kind === 'delta' }));
  }

  private stream(call: SotwCall, onlyType?: string): void {
    const session: Session = { kind: 'sotw', call, state: new AdsStreamState(onlyType, this.proves(call)), connectedAt: new Date().toISOString(), closed: false, secretsJudged: new Set() };
    this.open(session);
    call.on('data', (request: DiscoveryRequest) => {
      if (!this.admit(session, request.node?.id)) return;
      const knew = session.state.node !== undefined;
      const step = session.state.handleRequest(request, this.source.current);
      if ((request.typeUrl || onlyType) === XDS_TYPES.secret) this.judgeSecrets(session, request.resourceNames);
      this.after(session, knew, step.events, step.responses.length);
      this.sendSotw(session, step.responses);
    });
  }

  private delta(call: DeltaCall, onlyType?: string): void {
    const session: Session = { kind: 'delta', call, state: new DeltaStreamState(onlyType, this.proves(call)), connectedAt: new Date().toISOString(), closed: false, secretsJudged: new Set() };
    this.open(session);
    call.on('data', (request: DeltaDiscoveryRequest) => {
      if (!this.admit(session, request.node?.id)) return;
      const knew = session.state.node !== undefined;
      const step = session.state.handleRequest(request, this.source.current);
      if ((request.typeUrl || onlyType) === XDS_TYPES.secret) this.judgeSecrets(session, request.resourceNamesSubscribe);
      this.after(session, knew, step.events, step.responses.length);
      this.sendDelta(session, step.responses);
    });
  }

  /**
   * Whether the connection proves the node id its stream will claim: with the node check on, admit()
   * ends any stream whose id its client certificate does not name; else only a loopback client of a
   * loopback-bound listener (a process of this machine, for local use) counts as proven.
   */
  private proves(call: SotwCall | DeltaCall): boolean {
    if (this.nodeCheck) return true;
    if (!this.loopbackListener) return false;
    // grpc-js: `<remote address>:<remote port>` of the TCP socket (an IPv6 address without brackets)
    const remote = /^(.+):\d+$/.exec(call.getPeer())?.[1];
    return remote !== undefined && isLoopbackAddress(remote);
  }

  /** Counts and logs, once per stream, each secret name asked for that this node may not have. */
  private judgeSecrets(session: Session, names: string[]): void {
    const snapshot = this.source.current;
    const node = session.state.node;
    if (!snapshot || !node) return;
    for (const name of names) {
      if (name === '*' || session.secretsJudged.has(name)) continue;
      session.secretsJudged.add(name);
      const refusal = snapshot.secretRefusal(name, node);
      if (!refusal) continue;
      this.counters.secretsRefused++;
      const why = refusal === 'unproven' ? 'the connection does not prove its node id (no client certificate naming it, not loopback)' : 'no listener or cluster served to it refers to it';
      this.logger.warn(`refused secret "${name}" to node "${node.id}" (${session.call.getPeer()}): ${why}; answered as not found`);
    }
  }

  private get nodeCheck(): boolean {
    return this.tls?.caFile !== undefined && this.tls.nodeCheck;
  }

  /** With the node check on: the first node id a stream claims must be one its certificate vouches for. */
  private admit(session: Session, nodeId: string | undefined): boolean {
    if (session.closed) return false;
    if (!this.nodeCheck || session.state.node) return true;
    const refusal = nodeId ? nodeIdRefusal(nodeId, session.call.getAuthContext().sslPeerCertificate) : 'the first request carries no node id to check';
    if (refusal === undefined) return true;
    this.logger.warn(`refused a stream from ${session.call.getPeer()}: ${refusal}`);
    this.closeSession(session);
    session.call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: refusal });
    return false;
  }

  private open(session: Session): void {
    this.sessions.add(session);
    const close = () => this.closeSession(session);
    session.call.on('end', () => {
      close();
      session.call.end();
    });
    session.call.on('error', close);
    session.call.on('cancelled', close);
    session.call.on('close', close);
  }

  /** Connect, ACK and NACK bookkeeping after a request. */
  private after(session: Session, knew: boolean, events: AdsEvent[], responses: number): void {
    const node = session.state.node;
    if (!node) return;
    if (!knew) {
      this.logger.log(`proxy ${node.id} (${node.cluster || 'no cluster'}) connected (${session.kind === 'delta' ? 'delta' : 'state of the world'})`);
      this.recorder.event({ event: 'connect', nodeId: node.id });
    }
    for (const event of events) {
      if (event.event === 'ack') this.counters.acks++;
      else {
        this.counters.nacks++;
        this.logger.warn(`proxy ${node.id} NACKed ${event.typeUrl} version ${event.version} (${event.resources?.join(', ') || 'no resource named'}): ${event.error}`);
      }
      this.recorder.event({ nodeId: node.id, ...event });
    }
    if (!knew || events.length > 0 || responses > 0) this.record(session, true);
  }

  private push(snapshot: XdsSnapshot): void {
    for (const session of this.sessions) {
      if (session.closed) continue;
      let count: number;
      if (session.kind === 'sotw') {
        const responses = session.state.handleSnapshot(snapshot);
        this.sendSotw(session, responses);
        count = responses.length;
      } else {
        const responses = session.state.handleSnapshot(snapshot);
        this.sendDelta(session, responses);
        count = responses.length;
      }
      if (count > 0 && session.state.node) this.record(session, true);
    }
  }

  private sendSotw(session: Session & { kind: 'sotw' }, responses: AdsResponse[]): void {
    for (const response of responses) {
      if (session.closed) return;
      this.counters.responses++;
      session.call.write(sotwResponseBytes(response, this.replica));
    }
  }

  private sendDelta(session: Session & { kind: 'delta' }, responses: DeltaResponse[]): void {
    for (const response of responses) {
      if (session.closed) return;
      this.counters.responses++;
      session.call.write(deltaResponseBytes(response, this.replica));
    }
  }

  private closeSession(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session);
    const node = session.state.node;
    if (!node) return;
    this.logger.log(`proxy ${node.id} disconnected`);
    this.recorder.event({ event: 'disconnect', nodeId: node.id });
    this.record(session, false);
  }

  private record(session: Session, connected: boolean): void {
    const node = session.state.node!;
    // Read when the write happens: a burst of ACKs costs one snapshot of the stream's state, not one each.
    this.recorder.state(node.id, () => ({ nodeId: node.id, nodeCluster: node.cluster, connectedAt: session.connectedAt, connected, types: session.state.typeStates() }));
  }
}

/** 127.0.0.0/8, ::1, IPv4-mapped loopback, or the name localhost. */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(bare);
}
