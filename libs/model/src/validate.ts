/**
 * Checks an IR for what would make a proxy refuse it or serve half of it: duplicate names, bad
 * addresses and ports, endpoints or routes naming clusters that do not exist. Collects every problem.
 */
import { isIPv4, isIPv6, isPort } from './address.js';
import { LB_POLICIES, UPSTREAM_PROTOCOLS } from './cluster.js';
import { ENDPOINT_HEALTHS } from './endpoints.js';
import type { MeshIR } from './ir.js';
import { L4_ALGORITHMS } from './l4-service.js';
import type { HeaderModifierIR, HttpRouteRuleIR } from './l7.js';
import { describeSource, type SourceObject } from './source.js';

export interface IRProblem {
  /** `namespace/Kind/name` of the object the faulty item came from. */
  object: string;
  /** Where in the IR, e.g. `clusters[default/backend:80].connectTimeoutMs`. */
  path: string;
  message: string;
}

/**
 * Names that items outside the IR checked already hold, for checking a few items against a whole
 * translation (an incremental patch): references to them resolve; duplicates are not looked for.
 */
export interface KnownNames {
  clusters: NameSet;
  endpoints: NameSet;
  routes: NameSet;
  secrets: NameSet;
  caSecrets: NameSet;
}

/** A set of names, as far as membership goes (a Set, a Map's keys...). */
export type NameSet = { has(name: string): boolean };

/**
 * `checked`, when given, remembers the problems of checks that depend on one IR item alone (by the
 * item's identity), so an incremental translation that hands back the same items does not check them
 * again; checks between items (duplicates, references) always run.
 */
