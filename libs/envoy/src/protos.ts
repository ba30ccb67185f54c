/**
 * Envoy's .proto files, as shipped in @grpc/grpc-js-xds's deps folder, loaded once on first use.
 * Only the files Tendril emits or reads are loaded (and what they import): loading all of
 * envoy-api would take seconds.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

/** Files loaded at first use: the resources, ADS, and the extensions the translator puts in Anys. */
export const PROTO_FILES = [
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/stateful_session/v3/stateful_session.proto',
  'envoy/extensions/http/stateful_session/cookie/v3/cookie.proto',
  'envoy/extensions/http/stateful_session/header/v3/header.proto',
  'envoy/extensions/filters/http/grpc_web/v3/grpc_web.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/maglev/v3/maglev.proto',
];

const require = createRequire(import.meta.url);

/** Include directories, in the order protoc would search them. */
export function includeDirs(): string[] {
  const xds = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const protobufjsDir = dirname(require.resolve('protobufjs/package.json'));
  return [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(xds, 'deps', d)), protobufjsDir];
}

let root: protobuf.Root | undefined;
const loaded = new Set<string>();

function newRoot(): protobuf.Root {
  const dirs = includeDirs();
  const fresh = new protobuf.Root();
  fresh.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  return fresh;
}

/** The shared root with PROTO_FILES loaded (and whatever loadProtoFiles added). */
export function envoyRoot(): protobuf.Root {
  if (!root) {
    root = newRoot();
    loadInto(root, PROTO_FILES);
    camelCaseAny(root);
  }
  return root;
}

function loadInto(target: protobuf.Root, files: readonly string[]): void {
  const missing = files.filter((f) => !loaded.has(f));
  if (missing.length === 0) return;
  target.loadSync(missing, { keepCase: false });
  target.resolveAll();
  for (const f of missing) loaded.add(f);
}

/**
 * protobufjs substitutes its bundled google/protobuf/any.proto, whose field keeps the snake_case
 * name type_url while every other field is camelCase; one naming scheme keeps the converters simple.
 */
function camelCaseAny(target: protobuf.Root): void {
  const any = target.lookupType('google.protobuf.Any');
  const snake = any.fields['type_url'];
  if (!snake) return;
  any.remove(snake);
  any.add(new protobuf.Field('typeUrl', 1, 'string'));
  target.resolveAll();
}

/** Loads more Envoy .proto files (paths relative to the include dirs), e.g. for an extension's Any. */
export function loadProtoFiles(...files: string[]): void {
  loadInto(envoyRoot(), files);
}

/** Types found by name: protobufjs' lookup walks the namespaces on every call (seconds a cold start). */
const foundTypes = new Map<string, protobuf.Type>();

export function lookupMessage(name: string): protobuf.Type {
  const known = foundTypes.get(name);
  if (known) return known;
  const found = envoyRoot().lookup(name.replace(/^\./, ''));
  if (!(found instanceof protobuf.Type)) throw new Error(`unknown message type ${name} (not in the loaded Envoy protos)`);
  foundTypes.set(name, found);
  return found;
}
