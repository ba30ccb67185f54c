/**
 * Envoy's access log service over gRPC (envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs).
 * Each message is decoded here, not by grpc-js, so one that does not decode is counted and dropped
 * while the stream goes on. With TENDRIL_ALS_TLS_* the port speaks TLS only and takes a connection
 * only from a client whose certificate the configured CA signed (the node proxies'); plaintext and
 * clients without such a certificate are refused in the handshake.
 */
import * as grpc from '@grpc/grpc-js';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { accessLogService, streamAccessLogsMessageCodec } from '@tendril/envoy';
import { Readiness, type ReadinessCheck, readTlsFiles, shutdownGrpcServer } from '@tendril/platform';
import { METRICS_CONFIG, type AlsTlsConfig, type MetricsConfig } from './config.js';
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
    const credentials = alsServerCredentials(this.config.alsTls);
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const mode = this.config.alsTls ? 'mTLS, client certificates signed by TENDRIL_ALS_TLS_CA only' : 'plaintext';
    this.listening.pass(`listening on ${host}:${this.boundPort} (${mode})`);
    this.logger.log(`access log service listening on ${host}:${this.boundPort} (${mode})`);
    if (!this.config.alsTls && !isLoopback(host)) {
      this.logger.warn(`access log service on ${host} without TLS: anyone who reaches it can report traffic; set TENDRIL_ALS_TLS_CERT, TENDRIL_ALS_TLS_KEY and TENDRIL_ALS_TLS_CA`);
    }
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

/** Server credentials of the access log port: plaintext, or TLS requiring a client certificate signed by the CA. */
export function alsServerCredentials(tls: AlsTlsConfig | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const files = readTlsFiles(tls, 'TENDRIL_ALS_TLS');
  return grpc.ServerCredentials.createSsl(files.ca ?? null, [{ cert_chain: files.cert, private_key: files.key }], true);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
