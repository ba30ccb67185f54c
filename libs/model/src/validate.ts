/**
 * Checks an IR for what would make a proxy refuse it or serve half of it: duplicate names, bad
 * addresses and ports, endpoints or routes naming clusters that do not exist. Collects every problem.
 */
import { isIPv4, isIPv6, isPort } from './address.js';
import { LB_POLICIES, UPSTREAM_PROTOCOLS } from './cluster.js';
import { ENDPOINT_HEALTHS } from './endpoints.js';
import type { MeshIR } from './ir.js';
import { L4_ALGORITHMS } from './l4-service.js';
import { describeSource, type SourceObject } from './source.js';

export interface IRProblem {
  /** `namespace/Kind/name` of the object the faulty item came from. */
  object: string;
  /** Where in the IR, e.g. `clusters[default/backend:80].connectTimeoutMs`. */
  path: string;
  message: string;
}

export function validate(ir: MeshIR): IRProblem[] {
  const problems: IRProblem[] = [];
  const report = (source: SourceObject, path: string, message: string) => problems.push({ object: describeSource(source), path, message });
  const isIP = (value: string) => isIPv4(value) || isIPv6(value);

  const clusterNames = new Set<string>();
  for (const cluster of ir.clusters) {
    const at = `clusters[${cluster.name}]`;
    if (!cluster.name) report(cluster.source, at + '.name', 'must not be empty');
    if (clusterNames.has(cluster.name)) report(cluster.source, at, 'duplicate cluster name');
    clusterNames.add(cluster.name);
    if (!Number.isInteger(cluster.connectTimeoutMs) || cluster.connectTimeoutMs <= 0) report(cluster.source, at + '.connectTimeoutMs', 'must be a positive integer');
    if (!LB_POLICIES.includes(cluster.lbPolicy)) report(cluster.source, at + '.lbPolicy', `unknown policy "${cluster.lbPolicy}"`);
    if (!UPSTREAM_PROTOCOLS.includes(cluster.protocol)) report(cluster.source, at + '.protocol', `unknown protocol "${cluster.protocol}"`);
  }

  const endpointNames = new Set<string>();
  for (const group of ir.endpoints) {
    const at = `endpoints[${group.clusterName}]`;
    if (!clusterNames.has(group.clusterName)) report(group.source, at, 'no cluster of this name');
    if (endpointNames.has(group.clusterName)) report(group.source, at, 'duplicate endpoints for one cluster');
    endpointNames.add(group.clusterName);
    const seen = new Set<string>();
    group.endpoints.forEach((endpoint, i) => {
      const where = `${at}.endpoints[${i}]`;
      if (!isIP(endpoint.address)) report(group.source, where + '.address', `"${endpoint.address}" is not an IP address`);
      if (!isPort(endpoint.port)) report(group.source, where + '.port', `${endpoint.port} is not a port`);
      if (!ENDPOINT_HEALTHS.includes(endpoint.health)) report(group.source, where + '.health', `unknown health "${endpoint.health}"`);
      if (!Number.isInteger(endpoint.weight) || endpoint.weight < 1) report(group.source, where + '.weight', 'must be a positive integer');
      const id = `${endpoint.address}|${endpoint.port}`;
      if (seen.has(id)) report(group.source, where, `duplicate endpoint ${endpoint.address}:${endpoint.port}`);
      seen.add(id);
    });
  }
  // Every EDS cluster needs its endpoints in the same snapshot, even when there are none.
  for (const cluster of ir.clusters) {
    if (!endpointNames.has(cluster.name)) report(cluster.source, `clusters[${cluster.name}]`, 'no endpoints resource for this EDS cluster');
  }

  const services = new Set<string>();
  for (const service of ir.l4Services) {
    const at = `l4Services[${service.namespace}/${service.name}]`;
    if (services.has(`${service.namespace}/${service.name}`)) report(service.source, at, 'duplicate L4 service');
    services.add(`${service.namespace}/${service.name}`);
    if (!L4_ALGORITHMS.includes(service.algorithm)) report(service.source, at + '.algorithm', `unknown algorithm "${service.algorithm}"`);
    if (service.affinity && (!Number.isInteger(service.affinity.timeoutSeconds) || service.affinity.timeoutSeconds < 1)) {
      report(service.source, at + '.affinity.timeoutSeconds', 'must be a positive integer');
    }
    if (service.l7Redirect && !isPort(service.l7Redirect.port)) report(service.source, at + '.l7Redirect.port', 'is not a port');
    service.frontends.forEach((frontend, i) => {
      if (!isIP(frontend.address)) report(service.source, `${at}.frontends[${i}].address`, `"${frontend.address}" is not an IP address`);
      if (!isPort(frontend.port)) report(service.source, `${at}.frontends[${i}].port`, `${frontend.port} is not a port`);
    });
    service.backends.forEach((backend, i) => {
      if (!isIP(backend.address)) report(service.source, `${at}.backends[${i}].address`, `"${backend.address}" is not an IP address`);
      if (!isPort(backend.port)) report(service.source, `${at}.backends[${i}].port`, `${backend.port} is not a port`);
      if (!Number.isInteger(backend.weight) || backend.weight < 0 || backend.weight > 65535) report(service.source, `${at}.backends[${i}].weight`, 'must be 0..65535');
    });
  }

  const routeNames = new Set(ir.routes.map((route) => route.name));
  const secretNames = new Set(ir.secrets.map((secret) => secret.name));
  for (const listener of ir.listeners) {
    const at = `listeners[${listener.name}]`;
    if (!isIP(listener.address)) report(listener.source, at + '.address', `"${listener.address}" is not an IP address`);
    if (!isPort(listener.port)) report(listener.source, at + '.port', `${listener.port} is not a port`);
    if (listener.routeName !== undefined && !routeNames.has(listener.routeName)) report(listener.source, at + '.routeName', `no route "${listener.routeName}"`);
    for (const name of listener.secretNames) if (!secretNames.has(name)) report(listener.source, at + '.secretNames', `no secret "${name}"`);
  }
  for (const route of ir.routes) {
    for (const host of route.virtualHosts) {
      host.routes.forEach((rule, i) => {
        for (const backend of rule.backends) {
          if (!clusterNames.has(backend.clusterName)) report(route.source, `routes[${route.name}].virtualHosts[${host.name}].routes[${i}]`, `no cluster "${backend.clusterName}"`);
        }
      });
    }
  }
  return problems;
}
