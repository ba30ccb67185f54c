/** What several system tests write or run: a Service with its EndpointSlice, an Ingress to it, and the `tendril` CLI. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './system.js';

export interface ServiceFixture {
  name: string;
  clusterIP: string;
  /** Endpoint addresses of the EndpointSlice `<name>-1`, all ready. */
  endpoints: string[];
  namespace?: string;
  port?: number;
  targetPort?: number;
}

/** A ClusterIP Service (port `http`) and its EndpointSlice, as manifest YAML. */
export function serviceManifest({ name, clusterIP, endpoints, namespace = 'default', port = 80, targetPort = 8080 }: ServiceFixture): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  clusterIP: ${clusterIP}
  ports: [{name: http, port: ${port}, targetPort: ${targetPort}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: ${namespace}, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: ${targetPort}}]
endpoints: [${endpoints.map((address) => `{addresses: [${address}]}`).join(', ')}]
`;
}

/** An Ingress of class `cilium` routing `host` and the Prefix `path` to port 80 of Service `name` (namespace default). */
export function ingressManifest({ name, host, path }: { name: string; host: string; path: string }): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}, namespace: default}
spec:
  ingressClassName: cilium
  rules:
  - host: ${host}
    http:
      paths:
      - {path: ${path}, pathType: Prefix, backend: {service: {name: ${name}, port: {number: 80}}}}
`;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `tendril` CLI with `env` over `base` (default: this process's environment). */
export function runCli(args: string[], env: Record<string, string>, base: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'tools', 'cli', 'dist', 'main.js'), ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
