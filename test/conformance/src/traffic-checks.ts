/**
 * Request expectations of the corpus (README "Traffic checks") resolved against the generated
 * configuration: the resolver says what Envoy does with the request; the echo backend of the suite
 * is modelled for what it reports (its pod, namespace and the request it saw), the response headers
 * it is asked to set (X-Echo-Set-Header), its `delay` and retry simulation parameters. The comparison
 * follows conformance/utils/http CompareRoundTrip as the README transcribes it.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { clientCertificateProblem, issuedBy, splitPems } from './client-certificates.js';
import type { Check, Ref } from './corpus.js';
import { Headers } from './headers.js';
import { backendTlsProblem } from './backend-tls-checks.js';
import { evaluateL4Echo } from './l4-checks.js';
import { resolveHttp, resolveTls, splitPath, type EnvoyConfig, type Endpoint, type Resolution, type UpstreamTarget } from './envoy-resolver.js';
import type { Pod } from './manifests.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- corpus checks and decoded xDS JSON, walked by field name
type Plain = Record<string, any>;

export interface TrafficContext {
  config: EnvoyConfig;
  pods: ReadonlyMap<string, Pod>;
  /** appProtocol of an endpoint (`<address>:<port>`), when its Service port names one. */
  appProtocols: ReadonlyMap<string, string>;
  /** The Gateway's listener port a request without `port` goes to. */
  defaultPort(gateway: Ref): number | undefined;
  /** PEM of a Secret's key (`tls.crt`) or a ConfigMap's (`ca.crt`), as the suite created it. */
  pem(ref: { kind: string; namespace: string; name: string }, key: string): string | undefined;
  /** The first address in the Gateway's status (what its clients dial). */
  gatewayAddress(gateway: Ref): string | undefined;
}

export interface TrafficOutcome {
  /** undefined: the expectation holds. */
  failure?: string;
  /** What the request resolved to (for the report). */
  resolved: string;
}

const serviceOf = (gateway: Ref) => `${gateway.namespace}/cilium-gateway-${gateway.name}`;

function gatewayAddress(ctx: TrafficContext, gateway: Ref, port: number): string {
  const entry = ctx.config.lb.get(serviceOf(gateway));
  return entry?.frontends.find((f) => f.port === port)?.address ?? entry?.frontends[0]?.address ?? '0.0.0.0';
}

/** Go durations the echo backend reads ("1s", "500ms", "1m30s") in ms. */
export function goDurationMs(value: string | undefined): number {
  if (!value) return 0;
  const units: Record<string, number> = { h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)) total += Number(n) * (units[unit!] ?? 0);
  return total;
}

interface BackendAnswer {
  status: number;
  pod?: Pod;
  /** The request the backend saw (absent when Envoy answered itself). */
  request?: { method: string; path: string; host: string; headers: Headers };
  headers: Headers;
  detail: string;
}

/**
 * One upstream target's answer: no cluster or no endpoints -> 503 (Envoy: no healthy upstream);
 * else the echo backend, with the route's timeouts and retry policy applied to its `delay`,
 * `responseCode`, `succeedAfter` and `delayRetry` parameters (attempt n fails while n <= succeedAfter).
 */