export function validate(ir: MeshIR, checked?: WeakMap<object, IRProblem[]>, known?: KnownNames): IRProblem[] {
  const problems: IRProblem[] = [];
  const report = (source: SourceObject, path: string, message: string) => problems.push({ object: describeSource(source), path, message });
  const isIP = (value: string) => isIPv4(value) || isIPv6(value);
  /** Runs `check` on `item` once per item identity (when `checked` is given), replaying its problems. */
  const alone = (item: object, check: (report: Report) => void) => {
    let found = checked?.get(item);
    if (!found) {
      const own: IRProblem[] = [];
      check((source, path, message) => own.push({ object: describeSource(source), path, message }));
      found = own;
      checked?.set(item, own);
    }
    problems.push(...found);
  };

  const clusterNames = new Set<string>();
  for (const cluster of ir.clusters) {
    const at = `clusters[${cluster.name}]`;
    if (!cluster.name) report(cluster.source, at + '.name', 'must not be empty');
    if (clusterNames.has(cluster.name)) report(cluster.source, at, 'duplicate cluster name');
    clusterNames.add(cluster.name);
    alone(cluster, (report) => {
      if (!Number.isInteger(cluster.connectTimeoutMs) || cluster.connectTimeoutMs <= 0) report(cluster.source, at + '.connectTimeoutMs', 'must be a positive integer');
      if (!LB_POLICIES.includes(cluster.lbPolicy)) report(cluster.source, at + '.lbPolicy', `unknown policy "${cluster.lbPolicy}"`);
      if (!UPSTREAM_PROTOCOLS.includes(cluster.protocol)) report(cluster.source, at + '.protocol', `unknown protocol "${cluster.protocol}"`);
    });
  }

  const endpointNames = new Set<string>();
  for (const group of ir.endpoints) {
    const at = `endpoints[${group.clusterName}]`;
    if (!clusterNames.has(group.clusterName) && !known?.clusters.has(group.clusterName)) report(group.source, at, 'no cluster of this name');
    if (endpointNames.has(group.clusterName)) report(group.source, at, 'duplicate endpoints for one cluster');
    endpointNames.add(group.clusterName);
    alone(group, (report) => {
      const seen = new Set<string>();
      group.endpoints.forEach((endpoint, i) => {
        const where = `${at}.endpoints[${i}]`;
        if (!isIP(endpoint.address)) report(group.source, where + '.address', `"${endpoint.address}" is not an IP address`);
        if (!isPort(endpoint.port)) report(group.source, where + '.port', `${endpoint.port} is not a port`);
        if (!ENDPOINT_HEALTHS.includes(endpoint.health)) report(group.source, where + '.health', `unknown health "${endpoint.health}"`);
        if (!Number.isInteger(endpoint.weight) || endpoint.weight < 1) report(group.source, where + '.weight', 'must be a positive integer');
        if (endpoint.priority !== undefined && (!Number.isInteger(endpoint.priority) || endpoint.priority < 0 || endpoint.priority > 127)) report(group.source, where + '.priority', 'must be an integer 0..127');
        const id = `${endpoint.address}|${endpoint.port}`;
        if (seen.has(id)) report(group.source, where, `duplicate endpoint ${endpoint.address}:${endpoint.port}`);
        seen.add(id);
      });
    });
  }
  // Every EDS cluster needs its endpoints in the same snapshot, even when there are none.
  for (const cluster of ir.clusters) {
    if (!endpointNames.has(cluster.name) && !known?.endpoints.has(cluster.name)) report(cluster.source, `clusters[${cluster.name}]`, 'no endpoints resource for this EDS cluster');
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
    for (const [from, to] of Object.entries(service.l7Redirect?.frontendPorts ?? {})) {
      if (!isPort(Number(from)) || !isPort(to)) report(service.source, `${at}.l7Redirect.frontendPorts[${from}]`, `${from} -> ${to} is not a port pair`);
    }
    alone(service, (report) => {
      service.frontends.forEach((frontend, i) => {
        if (!isIP(frontend.address)) report(service.source, `${at}.frontends[${i}].address`, `"${frontend.address}" is not an IP address`);
        if (!isPort(frontend.port)) report(service.source, `${at}.frontends[${i}].port`, `${frontend.port} is not a port`);
      });
      service.backends.forEach((backend, i) => {
        if (!isIP(backend.address)) report(service.source, `${at}.backends[${i}].address`, `"${backend.address}" is not an IP address`);
        if (!isPort(backend.port)) report(service.source, `${at}.backends[${i}].port`, `${backend.port} is not a port`);
        if (!Number.isInteger(backend.weight) || backend.weight < 0 || backend.weight > 65535) report(service.source, `${at}.backends[${i}].weight`, 'must be 0..65535');
      });
    });
  }

  validateL7(ir, known ? union(clusterNames, known.clusters) : clusterNames, report, known);
  return problems;
}

/** `own` and `other` as one set, for membership. */
function union(own: NameSet, other: NameSet): NameSet {
  return { has: (name: string) => own.has(name) || other.has(name) };
}

type Report = (source: SourceObject, path: string, message: string) => void;

