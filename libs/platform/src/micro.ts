/**
 * Registration as a NATS micro service (`tendril-<service>`), so `nats micro ls`, `$SRV.PING` and
 * `$SRV.INFO` find every replica. Each service gets an `info` endpoint; apps add their own.
 */
import type { Service, ServiceMsg } from 'nats';
import { SUBJECTS, microServiceName, serviceInfoCodec, type ServiceInfo, type ServiceName } from '@tendril/contract';
import type { NatsClient } from './nats.js';
import type { Logger } from './logger.js';

export type EndpointHandler = (request: Uint8Array) => Promise<Uint8Array> | Uint8Array;

export interface MicroOptions {
  service: ServiceName;
  version: string;
  description: string;
  instance: string;
  info: () => ServiceInfo;
  logger: Logger;
}

export class MicroRegistration {
  private micro?: Service;
  private readonly pending: [verb: string, handler: EndpointHandler, subject: string | undefined][] = [];

  constructor(
    private readonly nats: NatsClient,
    private readonly options: MicroOptions,
  ) {}

  /**
   * Adds `tendril.<service>.<verb>` (or the given subject, e.g. one per node); may be called before or
   * after start().
   */
  endpoint(verb: string, handler: EndpointHandler, subject?: string): void {
    if (this.micro) this.add(this.micro, verb, handler, subject);
    else this.pending.push([verb, handler, subject]);
  }

  async start(): Promise<void> {
    await this.nats.connect();
    const { service, version, description, instance } = this.options;
    this.micro = await this.nats.nc.services.add({
      name: microServiceName(service),
      version,
      description,
      metadata: { instance },
      queue: microServiceName(service),
      // $SRV.STATS then tells each instance's readiness and figures, not only the queue group's pick
      statsHandler: async () => this.options.info(),
    });
    this.add(this.micro, 'info', () => serviceInfoCodec.encode(this.options.info()));
    for (const [verb, handler, subject] of this.pending.splice(0)) this.add(this.micro, verb, handler, subject);
  }

  private add(micro: Service, verb: string, handler: EndpointHandler, subjectOverride?: string): void {
    const subject = subjectOverride ?? SUBJECTS.endpoint(this.options.service, verb);
    micro.addEndpoint(verb, {
      subject,
      handler: (error: Error | null, msg: ServiceMsg) => {
        if (error) {
          this.options.logger.warn(`${subject}: ${error.message}`);
          return;
        }
        Promise.resolve()
          .then(() => handler(msg.data))
          .then((reply) => msg.respond(reply))
          .catch((failure: Error) => {
            this.options.logger.warn(`${subject}: ${failure.message}`);
            msg.respondError(500, failure.message);
          });
      },
    });
  }

  async stop(): Promise<void> {
    if (this.micro && !this.micro.isStopped) await this.micro.stop();
  }
}