function answerOf(target: UpstreamTarget, resolution: Resolution, ctx: TrafficContext, setHeaders: Record<string, string>): BackendAnswer {
  if (target.endpoints === undefined) return { status: 503, headers: new Headers(), detail: `cluster ${target.cluster} does not exist` };
  if (target.endpoints.length === 0) return { status: 503, headers: new Headers(), detail: `cluster ${target.cluster} has no endpoints` };
  const pods = target.endpoints.map((e: Endpoint) => ctx.pods.get(e.address));
  const pod = pods[0];
  if (!pod) return { status: 503, headers: new Headers(), detail: `cluster ${target.cluster} endpoints ${target.endpoints.map((e) => e.address).join(',')} are no conformance pods` };
  // a port whose Service says kubernetes.io/h2c (the gRPC and h2c echo servers) answers HTTP/2 only: an HTTP/1.1 cluster gets no response
  const endpoint = target.endpoints[0]!;
  if (ctx.appProtocols.get(`${endpoint.address}:${endpoint.port}`) === 'kubernetes.io/h2c' && !target.http2) {
    return { status: 503, headers: new Headers(), pod, detail: `cluster ${target.cluster} speaks HTTP/1.1 to ${pod.name}:${endpoint.port}, an h2c-only port (appProtocol kubernetes.io/h2c)` };
  }
  const params = new Map(splitPath(target.request.path).params);
  const delay = goDurationMs(params.get('delay'));
  const responseCode = params.has('responseCode') ? Number(params.get('responseCode')) : undefined;
  const succeedAfter = params.has('succeedAfter') ? Number(params.get('succeedAfter')) : 0;
  const delayRetry = goDurationMs(params.get('delayRetry'));
  const retry = resolution.retry;
  // per_try_timeout unset or 0: no per-try limit, the route timeout bounds each try
  const perTry = retry?.perTryTimeoutMs ? retry.perTryTimeoutMs : Infinity;
  const routeTimeout = resolution.timeoutMs ?? Infinity;
  const attempts = 1 + (retry?.numRetries ?? 0);
  let elapsed = 0;
  let outcome: { kind: 'status'; status: number } | { kind: 'timeout' } | { kind: 'reset' } = { kind: 'status', status: 200 };
  const retriable = (o: typeof outcome) => {
    if (!retry) return false;
    const on = retry.retryOn;
    if (o.kind === 'timeout') return on.some((r) => ['5xx', 'gateway-error', 'reset'].includes(r));
    if (o.kind === 'reset') return on.some((r) => ['5xx', 'gateway-error', 'reset', 'connect-failure'].includes(r));
    return (on.includes('retriable-status-codes') && retry.retriableStatusCodes.includes(o.status)) || (on.includes('5xx') && o.status >= 500) || (on.includes('gateway-error') && [502, 503, 504].includes(o.status));
  };
  let attempt = 1;
  for (; attempt <= attempts; attempt++) {
    const failing = attempt <= succeedAfter;
    const time = failing ? delayRetry || delay : delay;
    if (time > perTry || elapsed + time > routeTimeout) {
      outcome = { kind: 'timeout' };
      elapsed += Math.min(time, perTry);
    } else {
      elapsed += time;
      outcome = failing ? (responseCode !== undefined ? { kind: 'status', status: responseCode } : { kind: 'reset' }) : { kind: 'status', status: 200 };
    }
    if (elapsed >= routeTimeout) {
      outcome = { kind: 'timeout' };
      break;
    }
    if (outcome.kind === 'status' && outcome.status < 500 && outcome.status !== 429) break;
    if (!retriable(outcome)) break;
  }
  const tries = `${Math.min(attempt, attempts)} attempt(s), timeout ${resolution.timeoutMs ?? 'off'}${retry ? `, retry ${retry.retryOn.join('|')} x${retry.numRetries} codes ${retry.retriableStatusCodes.join(',')} per-try ${retry.perTryTimeoutMs ?? '-'}` : ''}`;
  if (outcome.kind === 'timeout') return { status: 504, headers: new Headers(), pod, detail: `${pod.name}: timed out (${tries})` };
  if (outcome.kind === 'reset') return { status: 503, headers: new Headers(), pod, detail: `${pod.name}: connection reset (${tries})` };
  const backendHeaders = new Headers(setHeaders);
  return {
    status: outcome.status,
    pod,
    request: { method: target.request.method, path: target.request.path, host: target.request.authority, headers: target.request.headers },
    headers: target.finalizeResponse(backendHeaders),
    detail: `${pod.name} (${target.cluster}) ${outcome.status}${retry || params.has('delay') ? ` (${tries})` : ''}`,
  };
}

function codesOf(expected: Plain): number[] {
  if (Array.isArray(expected['statusCodes'])) return expected['statusCodes'] as number[];
  return [expected['statusCode'] ?? 200];
}

function codeMatches(got: number, codes: number[]): boolean {
  if (codes.includes(got)) return true;
  const timeout = (c: number) => c === 408 || c === 504;
  return timeout(got) && codes.some(timeout);
}