function validateL7(ir: MeshIR, clusterNames: NameSet, report: Report, known?: KnownNames): void {
  const isIP = (value: string) => isIPv4(value) || isIPv6(value);
  const routeNames = new Set<string>();
  for (const route of ir.routes) {
    if (routeNames.has(route.name)) report(route.source, `routes[${route.name}]`, 'duplicate route configuration name');
    routeNames.add(route.name);
  }
  const secretNames = new Set<string>();
  const caSecretNames = new Set<string>();
  for (const secret of ir.secrets) {
    const at = `secrets[${secret.name}]`;
    if (secretNames.has(secret.name)) report(secret.source, at, 'duplicate secret name');
    secretNames.add(secret.name);
    if (secret.trustedCa !== undefined) {
      caSecretNames.add(secret.name);
      if (!secret.trustedCa.includes('-----BEGIN')) report(secret.source, at + '.trustedCa', 'is not PEM');
      continue;
    }
    if (!secret.certificateChain.includes('-----BEGIN')) report(secret.source, at + '.certificateChain', 'is not PEM');
    if (!secret.privateKey.includes('-----BEGIN')) report(secret.source, at + '.privateKey', 'is not PEM');
  }

  const listenerNames = new Set<string>();
  const sockets = new Map<string, string>();
  for (const listener of ir.listeners) {
    const at = `listeners[${listener.name}]`;
    if (!listener.name) report(listener.source, at + '.name', 'must not be empty');
    if (listenerNames.has(listener.name)) report(listener.source, at, 'duplicate listener name');
    listenerNames.add(listener.name);
    if (listener.kind === 'socket') {
      if (!isIP(listener.address)) report(listener.source, at + '.address', `"${listener.address}" is not an IP address`);
      if (!isPort(listener.port)) report(listener.source, at + '.port', `${listener.port} is not a port`);
      const socket = `${listener.address}:${listener.port}`;
      const other = sockets.get(socket);
      if (other !== undefined) report(listener.source, at + '.port', `${socket} is already bound by listener ${other}`);
      sockets.set(socket, listener.name);
    }
    if (listener.filterChains.length === 0) report(listener.source, at + '.filterChains', 'at least one filter chain');
    if (listener.kind === 'api' && (listener.filterChains.length !== 1 || listener.filterChains[0]!.action.kind !== 'http')) {
      report(listener.source, at + '.filterChains', 'an API listener has exactly one HTTP chain');
    }
    const chainNames = new Set<string>();
    const matches = new Set<string>();
    listener.filterChains.forEach((chain, i) => {
      const where = `${at}.filterChains[${i}]`;
      if (chainNames.has(chain.name)) report(listener.source, where + '.name', `duplicate filter chain name "${chain.name}"`);
      chainNames.add(chain.name);
      const match = JSON.stringify([[...chain.match.serverNames].sort(), chain.match.transportProtocol ?? '']);
      if (matches.has(match)) report(listener.source, where + '.match', 'same match as an earlier chain');
      matches.add(match);
      const secret = (name: string) => (secretNames.has(name) && !caSecretNames.has(name)) || (known !== undefined && known.secrets.has(name) && !known.caSecrets.has(name));
      const caSecret = (name: string) => caSecretNames.has(name) || known?.caSecrets.has(name) === true;
      for (const name of chain.tls?.secretNames ?? []) if (!secret(name)) report(listener.source, where + '.tls.secretNames', `no secret "${name}"`);
      if (chain.tls && chain.tls.secretNames.length === 0) report(listener.source, where + '.tls.secretNames', 'at least one secret');
      const validation = chain.tls?.clientValidation;
      if (validation && !caSecret(validation.secretName)) {
        report(listener.source, where + '.tls.clientValidation.secretName', `no CA secret "${validation.secretName}"`);
      }
      if (chain.action.kind === 'http' && !routeNames.has(chain.action.routeName) && !known?.routes.has(chain.action.routeName)) report(listener.source, where + '.action.routeName', `no route "${chain.action.routeName}"`);
      if (chain.action.kind === 'tcp') {
        if (chain.action.backends.length === 0 || chain.action.backends.every((backend) => backend.weight === 0)) report(listener.source, where + '.action.backends', 'at least one backend with a weight');
        for (const backend of chain.action.backends) if (!clusterNames.has(backend.clusterName)) report(listener.source, where + '.action.backends', `no cluster "${backend.clusterName}"`);
      }
      if (!chain.action.statPrefix) report(listener.source, where + '.action.statPrefix', 'must not be empty');
    });
  }

  for (const route of ir.routes) {
    const domains = new Set<string>();
    const hostNames = new Set<string>();
    for (const host of route.virtualHosts) {
      const at = `routes[${route.name}].virtualHosts[${host.name}]`;
      if (hostNames.has(host.name)) report(route.source, at, 'duplicate virtual host name');
      hostNames.add(host.name);
      if (host.domains.length === 0) report(route.source, at + '.domains', 'at least one domain');
      for (const domain of host.domains) {
        if (domains.has(domain)) report(route.source, at + '.domains', `"${domain}" is already in another virtual host`);
        domains.add(domain);
      }
      host.routes.forEach((rule, i) => validateRule(route.source, `${at}.routes[${i}]`, rule, clusterNames, report));
    }
  }
}

