/**
 * The live service map: services as nodes, observed traffic as edges, with request and error rates
 * over a sliding window (per-second buckets) and totals since start. Bounded by a maximum edge count.
 */
import type { Observation } from './access-log.js';

interface Bucket {
  second: number;
  requests: number;
  errors: number;
  durationSum: number;
}

interface Edge {
  source: string;
  destination: string;
  protocols: Set<string>;
  requests: number;
  errors: number;
  buckets: Bucket[];
}

export interface ServiceMapEdge {
  source: string;
  destination: string;
  protocols: string[];
  /** Totals since this replica started. */
  requests: number;
  errors: number;
  /** Over the window: per second, the fraction that failed, the mean duration. */
  requestRate: number;
  errorRate: number;
  meanLatencySeconds: number;
}

export interface ServiceMapNode {
  id: string;
  requestsIn: number;
  requestsOut: number;
  errorsIn: number;
}

export interface ServiceMapSnapshot {
  windowSeconds: number;
  nodes: ServiceMapNode[];
  edges: ServiceMapEdge[];
}

export class ServiceMap {
  private readonly edges = new Map<string, Edge>();
  droppedEdges = 0;

  constructor(
    private readonly windowSeconds: number,
    private readonly maxEdges: number,
  ) {}

  /** An L7 observation, or an L4 flow (protocol tcp/udp, duration 0). */
  record(observation: Pick<Observation, 'source' | 'destination' | 'error' | 'durationSeconds' | 'at'> & { protocol: string }, count = 1): void {
    const key = `${observation.source}\u0000${observation.destination}`;
    let edge = this.edges.get(key);
    if (!edge) {
      if (this.edges.size >= this.maxEdges) {
        this.droppedEdges++;
        return;
      }
      edge = { source: observation.source, destination: observation.destination, protocols: new Set(), requests: 0, errors: 0, buckets: [] };
      this.edges.set(key, edge);
    }
    edge.protocols.add(observation.protocol);
    const errors = observation.error ? count : 0;
    edge.requests += count;
    edge.errors += errors;
    const second = Math.floor(observation.at / 1000);
    let bucket = edge.buckets.find((b) => b.second === second);
    if (!bucket) {
      bucket = { second, requests: 0, errors: 0, durationSum: 0 };
      edge.buckets.push(bucket);
      this.prune(edge, second);
    }
    bucket.requests += count;
    bucket.errors += errors;
    bucket.durationSum += observation.durationSeconds * count;
  }

  private prune(edge: Edge, nowSecond: number): void {
    const oldest = nowSecond - this.windowSeconds;
    // entries can arrive out of order (their start time is the clock), so look at every bucket
    if (edge.buckets.some((b) => b.second <= oldest)) edge.buckets = edge.buckets.filter((b) => b.second > oldest);
  }

  snapshot(now = Date.now()): ServiceMapSnapshot {
    const nowSecond = Math.floor(now / 1000);
    const nodes = new Map<string, ServiceMapNode>();
    const node = (id: string) => {
      let found = nodes.get(id);
      if (!found) nodes.set(id, (found = { id, requestsIn: 0, requestsOut: 0, errorsIn: 0 }));
      return found;
    };
    const edges: ServiceMapEdge[] = [];
    for (const edge of this.edges.values()) {
      this.prune(edge, nowSecond);
      const inWindow = edge.buckets.filter((b) => b.second <= nowSecond);
      const requests = inWindow.reduce((sum, b) => sum + b.requests, 0);
      const errors = inWindow.reduce((sum, b) => sum + b.errors, 0);
      const durations = inWindow.reduce((sum, b) => sum + b.durationSum, 0);
      edges.push({
        source: edge.source,
        destination: edge.destination,
        protocols: [...edge.protocols].sort(),
        requests: edge.requests,
        errors: edge.errors,
        requestRate: requests / this.windowSeconds,
        errorRate: requests === 0 ? 0 : errors / requests,
        meanLatencySeconds: requests === 0 ? 0 : durations / requests,
      });
      node(edge.source).requestsOut += edge.requests;
      const destination = node(edge.destination);
      destination.requestsIn += edge.requests;
      destination.errorsIn += edge.errors;
    }
    edges.sort((a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
    return { windowSeconds: this.windowSeconds, nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges };
  }
}
