/**
 * A networking.k8s.io/v1 Ingress read into the fields translation uses. Each bad field is reported
 * with its path and costs only what depends on it (one path, one TLS entry), as a real API server's
 * validation would name it.
 */
import type { SourceObject } from '@tendril/model';
import type { Problems } from '../problems.js';
import { FieldReader, type Json } from './fields.js';
import { regexProblem } from '../envoy-checks.js';

export interface IngressBackendView {
  service: string;
  port: { number: number } | { name: string };
  /** Field path, for errors about the backend. */
  at: string;
}

export interface IngressPathView {
  path: string;
  pathType: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  backend: IngressBackendView;
  at: string;
}

export interface IngressRuleView {
  /** '' when the rule has no host */
  host: string;
  paths: IngressPathView[];
  at: string;
}

export interface IngressView {
  source: SourceObject & { namespace: string };
  className?: string;
  annotations: Record<string, string>;
  defaultBackend?: IngressBackendView;
  rules: IngressRuleView[];
  tls: { hosts: string[]; secretName?: string; at: string }[];
}

const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'] as const;
const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function readIngress(object: Json, source: SourceObject & { namespace: string }, problems: Problems): IngressView {
  const read = new FieldReader(problems, source);
  const metadata = read.object(object['metadata'], 'metadata') ?? {};
  const spec = read.object(object['spec'], 'spec') ?? {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(read.object(metadata['annotations'], 'metadata.annotations') ?? {})) {
    const text = read.string(value, `metadata.annotations.${key}`);
    if (text !== undefined) annotations[key] = text;
  }
  const view: IngressView = { source, annotations, rules: [], tls: [] };
  const className = read.string(spec['ingressClassName'], 'spec.ingressClassName');
  if (className !== undefined) view.className = className;
  if (spec['defaultBackend'] !== undefined) {
    const backend = readBackend(read, spec['defaultBackend'], 'spec.defaultBackend');
    if (backend) view.defaultBackend = backend;
  }
  const host = (value: unknown, at: string): string | undefined => {
    const text = read.string(value, at);
    if (text === undefined || text === '') return text;
    if (!HOST.test(text)) {
      read.report(at, `"${text}" is not a DNS name (a wildcard only as the first label, *.example.com)`);
      return undefined;
    }
    return text;
  };
  read.array(spec['rules'], 'spec.rules').forEach((item, i) => {
    const at = `spec.rules[${i}]`;
    const rule = read.object(item, at);
    if (!rule) return;
    const ruleHost = host(rule['host'], `${at}.host`);
    if (ruleHost === undefined && rule['host'] !== undefined) return;
    const http = read.object(rule['http'], `${at}.http`);
    const paths: IngressPathView[] = [];
    read.array(http?.['paths'], `${at}.http.paths`).forEach((entry, j) => {
      const where = `${at}.http.paths[${j}]`;
      const path = read.object(entry, where);
      if (!path) return;
      const backendObject = read.object(path['backend'], `${where}.backend`);
      // The seed's slide indents path and pathType under backend: name the field where it belongs.
      for (const misplaced of ['path', 'pathType']) {
        if (backendObject && backendObject[misplaced] !== undefined) read.report(`${where}.backend.${misplaced}`, `unknown field (${misplaced} belongs in ${where}.${misplaced})`);
      }
      const pathType = read.oneOf(path['pathType'], `${where}.pathType`, PATH_TYPES);
      if (path['pathType'] === undefined) read.report(`${where}.pathType`, 'required');
      const value = read.string(path['path'], `${where}.path`);
      if (pathType === undefined) return;
      if (value === undefined && pathType !== 'ImplementationSpecific') {
        read.report(`${where}.path`, `required when pathType is ${pathType}`);
        return;
      }
      const pathValue = value ?? '/';
      if (pathType !== 'ImplementationSpecific' && !pathValue.startsWith('/')) {
        read.report(`${where}.path`, `"${pathValue}" must be an absolute path`);
        return;
      }
      // Served as Envoy's safe_regex (as Cilium does): an RE2 expression, else the path is left out.
      const regex = pathType === 'ImplementationSpecific' ? regexProblem(pathValue) : undefined;
      if (regex) {
        read.report(`${where}.path`, regex);
        return;
      }
      const backend = readBackend(read, path['backend'], `${where}.backend`);
      if (!backend) return;
      paths.push({ path: pathValue, pathType, backend, at: where });
    });
    view.rules.push({ host: ruleHost ?? '', paths, at });
  });
  read.array(spec['tls'], 'spec.tls').forEach((item, i) => {
    const at = `spec.tls[${i}]`;
    const tls = read.object(item, at);
    if (!tls) return;
    const hosts: string[] = [];
    read.array(tls['hosts'], `${at}.hosts`).forEach((value, j) => {
      const text = host(value, `${at}.hosts[${j}]`);
      if (text) hosts.push(text);
    });
    const entry: IngressView['tls'][number] = { hosts, at };
    const secretName = read.string(tls['secretName'], `${at}.secretName`);
    if (secretName) entry.secretName = secretName;
    view.tls.push(entry);
  });
  return view;
}

function readBackend(read: FieldReader, value: unknown, at: string): IngressBackendView | undefined {
  const backend = read.object(value, at);
  if (!backend) {
    if (value === undefined) read.report(at, 'required');
    return undefined;
  }
  if (backend['resource'] !== undefined) {
    read.report(`${at}.resource`, 'resource backends are not supported; use a Service');
    return undefined;
  }
  const service = read.object(backend['service'], `${at}.service`);
  if (!service) {
    if (backend['service'] === undefined) read.report(`${at}.service`, 'required');
    return undefined;
  }
  const name = read.string(service['name'], `${at}.service.name`);
  if (!name) {
    if (service['name'] === undefined) read.report(`${at}.service.name`, 'required');
    return undefined;
  }
  const port = read.object(service['port'], `${at}.service.port`);
  const number = read.integer(port?.['number'], `${at}.service.port.number`, 1, 65535);
  const portName = read.string(port?.['name'], `${at}.service.port.name`);
  if (number !== undefined) return { service: name, port: { number }, at };
  if (portName) return { service: name, port: { name: portName }, at };
  if (port?.['number'] === undefined && port?.['name'] === undefined) read.report(`${at}.service.port`, 'a port number or name is required');
  return undefined;
}

