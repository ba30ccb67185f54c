/**
 * JetStream publishes with acknowledgements, at the cost of a plain publish. nats.js's own
 * `js.publish` (under every `kv.put` and `kv.delete`) makes a request object, an error with a stack
 * trace and a timer per message, and writes each message to the socket on its own: about 110 µs of
 * this process's CPU per write on a 2-core machine, which bounded a cold start's tens of thousands
 * of KV writes to ~6,000 a second. Here every acknowledgement comes to one inbox subscription,
 * timeouts are one sweep over the writes in flight (oldest first), and the publishes asked for in
 * one turn of the event loop go out together, in the order asked, in one socket write.
 *
 * Order: messages sent on one connection reach the stream in the order they were sent, so a write
 * asked for after another lands after it, acknowledged or not — the property the write windows
 * (write-window.ts) build on. An acknowledgement carrying a JetStream error, a "no responders"
 * status (no stream takes the subject) or no answer within the timeout rejects that write alone.
 * A write past its timeout is still waited for while the connection keeps delivering (its
 * acknowledgements wait behind the messages sent to this client before them, e.g. a mirror's replay
 * of the bucket it writes), up to PROGRESS_GRACE timeouts: what times out is a connection that
 * stopped delivering, not a busy one.
 */
import { createInbox, headers as natsHeaders, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';

/** How long a write waits for its acknowledgement (nats.js's own JetStream default). */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
/** How many timeouts a write may wait in all while other writes are still being acknowledged. */
const PROGRESS_GRACE = 6;

interface Asked {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
  resolve: (sequence: number) => void;
  reject: (error: Error) => void;
}

interface InFlight {
  subject: string;
  deadline: number;
  resolve: (sequence: number) => void;
  reject: (error: Error) => void;
}

export class JetStreamPublishError extends Error {
  override readonly name = 'JetStreamPublishError';
  constructor(
    readonly subject: string,
    message: string,
    readonly code?: number,
  ) {
    super(`publish to ${subject}: ${message}`);
  }
}

export class JsPublisher {
  private inbox?: string;
  private subscription?: Subscription;
  private connection?: NatsConnection;
  private nextId = 0;
  private asked: Asked[] = [];
  private flushScheduled = false;
  /** In flight by request id; a Map keeps insertion order, which is deadline order. */
  private readonly inFlight = new Map<number, InFlight>();
  private sweeper?: NodeJS.Timeout;
  private lastAnswerAt = 0;
  private lastDelivered?: number;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly nc: () => NatsConnection,
    private readonly timeoutMs = DEFAULT_PUBLISH_TIMEOUT_MS,
  ) {}

  /** Writes in flight (asked for and not yet acknowledged, failed or timed out). */
  get pending(): number {
    return this.asked.length + this.inFlight.size;
  }

  /** Publishes `data` to `subject` and resolves to the stream sequence that stored it. */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<number> {
    return this.enqueue(subject, data, headers);
  }

  /** A KV delete marker for `subject` (what nats.js's kv.delete writes). */
  deleteMarker(subject: string): Promise<number> {
    const headers = natsHeaders();
    headers.set('KV-Operation', 'DEL');
    return this.enqueue(subject, new Uint8Array(0), headers);
  }

  private enqueue(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.asked.push({ subject, data, ...(headers ? { headers } : {}), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // after the current turn, so that every write asked for in it goes out in one socket write
        setImmediate(() => this.flush());
      }
    });
  }

  /** Fails every write in flight and stops listening; publish() may be used again after. */
  close(): void {
    this.failAll(new Error('publisher closed'));
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.connection = undefined;
  }

  private flush(): void {
    this.flushScheduled = false;
    const asked = this.asked;
    this.asked = [];
    let nc: NatsConnection;
    try {
      nc = this.listening();
    } catch (error) {
      for (const write of asked) write.reject(error as Error);
      return;
    }
    const deadline = Date.now() + this.timeoutMs;
    for (const write of asked) {
      const id = this.nextId++;
      try {
        nc.publish(write.subject, write.data, { reply: `${this.inbox}.${id}`, ...(write.headers ? { headers: write.headers } : {}) });
      } catch (error) {
        write.reject(error as Error);
        continue;
      }
      this.inFlight.set(id, { subject: write.subject, deadline, resolve: write.resolve, reject: write.reject });
    }
    this.sweepLater();
  }

  /** The connection with this publisher's inbox subscribed on it (again after the connection changed). */
  private listening(): NatsConnection {
    const nc = this.nc();
    if (this.connection !== nc || !this.subscription || this.subscription.isClosed()) {
      if (this.connection && this.connection !== nc) this.failAll(new Error('NATS connection replaced'));
      const prefix = (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
      this.inbox = createInbox(prefix);
      this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => (error ? undefined : this.answer(msg.subject, msg.data, msg.headers)) });
      this.connection = nc;
      this.lastDelivered = nc.stats().inMsgs;
    }
    return nc;
  }

  private answer(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): void {
    const id = Number(subject.slice(subject.lastIndexOf('.') + 1));
    this.lastAnswerAt = Date.now();
    const write = this.inFlight.get(id);
    if (!write) return; // timed out already
    this.inFlight.delete(id);
    if (headers && headers.code >= 300) {
      write.reject(new JetStreamPublishError(write.subject, headers.code === 503 ? 'no stream takes this subject (no responders)' : `${headers.code} ${headers.description}`, headers.code));
      return;
    }
    let ack: { seq?: number; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(this.decoder.decode(data)) as typeof ack;
    } catch {
      write.reject(new JetStreamPublishError(write.subject, 'unreadable acknowledgement'));
      return;
    }
    if (ack.error) write.reject(new JetStreamPublishError(write.subject, `${ack.error.description ?? 'error'} (${ack.error.err_code ?? ack.error.code})`, ack.error.code));
    else if (typeof ack.seq === 'number') write.resolve(ack.seq);
    else write.reject(new JetStreamPublishError(write.subject, 'acknowledgement without a sequence'));
  }

  private sweepLater(): void {
    if (this.sweeper || this.inFlight.size === 0) return;
    this.sweeper = setTimeout(() => {
      // decided after this turn's I/O: an acknowledgement already in the socket, unread because the
      // process was busy, is taken before its write is called late
      setImmediate(() => {
        this.sweeper = undefined;
        const now = Date.now();
        // anything the connection delivered counts as progress: acknowledgements queue behind the
        // messages sent to this client before them (a mirror's deliveries on the same connection)
        const delivered = this.connection?.stats().inMsgs;
        if (delivered !== undefined && delivered !== this.lastDelivered) {
          this.lastDelivered = delivered;
          this.lastAnswerAt = now;
        }
        const progressing = now - this.lastAnswerAt < this.timeoutMs;
        for (const [id, write] of this.inFlight) {
          if (write.deadline > now) break;
          if (progressing && now < write.deadline + (PROGRESS_GRACE - 1) * this.timeoutMs) break;
          this.inFlight.delete(id);
          write.reject(new JetStreamPublishError(write.subject, `no acknowledgement within ${this.timeoutMs} ms`, 408));
        }
        this.sweepLater();
      });
    }, Math.min(1000, this.timeoutMs));
    this.sweeper.unref();
  }

  private failAll(error: Error): void {
    for (const write of this.inFlight.values()) write.reject(error);
    this.inFlight.clear();
  }
}
