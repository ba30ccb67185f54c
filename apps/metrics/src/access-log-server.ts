/**
 * Envoy's access log service over gRPC (envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs).
 * Each message is decoded here, not by grpc-js, so one that does not decode is counted and dropped
 * while the stream goes on.
 */
import * as grpc from '@grpc/grpc-js';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { accessLogService, streamAccessLogsMessageCodec } from '@tendril/envoy';
import { Readiness, type ReadinessCheck, shutdownGrpcServer } from '@tendril/platform';
import { METRICS_CONFIG, type MetricsConfig } from './config.js';
import { TrafficService } from './traffic.service.js';

@Injectable()
export class AccessLogServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('access-log');
  private readonly server = new grpc.Server();
  private readonly streams = new Set<grpc.ServerReadableStream<Buffer, unknown>>();
  private readonly listening: ReadinessCheck;
  boundPort = 0;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(TrafficService) private readonly traffic: TrafficService,
    @Inject(Readiness) readiness: Readiness,
  ) {
    this.listening = readiness.register('access-log-service', 'gRPC access log service not listening yet');
    this.server.addService(accessLogService as unknown as grpc.ServiceDefinition, {
      StreamAccessLogs: (call: grpc.ServerReadableStream<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => this.stream(call, callback),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const { alsHost: host, alsPort: port } = this.config;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    this.listening.pass(`listening on ${host}:${this.boundPort}`);
    this.logger.log(`access log service listening on ${host}:${this.boundPort}`);
  }

  private stream(call: grpc.ServerReadableStream<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    this.streams.add(call);
    call.on('data', (bytes: Buffer) => {
      let message;
      try {
        message = streamAccessLogsMessageCodec.decode(bytes);
      } catch (error) {
        this.traffic.drop('malformed message');
        this.logger.warn(`${call.getPeer()}: access log message does not decode: ${(error as Error).message}`);
        return;
      }
      this.traffic.observe(message);
    });
    call.on('end', () => {
      this.streams.delete(call);
      callback(null, {});
    });
    call.on('error', () => this.streams.delete(call));
  }

  async onApplicationShutdown(): Promise<void> {
    await shutdownGrpcServer(this.server, 1000);
  }
}