/** HTTP request of an http/https check as a ProxyRequest; undefined with a reason when it cannot be sent. */
function buildRequest(ctx: TrafficContext, check: Plain, gateway: Ref, grpc = false) {
  const request = (check['request'] ?? {}) as Plain;
  const port = Number(request['port'] ?? ctx.defaultPort(gateway) ?? (check['check'] === 'https' ? 443 : 80));
  const address = gatewayAddress(ctx, gateway, port);
  const headers = new Headers();
  let path = String(request['path'] ?? '/');
  let method = String(request['method'] ?? 'GET');
  let authority = request['host'] ? String(request['host']) : `${address}:${port}`;
  if (grpc) {
    method = 'POST';
    path = String(request['fullMethod']);
    if (request['authority']) authority = String(request['authority']);
    headers.add('content-type', 'application/grpc');
    headers.add('te', 'trailers');
    for (const [name, value] of Object.entries((request['metadata'] ?? {}) as Record<string, string>)) headers.add(name, value);
  } else {
    for (const [name, value] of Object.entries((request['headers'] ?? {}) as Record<string, string>)) headers.add(name, value);
    const set = (check['backendSetResponseHeaders'] ?? {}) as Record<string, string>;
    headers.add('X-Echo-Set-Header', Object.entries(set).map(([n, v]) => `${n}:${v}`).join(','));
    if (request['queryParams']) {
      const query = Object.keys(request['queryParams']).sort().map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(request['queryParams'][k])}`).join('&');
      path = `${path}${path.includes('?') ? '&' : '?'}${query}&uuid=00000000-0000-4000-8000-000000000000`;
    }
  }
  const tls = request['tls'] as Plain | undefined;
  const isTls = check['check'] === 'https' || check['check'] === 'httpsFailure' || request['scheme'] === 'https';
  return {
    port,
    proxyRequest: {
      service: serviceOf(gateway),
      port,
      tls: isTls ? { serverName: tls?.['serverName'] ?? request['host'], alpn: request['protocol'] === 'H2' || grpc ? ['h2'] : ['http/1.1'] } : undefined,
      method,
      path,
      authority,
      headers,
    },
    setHeaders: (check['backendSetResponseHeaders'] ?? {}) as Record<string, string>,
  };
}

const normalisePem = (pem: string) => pem.replace(/\s+/g, '');

/** TLS facts of an https request: the served certificate must be the trusted one and valid for the SNI; client certificate rules. */
function tlsProblem(ctx: TrafficContext, resolution: Resolution, tls: Plain | undefined): string | undefined {
  if (!resolution.tls) return 'the chosen filter chain does not terminate TLS';
  if (resolution.tls.certificateChains.length === 0) return `no certificate to serve (secrets ${resolution.tls.certificateSecrets.join(', ') || 'none'} missing from tendril-xds)`;
  const trusted = tls?.['trustedServerCertificate'] as Plain | undefined;
  if (trusted) {
    const pem = ctx.pem({ kind: trusted['kind'], namespace: trusted['namespace'], name: trusted['name'] }, 'tls.crt');
    if (!pem) return `trusted certificate ${trusted['namespace']}/${trusted['name']} unknown to the harness`;
    const served = resolution.tls.certificateChains.find((chain) => normalisePem(chain).startsWith(normalisePem(pem).slice(0, 200)) || normalisePem(chain).includes(normalisePem(pem)));
    if (!served) return `the listener serves ${resolution.tls.certificateSecrets.join(', ')}, not ${trusted['namespace']}/${trusted['name']}`;
    const serverName = tls?.['serverName'] as string | undefined;
    if (serverName && !certificateCovers(pem, serverName)) return `the served certificate is not valid for ${serverName} (${new X509Certificate(pem).subjectAltName})`;
  }
  if (tls?.['clientCertificateMustBeRequested'] && !resolution.tls.requireClientCertificate && resolution.tls.validationSecrets.length === 0) return 'the listener does not request a client certificate';
  const client = tls?.['clientCertificate'] as Plain | undefined;
  const contexts = resolution.tls.validationSecrets.map((name) => (ctx.config.secrets.get(name) as Plain | undefined)?.['validationContext'] as Plain | undefined);
  if (contexts.some((context) => context === undefined)) return `client CA secret ${resolution.tls.validationSecrets.join(', ')} missing from tendril-xds`;
  const pem = client ? ctx.pem({ kind: client['kind'], namespace: client['namespace'], name: client['name'] }, 'tls.crt') : undefined;
  return clientCertificateProblem({ requireClientCertificate: resolution.tls.requireClientCertificate, validationContexts: contexts as Plain[], sent: !!client, ...(pem ? { pem } : {}) });
}

/**
 * Go's crypto/x509 VerifyHostname, which the suite's client uses: IP SANs for an IP, else DNS SANs
 * compared label by label, case-insensitively, a `*` allowed as the whole first label (so `*.org`
 * covers `example.org`, unlike OpenSSL's default); the subject CN is not consulted.
 */
export function certificateCovers(pem: string, serverName: string): boolean {
  const sans = (new X509Certificate(pem).subjectAltName ?? '').split(/,\s*/);
  if (isIP(serverName)) return sans.some((san) => san === `IP Address:${serverName}`);
  const host = serverName.toLowerCase().replace(/\.$/, '').split('.');
  return sans
    .filter((san) => san.startsWith('DNS:'))
    .map((san) => san.slice(4).toLowerCase().replace(/\.$/, '').split('.'))
    .some((pattern) => pattern.length === host.length && pattern.every((label, i) => (i === 0 && label === '*') || label === host[i]));
}

function describe(resolution: Resolution): string {
  return resolution.trace.join(' -> ') + (resolution.notes.length ? ` [${resolution.notes.join('; ')}]` : '');
}

/** http, https and grpc checks (and each request of weightedDistribution). */
export function evaluateRequest(ctx: TrafficContext, check: Check, testGateway: Ref | null): TrafficOutcome {
  const c = check as Plain;
  const gateway = (c['gateway'] ?? testGateway) as Ref;
  const grpc = check.check === 'grpc' || (check.check === 'weightedDistribution' && c['protocol'] === 'grpc');
  const built = buildRequest(ctx, c, gateway, grpc);
  const resolution = resolveHttp(ctx.config, built.proxyRequest);
  const resolved = describe(resolution);
  const expected = (c['expected'] ?? {}) as Plain;
  const request = (c['request'] ?? {}) as Plain;
  if (check.check === 'httpsFailure') {
    if (resolution.connection) return { resolved };
    const problem = tlsProblem(ctx, resolution, request['tls']);
    return problem ? { resolved: `${resolved} (TLS fails: ${problem})` } : { failure: 'the TLS handshake succeeds and a response comes back', resolved };
  }
  if (resolution.connection) return { failure: `no response: connection ${resolution.connection}`, resolved };
  if (resolution.tcpUpstreams && !resolution.tls && built.proxyRequest.tls) return passthrough(ctx, resolution, c, built.proxyRequest);
  if (check.check === 'https') {
    const problem = tlsProblem(ctx, resolution, request['tls']);
    if (problem) return { failure: `TLS handshake fails: ${problem}`, resolved };
  }
  const answers = answersOf(ctx, resolution, built.setHeaders);
  const details = answers.map((a) => a.detail).join(' | ');
  for (const answer of answers) {
    const failure = grpc ? compareGrpc(answer, expected) : compareHttp(answer, c, resolution, ctx.pods);
    if (failure) return { failure, resolved: `${resolved} => ${details}` };
  }
  // expectations on the Gateway's TLS connection to the backend (BackendTLSPolicy, spec.tls.backend)
  if (request['sni'] !== undefined || request['clientCert'] !== undefined) {
    const certificate = request['clientCert']?.['fromSecret'];
    const clientCertificate = certificate ? ctx.pem(certificate, String(request['clientCert']['key'] ?? 'tls.crt')) : undefined;
    if (certificate && !clientCertificate) return { failure: `the expected client certificate ${certificate['name']} is unknown to the harness`, resolved };
    for (const target of (resolution.upstreams ?? []).filter((u) => u.share > 0)) {
      const pod = (target.endpoints ?? []).map((e) => ctx.pods.get(e.address)).find(Boolean);
      if (!pod) continue; // answered above
      const served = pod.tlsSecret ? ctx.pem({ kind: 'Secret', namespace: pod.namespace, name: pod.tlsSecret }, 'tls.crt') : undefined;
      const problem = backendTlsProblem(ctx.config, target.cluster, pod, served, { ...(request['sni'] !== undefined ? { sni: String(request['sni']) } : {}), ...(clientCertificate !== undefined ? { clientCertificate } : {}) });
      if (problem) return { failure: problem, resolved: `${resolved} => ${details}` };
    }
  }
  return { resolved: `${resolved} => ${details}` };
}

/**
 * HTTPS through a TLS passthrough chain: each TCP target's pod terminates TLS with the certificate
 * mounted in it and answers the request as sent (no Envoy route in between).
 */
function passthrough(ctx: TrafficContext, resolution: Resolution, check: Plain, sent: { method: string; path: string; authority: string; headers: Headers }): TrafficOutcome {
  const resolved = describe(resolution);
  const tls = (check['request'] ?? {})['tls'] as Plain | undefined;
  for (const target of (resolution.tcpUpstreams ?? []).filter((u) => u.share > 0)) {
    if (!target.endpoints?.length) return { failure: `no response: cluster ${target.cluster} ${target.endpoints ? 'has no endpoints' : 'does not exist'} (connection closed)`, resolved };
    const pod = ctx.pods.get(target.endpoints[0]!.address);
    if (!pod) return { failure: `cluster ${target.cluster} endpoints are no conformance pods`, resolved };
    const served = pod.tlsSecret ? ctx.pem({ kind: 'Secret', namespace: pod.namespace, name: pod.tlsSecret }, 'tls.crt') : undefined;
    if (!served) return { failure: `TLS handshake fails: ${pod.name} serves no TLS`, resolved };
    const trusted = tls?.['trustedServerCertificate'] as Plain | undefined;
    const pem = trusted ? ctx.pem({ kind: trusted['kind'], namespace: trusted['namespace'], name: trusted['name'] }, 'tls.crt') : undefined;
    if (trusted && (!pem || normalisePem(pem) !== normalisePem(served))) return { failure: `TLS handshake fails: ${pod.name} serves ${pod.tlsSecret}, not ${trusted['name']}`, resolved };
    if (tls?.['serverName'] && !certificateCovers(served, String(tls['serverName']))) return { failure: `TLS handshake fails: ${pod.tlsSecret} is not valid for ${tls['serverName']}`, resolved };
    const answer: BackendAnswer = { status: 200, pod, request: { method: sent.method, path: sent.path, host: sent.authority, headers: sent.headers }, headers: new Headers(), detail: `${pod.name} (${target.cluster}, TLS passed through)` };
    const failure = compareHttp(answer, check, resolution, ctx.pods);
    if (failure) return { failure, resolved: `${resolved} => ${answer.detail}` };
  }
  return { resolved: `${resolved} => passed through to ${(resolution.tcpUpstreams ?? []).map((u) => u.cluster).join(', ')}` };
}

/** Every answer the request can get: Envoy's own, or one per upstream target with a share. */
function answersOf(ctx: TrafficContext, resolution: Resolution, setHeaders: Record<string, string>): BackendAnswer[] {
  if (resolution.status !== undefined) return [{ status: resolution.status, headers: resolution.responseHeaders ?? new Headers(), detail: `Envoy answers ${resolution.status}` }];
  return (resolution.upstreams ?? []).filter((u) => u.share > 0).map((u) => answerOf(u, resolution, ctx, setHeaders));
}

function compareGrpc(answer: BackendAnswer, expected: Plain): string | undefined {
  // gRPC over HTTP/2: HTTP statuses map to codes (grpc http-grpc-status-mapping): 404 -> UNIMPLEMENTED, 503/502/504/429 -> UNAVAILABLE
  const code = answer.request ? 'OK' : answer.status === 404 ? 'Unimplemented' : [429, 502, 503, 504].includes(answer.status) ? 'Unavailable' : answer.status === 200 ? 'OK' : 'Unknown';
  if (code !== expected['code']) return `expected gRPC ${expected['code']}, got ${code} (HTTP ${answer.status}: ${answer.detail})`;
  if (code === 'OK') {
    if (expected['backend'] && !answer.pod?.name.startsWith(String(expected['backend']))) return `expected backend ${expected['backend']}, got ${answer.pod?.name ?? 'none'}`;
    if (expected['namespace'] && answer.pod?.namespace !== expected['namespace']) return `expected namespace ${expected['namespace']}, got ${answer.pod?.namespace}`;
  }
  return undefined;
}

function compareHttp(answer: BackendAnswer, check: Plain, resolution: Resolution, pods: ReadonlyMap<string, Pod>): string | undefined {
  const expected = (check['expected'] ?? {}) as Plain;
  const request = (check['request'] ?? {}) as Plain;
  const codes = codesOf(expected);
  if (!codeMatches(answer.status, codes)) return `expected status ${codes.join('/')}, got ${answer.status} (${answer.detail})`;
  if (answer.status === 200 || answer.status === 204) {
    const seen = answer.request;
    if (expected['backend'] && !answer.pod?.name.startsWith(String(expected['backend']))) return `expected backend ${expected['backend']}, got ${answer.pod?.name ?? 'a response from Envoy'}`;
    if (typeof expected['namespace'] === 'string' && (seen ? answer.pod?.namespace : '') !== expected['namespace']) return `expected namespace "${expected['namespace']}", got "${seen ? answer.pod?.namespace : ''}"`;
    const backendRequest = expected['backendRequest'] as Plain | undefined;
    const wantPath = backendRequest?.['path'] ?? request['path'] ?? '/';
    const gotPath = seen ? seen.path.replace(/[?&]uuid=00000000-0000-4000-8000-000000000000$/, '').replace(/\?(?=$)/, '') : '';
    const queryFree = (p: string) => (request['queryParams'] ? p.split('?')[0] : p);
    if (queryFree(gotPath) !== wantPath) return `expected the backend to see path "${wantPath}", got "${gotPath}"`;
    const wantHost = backendRequest ? backendRequest['host'] : request['host'];
    if (wantHost && (seen?.host ?? '') !== wantHost) return `expected the backend to see host "${wantHost}", got "${seen?.host ?? ''}"`;
    const wantMethod = backendRequest?.['method'] ?? request['method'] ?? 'GET';
    if ((seen?.method ?? wantMethod) !== wantMethod) return `expected the backend to see method ${wantMethod}, got ${seen?.method}`;
    const wantHeaders = (backendRequest ? backendRequest['headers'] : request['headers']) as Record<string, string> | undefined;
    for (const [name, value] of Object.entries(wantHeaders ?? {})) {
      const got = seen?.headers.get(name);
      if (got !== value) return `expected the backend to see header ${name}: "${value}", got ${got === undefined ? 'none' : `"${got}"`}`;
    }
    for (const name of (backendRequest?.['absentHeaders'] ?? []) as string[]) {
      if (seen?.headers.has(name)) return `expected the backend not to see header ${name}, got "${seen.headers.get(name)}"`;
    }
    const response = (expected['response'] ?? {}) as Plain;
    const squash = (s: string) => (response['ignoreWhitespace'] ? s.replace(/\s+/g, '') : s);
    for (const [name, value] of Object.entries((response['headers'] ?? {}) as Record<string, string>)) {
      const got = answer.headers.get(name);
      if (got === undefined || squash(got) !== squash(value)) return `expected response header ${name}: "${value}", got ${got === undefined ? 'none' : `"${got}"`}`;
    }
    for (const [name, values] of Object.entries((response['validHeaderValues'] ?? {}) as Record<string, string[]>)) {
      const got = answer.headers.get(name);
      if (got === undefined || !values.map(squash).includes(squash(got))) return `expected response header ${name} in ${JSON.stringify(values)}, got ${got === undefined ? 'none' : `"${got}"`}`;
    }
    for (const name of (response['absentHeaders'] ?? []) as string[]) {
      if (answer.headers.has(name)) return `expected no response header ${name}, got "${answer.headers.get(name)}"`;
    }
    for (const mirror of (expected['mirroredTo'] ?? []) as Plain[]) {
      const hit = (resolution.mirrors ?? []).find((m) => m.percent > 0 && (m.endpoints ?? []).some((e) => pods.get(e.address)?.deployment === mirror['name'] && pods.get(e.address)?.namespace === mirror['namespace']));
      if (!hit) return `expected a mirror to ${mirror['namespace']}/${mirror['name']}, route mirrors ${(resolution.mirrors ?? []).map((m) => `${m.cluster} ${m.percent}%`).join(', ') || 'nothing'}`;
      if (typeof mirror['percent'] === 'number' && Math.abs(hit.percent - mirror['percent']) > 1e-6) return `expected ${mirror['percent']}% mirrored to ${mirror['name']}, the route mirrors ${hit.percent}%`;
    }
  }
  const redirect = expected['redirect'] as Plain | undefined;
  if (redirect && answer.status >= 300 && answer.status < 400) {
    const location = answer.headers.get('location');
    if (!location) return 'expected a Location header';
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return `Location "${location}" is not a URL`;
    }
    const scheme = url.protocol.replace(/:$/, '');
    const sentScheme = check['check'] === 'https' || request['scheme'] === 'https' ? 'https' : 'http';
    if (scheme !== (redirect['scheme'] ?? sentScheme)) return `expected redirect scheme ${redirect['scheme'] ?? sentScheme}, got ${location}`;
    if (redirect['hostname'] && url.hostname !== redirect['hostname']) return `expected redirect host ${redirect['hostname']}, got ${location}`;
    const wantPath = redirect['path'] ?? String(request['path'] ?? '/').split('?')[0];
    if (url.pathname !== wantPath) return `expected redirect path ${wantPath}, got ${location}`;
    const port = /^[a-z]+:\/\/[^/]*:(\d+)/.exec(location)?.[1] ?? '';
    const defaultPort = scheme === 'https' ? '443' : '80';
    if (redirect['port'] !== undefined ? port !== redirect['port'] : port !== '' && port !== defaultPort) return `expected redirect port ${redirect['port'] ?? `none/${defaultPort}`}, got ${location}`;
  }
  return undefined;

}

/** weightedDistribution: shares per backend computed from the weights (no sampling), each answer matching `expected`. */
export function evaluateDistribution(ctx: TrafficContext, check: Check, testGateway: Ref | null): TrafficOutcome {
  const single = evaluateRequest(ctx, check, testGateway);
  if (single.failure) return single;
  const c = check as Plain;
  const gateway = (c['gateway'] ?? testGateway) as Ref;
  const built = buildRequest(ctx, c, gateway, c['protocol'] === 'grpc');
  const resolution = resolveHttp(ctx.config, built.proxyRequest);
  const shares = new Map<string, number>();
  for (const upstream of resolution.upstreams ?? []) {
    const pods = (upstream.endpoints ?? []).map((e) => ctx.pods.get(e.address)?.deployment ?? e.address);
    for (const name of new Set(pods)) shares.set(name, (shares.get(name) ?? 0) + upstream.share / new Set(pods).size);
  }
  const expected = (c['expectedWeights'] ?? {}) as Record<string, number>;
  const tolerance = Number(c['tolerance'] ?? 0.05);
  const got = [...shares].map(([n, s]) => `${n} ${Math.round(s * 1000) / 10}%`).join(', ');
  for (const [name, share] of shares) if (!(name in expected) && share > 0) return { failure: `backend ${name} gets ${share}, expected none (${got})`, resolved: single.resolved };
  for (const [name, weight] of Object.entries(expected)) {
    const share = shares.get(name) ?? 0;
    if (weight === 0 ? share !== 0 : Math.abs(share - weight) > tolerance) return { failure: `backend ${name} gets ${Math.round(share * 1000) / 10}%, expected ${weight * 100}% +/- ${tolerance * 100} (${got})`, resolved: single.resolved };
  }
  return { resolved: `${single.resolved}; shares ${got}` };
}

export function evaluateTraffic(ctx: TrafficContext, check: Check, testGateway: Ref | null): TrafficOutcome {
  const c = check as Plain;
  const gateway = (c['gateway'] ?? testGateway) as Ref;
  switch (check.check) {
    case 'http':
    case 'https':
    case 'grpc':
    case 'httpsFailure':
      return evaluateRequest(ctx, check, testGateway);
    case 'weightedDistribution':
      return evaluateDistribution(ctx, check, testGateway);
    case 'tlsConnectionRejected': {
      const port = Number(c['port'] ?? ctx.defaultPort(gateway) ?? 443);
      const resolution = resolveTls(ctx.config, serviceOf(gateway), port, String(c['serverName']));
      return resolution.connection ? { resolved: describe(resolution) } : { failure: `a filter chain accepts SNI ${c['serverName']}`, resolved: describe(resolution) };
    }
    case 'tlsTcpEcho': {
      const request = c['request'] as Plain;
      const expected = c['expected'] as Plain;
      const serverName = String(request['serverName']);
      const port = Number(request['port'] ?? ctx.defaultPort(gateway) ?? 443);
      const resolution = resolveTls(ctx.config, serviceOf(gateway), port, serverName);
      const resolved = describe(resolution);
      if (resolution.connection) return { failure: `no connection: ${resolution.connection}`, resolved };
      const targets = (resolution.tcpUpstreams ?? []).filter((u) => u.share > 0);
      if (!targets.length) return { failure: 'the chain does not proxy TCP to a cluster', resolved };
      const trustedCa = request['trustedCA'] ? ctx.pem({ kind: request['trustedCA']['kind'], namespace: request['trustedCA']['namespace'], name: request['trustedCA']['name'] }, String(request['trustedCA']['key'] ?? 'ca.crt')) : undefined;
      const terminated = !!resolution.tls;
      for (const target of targets) {
        const pod = (target.endpoints ?? []).map((e) => ctx.pods.get(e.address)).find(Boolean);
        if (!pod) return { failure: `cluster ${target.cluster} has no conformance pod endpoints`, resolved };
        if (!pod.name.startsWith(`${expected['backend']}-`)) return { failure: `expected backend ${expected['backend']}, got ${pod.name}`, resolved };
        if (pod.namespace !== expected['namespace']) return { failure: `expected namespace ${expected['namespace']}, got ${pod.namespace}`, resolved };
        // the certificate the client sees: the listener's when Envoy terminates, else the backend's own
        const served = terminated ? resolution.tls!.certificateChains[0] : pod.tlsSecret ? ctx.pem({ kind: 'Secret', namespace: pod.namespace, name: pod.tlsSecret }, 'tls.crt') : undefined;
        if (!served) return { failure: `TLS handshake fails: no certificate served (${terminated ? `secrets ${resolution.tls!.certificateSecrets.join(', ')} missing` : `${pod.name} serves no TLS`})`, resolved };
        if (trustedCa && !splitPems(trustedCa).some((ca) => issuedBy(served, ca))) return { failure: `TLS handshake fails: the served certificate is not issued by ${request['trustedCA']['name']}`, resolved };
        if (!certificateCovers(served, serverName)) return { failure: `TLS handshake fails: the served certificate is not valid for ${serverName}`, resolved };
        const upstreamTls = ctx.config.clusters.get(target.cluster)?.['transportSocket'] as Plain | undefined;
        const backendIsTls = !terminated || !!upstreamTls;
        if (backendIsTls !== expected['backendIsTLS']) return { failure: `expected the backend to ${expected['backendIsTLS'] ? '' : 'not '}see TLS, the chain ${terminated ? 'terminates' : 'passes'} TLS${upstreamTls ? ' and re-encrypts' : ''}`, resolved };
        const backendSni = !terminated ? serverName : (upstreamTls?.['typedConfig']?.['sni'] as string | undefined) ?? null;
        if (expected['backendSNI'] != null && backendSni !== expected['backendSNI']) return { failure: `expected the backend to see SNI ${expected['backendSNI']}, it sees ${backendSni ?? 'none'}`, resolved };
      }
      return { resolved };
    }
    case 'backendHeaderMatchesPod': {
      const built = buildRequest(ctx, c, gateway);
      const resolution = resolveHttp(ctx.config, built.proxyRequest);
      const resolved = describe(resolution);
      if (!resolution.upstreams?.length) return { failure: `request not forwarded (${resolution.status ?? resolution.connection})`, resolved };
      const header = String(c['header']);
      for (const upstream of resolution.upstreams.filter((u) => u.share > 0)) {
        const values = upstream.request.headers.values(header);
        const pod = (upstream.endpoints ?? []).map((e) => ctx.pods.get(e.address)).find(Boolean);
        if (values.length !== 1) return { failure: `${upstream.cluster}: the backend sees ${values.length} ${header} headers (${values.join(', ')})`, resolved };
        if (!pod || !pod.name.startsWith(values[0]!)) return { failure: `${upstream.cluster}: pod ${pod?.name ?? 'none'} does not start with ${header} "${values[0]}"`, resolved };
      }
      return { resolved };
    }
    case 'websocket': {
      // the frames' echo needs a live connection; what the configuration decides is whether the upgrade is let through to the backend
      const port = ctx.defaultPort(gateway) ?? 80;
      const url = String((c['request'] as Plain)['url'] ?? 'ws://{GATEWAY_ADDRESS}/ws');
      const path = url.replace(/^ws:\/\/[^/]*/, '') || '/';
      const headers = new Headers({ upgrade: 'websocket', connection: 'Upgrade', origin: String((c['request'] as Plain)['origin'] ?? '') });
      const resolution = resolveHttp(ctx.config, { service: serviceOf(gateway), port, method: 'GET', path, authority: `${gatewayAddress(ctx, gateway, port)}:${port}`, headers });
      const resolved = describe(resolution);
      if (resolution.connection || resolution.status !== undefined) return { failure: `the upgrade request is not forwarded (${resolution.connection ?? resolution.status})`, resolved };
      if (!resolution.upgrades?.includes('websocket')) return { failure: 'the connection manager does not allow the websocket upgrade (upgrade_configs)', resolved };
      for (const upstream of (resolution.upstreams ?? []).filter((u) => u.share > 0)) {
        if (!upstream.endpoints?.length) return { failure: `cluster ${upstream.cluster} has no endpoints`, resolved };
      }
      return { resolved: `${resolved}; websocket upgrade allowed` };
    }
    case 'tcpEcho':
    case 'udpEcho':
      return evaluateL4Echo(ctx, check, gateway);
    default:
      return { failure: `check ${check.check} is not evaluated by this harness (needs a live proxy)`, resolved: '' };
  }
}

export const TRAFFIC_CHECKS = new Set(['http', 'https', 'grpc', 'httpsFailure', 'weightedDistribution', 'tlsConnectionRejected', 'tlsTcpEcho', 'backendHeaderMatchesPod', 'websocket', 'tcpEcho', 'udpEcho']);
