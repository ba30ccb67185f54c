/**
 * Registration as a NATS micro service (`tendril-<service>`), so `nats micro ls`, `$SRV.PING` and
 * `$SRV.INFO` find every replica. Each service gets an `info` endpoint; apps add their own.
 */
import { headers, type Service, type ServiceMsg, type Subscription } from 'nats';
import { SUBJECTS, microServiceName, serviceInfoCodec, type ServiceInfo, type ServiceName } from '@tendril/contract';
import type { KvLease } from './lease.js';
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
  /** A service with one active replica: endpoints added with `activeOnly` are answered by it alone. */
  lease?: KvLease;
}

export interface EndpointOptions {
  /** Another subject than `tendril.<service>.<verb>` (e.g. one per node). */
  subject?: string;
  /**
   * Answered by the active replica only (what only the writer knows, e.g. its last publish): the queue
   * group may pick a standby, which passes the request on to `tendril.<service>.active.<verb>`, which
   * only the lease holder subscribes to; with no active replica the standby answers itself.
   */
  activeOnly?: boolean;
}

const SERVICE_ERROR = 'Nats-Service-Error';

/** The active replica refused the request (a bad request, not an absent replica): passed on as is. */
class RefusedByActive extends Error {}

export class MicroRegistration {
  private micro?: Service;
  private readonly pending: [verb: string, handler: EndpointHandler, options: EndpointOptions][] = [];
  /** activeOnly endpoints: their handlers, and their subscriptions while this replica is active. */
  private readonly activeOnly = new Map<string, EndpointHandler>();
  private readonly activeSubscriptions = new Map<string, Subscription>();

  constructor(
    private readonly nats: NatsClient,
    private readonly options: MicroOptions,
  ) {
    options.lease?.onChange((state) => this.answerAsActive(state.role === 'active'));
  }

  /**
   * Adds `tendril.<service>.<verb>` (or the given subject, e.g. one per node); may be called before or
   * after start().
   */
  endpoint(verb: string, handler: EndpointHandler, subjectOrOptions?: string | EndpointOptions): void {
    const options = typeof subjectOrOptions === 'string' ? { subject: subjectOrOptions } : (subjectOrOptions ?? {});
    let served = handler;
    if (options.activeOnly && this.options.lease) {
      this.activeOnly.set(verb, handler);
      served = (request) => this.viaActive(verb, handler, request);
    }
    if (this.micro) this.add(this.micro, verb, served, options.subject);
    else this.pending.push([verb, served, options]);
  }

  private async viaActive(verb: string, handler: EndpointHandler, request: Uint8Array): Promise<Uint8Array> {
    if (this.options.lease?.active !== false) return handler(request);
    try {
      const reply = await this.nats.nc.request(SUBJECTS.active(this.options.service, verb), request, { timeout: 5000 });
      const refused = reply.headers?.get(SERVICE_ERROR);
      if (refused) throw new RefusedByActive(refused);
      return reply.data;
    } catch (error) {
      if (error instanceof RefusedByActive) throw error;
      this.options.logger.warn(`${SUBJECTS.endpoint(this.options.service, verb)}: no active replica answered (${(error as Error).message}); answering from this standby`);
      return handler(request);
    }
  }

  /** The lease holder alone listens on `tendril.<service>.active.<verb>`. */
  private answerAsActive(active: boolean): void {
    for (const [verb, handler] of this.activeOnly) {
      const subject = SUBJECTS.active(this.options.service, verb);
      const subscribed = this.activeSubscriptions.get(verb);
      if (!active) {
        subscribed?.unsubscribe();
        this.activeSubscriptions.delete(verb);
        continue;
      }
      if (subscribed) continue;
      this.activeSubscriptions.set(
        verb,
        this.nats.nc.subscribe(subject, {
          callback: (error, msg) => {
            if (error) return;
            Promise.resolve()
              .then(() => handler(msg.data))
              .then(
                (reply) => msg.respond(reply),
                (failure: Error) => {
                  this.options.logger.warn(`${subject}: ${failure.message}`);
                  // as a micro endpoint refuses, so the standby passing it on refuses alike
                  const refusal = headers();
                  refusal.set(SERVICE_ERROR, failure.message);
                  refusal.set(`${SERVICE_ERROR}-Code`, '500');
                  msg.respond(new Uint8Array(), { headers: refusal });
                },
              );
          },
        }),
      );
    }
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
    for (const [verb, handler, options] of this.pending.splice(0)) this.add(this.micro, verb, handler, options.subject);
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
    this.answerAsActive(false);
    if (this.micro && !this.micro.isStopped) await this.micro.stop();
  }
}
