/**
 * Health check node ports of Services with externalTrafficPolicy Local, answered as kube-proxy
 * answers them, so a cloud load balancer sends traffic only to nodes with a local endpoint:
 * GET on any path -> 200 when this node has a ready endpoint of the Service, 503 when it has none,
 * with {"service":{"namespace","name"},"localEndpoints":N,"serviceProxyHealthy":true}. Listens on
 * every address of the node's network namespace (the port is meant to be reached from outside).
 */
import { createServer, type Server } from 'node:http';
import type { LbService } from '@tendril/contract';
import { localEndpointCount } from '@tendril/datapath-core';
import { listenInNamespace } from '@tendril/ebpf';

interface Check {
  key: string;
  service: LbService;
  server: Server;
}

export interface HealthLogger {
  log(message: string): void;
  warn(message: string): void;
}

export class HealthCheckServers {
  /** port -> the Service it reports on */
  private readonly checks = new Map<number, Check>();
  /** KV key -> its health check port */
  private readonly ports = new Map<string, number>();

  constructor(
    private readonly nodeName: string,
    private readonly netnsPath: string,
    private readonly logger: HealthLogger,
  ) {}

  get size(): number {
    return this.checks.size;
  }

  /** Takes changed Services (undefined: removed). */
  apply(changes: { key: string; service?: LbService | undefined }[]): void {
    for (const { key, service } of changes) {
      const port = service?.externalTrafficPolicy === 'Local' ? service.healthCheckNodePort : undefined;
      const held = this.ports.get(key);
      if (held !== undefined && held !== port) this.close(held, key);
      if (port === undefined || !service) continue;
      const check = this.checks.get(port);
      if (check && check.key !== key) {
        this.logger.warn(`health check node port ${port} of ${key} is already served for ${check.key}; not served twice`);
        continue;
      }
      if (check) {
        check.service = service;
        continue;
      }
      this.open(port, key, service);
    }
  }

  /** Replaces everything with exactly these Services. */
  reset(services: [key: string, service: LbService][]): void {
    const keep = new Set(services.map(([key]) => key));
    const gone = [...this.ports.keys()].filter((key) => !keep.has(key)).map((key) => ({ key }));
    this.apply([...gone, ...services.map(([key, service]) => ({ key, service }))]);
  }

  close(port?: number, key?: string): void {
    for (const [held, check] of [...this.checks]) {
      if (port !== undefined && (held !== port || check.key !== key)) continue;
      check.server.close();
      this.checks.delete(held);
      this.ports.delete(check.key);
    }
  }

  private open(port: number, key: string, service: LbService): void {
    const check: Check = { key, service, server: createServer((request, response) => this.answer(check, response)) };
    check.server.on('error', (error) => {
      this.logger.warn(`health check node port ${port} of ${key}: ${error.message}`);
      if (this.checks.get(port) === check) this.close(port, key);
    });
    try {
      if (this.netnsPath) check.server.listen({ fd: listenInNamespace(this.netnsPath, '0.0.0.0', port) });
      else check.server.listen(port, '0.0.0.0');
    } catch (error) {
      this.logger.warn(`health check node port ${port} of ${key}: ${(error as Error).message}`);
      return;
    }
    this.checks.set(port, check);
    this.ports.set(key, port);
    this.logger.log(`health check node port ${port} serves ${service.namespace}/${service.name}`);
  }

  private answer(check: Check, response: import('node:http').ServerResponse): void {
    const local = localEndpointCount(check.service, this.nodeName);
    const body = JSON.stringify({ service: { namespace: check.service.namespace, name: check.service.name }, localEndpoints: local, serviceProxyHealthy: true });
    response.writeHead(local > 0 ? 200 : 503, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
    response.end(body);
  }
}