function validateRule(source: SourceObject, at: string, rule: HttpRouteRuleIR, clusterNames: NameSet, report: Report): void {
  const path = rule.match.path;
  if (path.kind !== 'regex' && !path.value.startsWith('/')) report(source, at + '.match.path', `"${path.value}" must start with /`);
  if (path.kind === 'regex') {
    try {
      new RegExp(path.value);
    } catch {
      report(source, at + '.match.path', `"${path.value}" is not a regular expression`);
    }
  }
  const action = rule.action;
  const nonNegative = (value: number | undefined) => value === undefined || (Number.isInteger(value) && value >= 0);
  if (action.kind === 'forward') {
    if (action.backends.length === 0) report(source, at + '.action.backends', 'at least one backend');
    for (const backend of action.backends) {
      if (!clusterNames.has(backend.clusterName)) report(source, at + '.action.backends', `no cluster "${backend.clusterName}"`);
      if (!Number.isInteger(backend.weight) || backend.weight < 0) report(source, at + '.action.backends', `weight of ${backend.clusterName} must be an integer >= 0`);
    }
    if (action.backends.length > 0 && action.backends.every((backend) => backend.weight === 0)) report(source, at + '.action.backends', 'every weight is 0');
    if (!nonNegative(action.timeoutMs)) report(source, at + '.action.timeoutMs', 'must be an integer >= 0');
    if (action.retry && (!Number.isInteger(action.retry.numRetries) || action.retry.numRetries < 0)) report(source, at + '.action.retry.numRetries', 'must be an integer >= 0');
    if (action.retry && !nonNegative(action.retry.perTryTimeoutMs)) report(source, at + '.action.retry.perTryTimeoutMs', 'must be an integer >= 0');
    for (const mirror of action.mirrors ?? []) {
      if (!clusterNames.has(mirror.clusterName)) report(source, at + '.action.mirrors', `no cluster "${mirror.clusterName}"`);
      if (mirror.percent !== undefined && !(mirror.percent >= 0 && mirror.percent <= 100)) report(source, at + '.action.mirrors', 'percent must be 0..100');
    }
    if (action.rewrite?.pathPrefix !== undefined && action.rewrite.fullPath !== undefined) report(source, at + '.action.rewrite', 'either pathPrefix or fullPath');
    action.backends.forEach((backend, i) => checkHeaderNames(source, `${at}.action.backends[${i}]`, backend, report));
  } else if (action.kind === 'redirect') {
    if (action.port !== undefined && !isPort(action.port)) report(source, at + '.action.port', `${action.port} is not a port`);
    if (action.pathPrefix !== undefined && action.fullPath !== undefined) report(source, at + '.action', 'either pathPrefix or fullPath');
  } else if (!(Number.isInteger(action.status) && action.status >= 200 && action.status <= 599)) {
    report(source, at + '.action.status', `${action.status} is not an HTTP status`);
  }
  const session = rule.sessionPersistence;
  if (session) {
    if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(session.name)) report(source, at + '.sessionPersistence.name', `"${session.name}" is not a cookie or header name`);
    if (session.kind === 'cookie' && !session.path.startsWith('/')) report(source, at + '.sessionPersistence.path', `"${session.path}" must start with /`);
    if (session.kind === 'cookie' && session.ttlSeconds !== undefined && !(Number.isInteger(session.ttlSeconds) && session.ttlSeconds > 0)) report(source, at + '.sessionPersistence.ttlSeconds', 'must be a positive integer');
  }
  checkHeaderNames(source, at, rule, report);
}

function checkHeaderNames(source: SourceObject, at: string, owner: { requestHeaders?: HeaderModifierIR; responseHeaders?: HeaderModifierIR }, report: Report): void {
  for (const [field, modifier] of [['requestHeaders', owner.requestHeaders], ['responseHeaders', owner.responseHeaders]] as const) {
    for (const header of [...(modifier?.set ?? []), ...(modifier?.add ?? [])]) {
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(header.name)) report(source, `${at}.${field}`, `"${header.name}" is not a header name`);
    }
  }
}
