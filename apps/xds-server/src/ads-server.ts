/**
 * The gRPC face of ADS: one AdsStreamState per stream, fed with requests and with every new snapshot;
 * its responses go out on the stream, its ACK/NACK events to the proxy recorder.
 */
import * as grpc from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { type DiscoveryRequest, type DiscoveryResponse, aggregatedDiscoveryService } from '@tendril/envoy';
import { type AdsResponse, AdsStreamState, type XdsSnapshot } from '@tendril/xds';
import type { ProxyRecorder } from './proxy-recorder.js';
import type { SnapshotSource } from './snapshot-source.js';

interface Session {
  call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  state: AdsStreamState;
  connectedAt: string;
  closed: boolean;
}

export interface AdsCounters {
  acks: number;
  nacks: number;
}

export class AdsServer {
  private readonly logger = new Logger('ads');
  private readonly server = new grpc.Server();
  private readonly sessions = new Set<Session>();
  readonly counters: AdsCounters = { acks: 0, nacks: 0 };
  boundPort = 0;

  constructor(
    private readonly source: SnapshotSource,
    private readonly recorder: ProxyRecorder,
    private readonly replica: string,
  ) {
    this.server.addService(aggregatedDiscoveryService as unknown as grpc.ServiceDefinition, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => this.stream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'delta xDS is not implemented; use StreamAggregatedResources' }),
    });
    source.onSnapshot((snapshot) => this.push(snapshot));
  }

  async listen(host: string, port: number): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    this.logger.log(`ADS listening on ${host}:${this.boundPort}`);
    return this.boundPort;
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.call.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  get connected(): number {
    return [...this.sessions].filter((s) => s.state.node).length;
  }

  proxies(): { nodeId: string; nodeCluster: string; connectedAt: string; types: ReturnType<AdsStreamState['typeStates']> }[] {
    return [...this.sessions]
      .filter((s) => s.state.node)
      .map((s) => ({ nodeId: s.state.node!.id, nodeCluster: s.state.node!.cluster, connectedAt: s.connectedAt, types: s.state.typeStates() }));
  }

  private stream(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    const session: Session = { call, state: new AdsStreamState(), connectedAt: new Date().toISOString(), closed: false };
    this.sessions.add(session);
    call.on('data', (request: DiscoveryRequest) => this.request(session, request));
    const close = () => this.closeSession(session);
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
  }

  private request(session: Session, request: DiscoveryRequest): void {
    const knew = session.state.node !== undefined;
    const step = session.state.handleRequest(request, this.source.current);
    const node = session.state.node;
    if (!node) return;
    if (!knew) {
      this.logger.log(`proxy ${node.id} (${node.cluster || 'no cluster'}) connected`);
      this.recorder.event({ event: 'connect', nodeId: node.id });
    }
    for (const event of step.events) {
      if (event.event === 'ack') this.counters.acks++;
      else {
        this.counters.nacks++;
        this.logger.warn(`proxy ${node.id} NACKed ${event.typeUrl} version ${event.version}: ${event.error}`);
      }
      this.recorder.event({ nodeId: node.id, ...event });
    }
    this.send(session, step.responses);
    if (!knew || step.events.length > 0 || step.responses.length > 0) this.record(session, true);
  }

  private push(snapshot: XdsSnapshot): void {
    for (const session of this.sessions) {
      if (session.closed) continue;
      const responses = session.state.handleSnapshot(snapshot);
      this.send(session, responses);
      if (responses.length > 0) this.record(session, true);
    }
  }

  private send(session: Session, responses: AdsResponse[]): void {
    for (const response of responses) {
      if (session.closed) return;
      session.call.write({
        versionInfo: response.versionInfo,
        typeUrl: response.typeUrl,
        nonce: response.nonce,
        resources: response.resources.map((r) => ({ typeUrl: r.typeUrl, value: r.bytes })),
        controlPlane: { identifier: this.replica },
      });
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
    this.recorder.state({ nodeId: node.id, nodeCluster: node.cluster, connectedAt: session.connectedAt, connected, types: session.state.typeStates() });
  }
}
