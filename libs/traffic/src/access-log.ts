/**
 * Envoy access log entries (StreamAccessLogsMessage, decoded to plain objects) -> observations: who
 * called whom, with what method, status and duration. Only the fields read are typed here, so this
 * stays free of protobuf; entries that lack what an observation needs are reported, not guessed.
 */
import { ServiceDirectory, UNKNOWN, serviceOfCluster } from './directory.js';
import { methodLabel, statusClass } from './labels.js';

interface Address {
  socketAddress?: { address?: string } | null;
}
interface Duration {
  seconds?: string | number;
  nanos?: number;
}
interface Common {
  downstreamRemoteAddress?: Address | null;
  upstreamRemoteAddress?: Address | null;
  upstreamCluster?: string;
  startTime?: Duration | null;
  duration?: Duration | null;
  timeToLastDownstreamTxByte?: Duration | null;
  responseFlags?: Record<string, unknown> | null;
}
export interface AccessLogInput {
  httpLogs?: { logEntry?: { commonProperties?: Common | null; request?: { requestMethod?: string } | null; response?: { responseCode?: { value?: number } | null } | null }[] } | null;
  tcpLogs?: { logEntry?: { commonProperties?: Common | null }[] } | null;
}

export interface Observation {
  protocol: 'http' | 'tcp';
  source: string;
  destination: string;
  /** Standard method or OTHER; '' for TCP. */
  method: string;
  status: number;
  /** 2xx, 5xx, ..., or none. */
  statusClass: string;
  durationSeconds: number;
  /** 5xx, no response, or a response flag Envoy set (reset, timeout, no route...). */
  error: boolean;
  /** Milliseconds since the epoch: the entry's start time, or when it arrived. */
  at: number;
}

export interface ObservationBatch {
  observations: Observation[];
  /** Entries dropped, with why (bounded set of reasons). */
  dropped: { reason: string; count: number }[];
}

function seconds(duration: Duration | null | undefined): number | undefined {
  if (!duration) return undefined;
  const value = Number(duration.seconds ?? 0) + (duration.nanos ?? 0) / 1e9;
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

function flagged(flags: Record<string, unknown> | null | undefined): boolean {
  return !!flags && Object.values(flags).some((value) => value === true);
}

function endpoints(common: Common, directory: ServiceDirectory): { source: string; destination: string } {
  const source = directory.serviceAt(common.downstreamRemoteAddress?.socketAddress?.address) ?? UNKNOWN;
  const destination =
    serviceOfCluster(common.upstreamCluster) ?? directory.serviceAt(common.upstreamRemoteAddress?.socketAddress?.address) ?? UNKNOWN;
  return { source, destination };
}

export function observeAccessLog(message: AccessLogInput, directory: ServiceDirectory, now = Date.now()): ObservationBatch {
  const observations: Observation[] = [];
  const dropped = new Map<string, number>();
  const drop = (reason: string) => dropped.set(reason, (dropped.get(reason) ?? 0) + 1);
  const at = (common: Common) => {
    const start = seconds(common.startTime);
    return start ? Math.round(start * 1000) : now;
  };

  for (const entry of message.httpLogs?.logEntry ?? []) {
    const common = entry.commonProperties;
    if (!common) {
      drop('no common properties');
      continue;
    }
    const durationSeconds = seconds(common.duration) ?? seconds(common.timeToLastDownstreamTxByte);
    if (durationSeconds === undefined) {
      drop('no duration');
      continue;
    }
    const status = entry.response?.responseCode?.value ?? 0;
    const klass = statusClass(status);
    observations.push({
      protocol: 'http',
      ...endpoints(common, directory),
      method: methodLabel(entry.request?.requestMethod),
      status,
      statusClass: klass,
      durationSeconds,
      error: klass === '5xx' || klass === 'none' || flagged(common.responseFlags),
      at: at(common),
    });
  }
  for (const entry of message.tcpLogs?.logEntry ?? []) {
    const common = entry.commonProperties;
    if (!common) {
      drop('no common properties');
      continue;
    }
    observations.push({
      protocol: 'tcp',
      ...endpoints(common, directory),
      method: '',
      status: 0,
      statusClass: 'none',
      durationSeconds: seconds(common.duration) ?? 0,
      error: flagged(common.responseFlags),
      at: at(common),
    });
  }
  if (!message.httpLogs && !message.tcpLogs) drop('no log entries');
  return { observations, dropped: [...dropped].map(([reason, count]) => ({ reason, count })) };
}
