/**
 * Envoy NACKs reach the status of the object that generated the rejected resource, through
 * the real services: a raw ADS (state of the world) and a delta client NACK
 * resources the translator made from a CiliumEnvoyConfig; the xds-server records which resources
 * each NACK rejected in tendril-proxies; the translator overlays tendril-status. The rejection goes
 * away when the proxy ACKs a fixed version, or disconnects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type KV, type NatsConnection } from 'nats';
import { BUCKETS, XDS_TYPES, objectStatusCodec, objectKey } from '@tendril/contract';
import { AdsTestClient, DeltaTestClient, waitFor } from '@tendril/testing';
import { ingressManifest, runCli, serviceManifest } from './fixtures.js';
import { System } from './system.js';

const LDS = XDS_TYPES.listener;
const RDS = XDS_TYPES.route;
const CLUSTER = 'default'; // TENDRIL_CLUSTER's default

const SERVICE = `${serviceManifest({ name: 'web', clusterIP: '127.100.77.7', endpoints: ['127.0.77.1'] })}---
${ingressManifest({ name: 'web', host: 'web.example', path: '/' })}`;

/** A CiliumEnvoyConfig with a listener and its route configuration; `prefix` changes the route's content. */
const config = (prefix: string) => `apiVersion: cilium.io/v2
kind: CiliumEnvoyConfig
metadata: {name: edge, namespace: default}
spec:
  resources:
  - "@type": type.googleapis.com/envoy.config.listener.v3.Listener
    name: edge-listener
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: edge
          rds: {route_config_name: edge-route}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
    name: edge-route
    virtual_hosts:
    - name: all
      domains: ["*"]
      routes:
      - match: {prefix: "${prefix}"}
        route: {cluster: default/web:80}
`;

/** A Gateway and an HTTPRoute to Service web; `path` changes the route's content. */
const gateway = (path: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop-gw, namespace: default}
spec:
  gatewayClassName: cilium
  listeners: [{name: web, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  parentRefs: [{name: shop-gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${path}}}]
    backendRefs: [{name: web, port: 80}]
`;
/** names.ts gatewayRouteName: the Gateway's route configuration for plaintext HTTP on port 80. */
const GATEWAY_ROUTE = 'default/cilium-gateway-shop-gw/80/http';
const GATEWAY_KEY = objectKey({ cluster: CLUSTER, kind: 'gateway', namespace: 'default', name: 'shop-gw' });
const HTTPROUTE_KEY = objectKey({ cluster: CLUSTER, kind: 'httproute', namespace: 'default', name: 'shop' });

const LISTENER = 'default/edge/edge-listener';
const ROUTE = 'default/edge/edge-route';
const CEC_KEY = objectKey({ cluster: CLUSTER, kind: 'ciliumenvoyconfig', namespace: 'default', name: 'edge' });

interface ConfigStatus {
  resources: string[];
  errors: string[];
}

describe('Envoy NACKs in object status', { timeout: 240000 }, () => {
  const system = new System('nack');
  let nc: NatsConnection;
  let statusKv: KV;
  const clients: { close(): void }[] = [];

  const configStatus = async (): Promise<ConfigStatus | undefined> => {
    const entry = await statusKv.get(CEC_KEY);
    return entry?.value.length ? (objectStatusCodec.decode(entry.value).status as unknown as ConfigStatus) : undefined;
  };
  const conditionsOf = async (key: string): Promise<Record<string, unknown>[] | undefined> => {
    const entry = await statusKv.get(key);
    if (!entry?.value.length) return undefined;
    const status = objectStatusCodec.decode(entry.value).status as { conditions?: Record<string, unknown>[]; parents?: { conditions: Record<string, unknown>[] }[] };
    return status.conditions ?? status.parents?.[0]?.conditions;
  };
  const programmed = (conditions: Record<string, unknown>[] | undefined) => conditions?.find((condition) => condition['type'] === 'Programmed');
  const translatorLog = () => system.services.get('translator')!.output.join('\n');

  before(async () => {
    await system.start();
    nc = await connect(system.observer);
    system.writeManifest('web.yaml', SERVICE);
    system.writeManifest('edge.yaml', config('/'));
    statusKv = await waitFor('tendril-status exists', async () => nc.jetstream().views.kv(BUCKETS.status, { bindOnly: true }).catch(() => undefined), 30000);
    await waitFor('the config is served', async () => (await configStatus())?.resources.includes(`listener ${LISTENER}`), 60000);
  });
  after(async () => {
    for (const client of clients) client.close();
    await nc?.close();
    await system.dispose();
  });

  it("a state-of-the-world NACK naming a config's listener lands in its status, and clears when a fixed version is ACKed", async () => {
    try {
      const proxy = new AdsTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'sotw-node' });
      clients.push(proxy);
      const envoyMessage = `Error adding/updating listener(s) ${LISTENER}: cannot bind '127.0.0.1:10042': Address already in use`;
      proxy.nack(LDS, envoyMessage);
      proxy.subscribe(LDS);
      const rejected = await proxy.waitFor(LDS, (r) => !r.acked, 30000);
      assert.ok(rejected.resources.length >= 2, 'the Ingress listener came in the same response');
      const status = await waitFor('the NACK in the config status', async () => {
        const s = await configStatus();
        return s && s.errors.length > 0 ? s : undefined;
      }, 30000);
      // Only the listener Envoy named is rejected, not the Ingress listener of the same response.
      assert.deepEqual(status.errors, [`listener ${LISTENER}: rejected by 1 proxy: ${envoyMessage}`]);
      assert.ok(!status.resources.includes(`listener ${LISTENER}`));
      assert.ok(!/web\.example|ingress/.test(translatorLog().split('\n').filter((line) => line.includes('rejected by')).join('\n')), 'the Ingress was not blamed');
      // The user fixes the config; the proxy ACKs the new version; the status is rewritten without the rejection.
      system.writeManifest('edge.yaml', config('/fixed').replace('stat_prefix: edge', 'stat_prefix: edge-fixed'));
      await proxy.waitFor(LDS, (r) => r.acked && r.resources.some((l) => JSON.stringify(l).includes('edge-fixed')), 30000);
      const cleared = await waitFor('the rejection gone from the status', async () => {
        const s = await configStatus();
        return s && s.errors.length === 0 ? s : undefined;
      }, 30000);
      assert.ok(cleared.resources.includes(`listener ${LISTENER}`));
      proxy.close();
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${system.dumpOutput()}`);
    }
  });

  it('a delta NACK of a route configuration lands in the status and goes away when the proxy disconnects', async () => {
    try {
      const proxy = new DeltaTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'delta-node' });
      clients.push(proxy);
      proxy.nack(RDS, 'Proto constraint validation failed (RouteConfigurationValidationError.VirtualHosts[0]: invalid)');
      proxy.subscribe(RDS, [ROUTE]);
      await proxy.waitFor(RDS, (r) => r.acked === false, 30000);
      const status = await waitFor('the delta NACK in the config status', async () => {
        const s = await configStatus();
        return s && s.errors.length > 0 ? s : undefined;
      }, 30000);
      assert.deepEqual(status.errors, [`route ${ROUTE}: rejected by 1 proxy: Proto constraint validation failed (RouteConfigurationValidationError.VirtualHosts[0]: invalid)`]);
      // tendril proxy-status names the rejected resource, and says so by its exit code.
      const cli = await runCli(['proxy-status', '--nats', system.nats.url, '--node', 'delta-node', '-o', 'json'], { TENDRIL_NATS_USER: 'cli', TENDRIL_NATS_PASSWORD: system.nats.credentials!.cli.password });
      assert.equal(cli.code, 1, cli.stderr);
      const [row] = JSON.parse(cli.stdout) as { types: Record<string, { state: string; rejected: string[] }> }[];
      assert.equal(row!.types['route']!.state, 'NACK');
      assert.deepEqual(row!.types['route']!.rejected, [ROUTE]);
      proxy.close();
      await waitFor('the rejection gone once the proxy is disconnected', async () => (await configStatus())?.errors.length === 0, 30000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${system.dumpOutput()}`);
    }
  });

  it('an Ingress has no conditions: a NACK of its route configuration is logged by the translator, naming it', async () => {
    try {
      const route = 'default/cilium-ingress-web/insecure'; // names.ts ingressRouteName, dedicated mode
      const proxy = new DeltaTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'ingress-node' });
      clients.push(proxy);
      proxy.nack(RDS, 'Proto constraint validation failed: bad ingress route');
      proxy.subscribe(RDS, [route]);
      await proxy.waitFor(RDS, (r) => r.acked === false && r.resources.length === 1, 30000);
      const ingressKey = objectKey({ cluster: CLUSTER, kind: 'ingress', namespace: 'default', name: 'web' });
      await waitFor('the rejection in the translator log', () => translatorLog().includes(`${ingressKey}: rejected by 1 proxy: Proto constraint validation failed: bad ingress route (route ${route})`), 30000);
      proxy.close();
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${system.dumpOutput()}`);
    }
  });

  it("a NACK of a Gateway's route configuration: Gateway and HTTPRoute Programmed=False with Envoy's message, until a fixed version is ACKed", async () => {
    try {
      system.writeManifest('gateway.yaml', gateway('/shop'));
      // Subscribed before it exists, the route would first be reported missing (and that answer NACKed).
      await waitFor('the Gateway programmed', async () => programmed(await conditionsOf(GATEWAY_KEY))?.['status'] === 'True', 60000);
      const proxy = new DeltaTestClient(`127.0.0.1:${system.xdsPort}`, { nodeId: 'gateway-node' });
      clients.push(proxy);
      const envoyMessage = 'Proto constraint validation failed (RouteConfigurationValidationError.VirtualHosts[0]: embedded message failed validation)';
      proxy.nack(RDS, envoyMessage);
      proxy.subscribe(RDS, [GATEWAY_ROUTE]);
      await proxy.waitFor(RDS, (r) => r.acked === false && r.resources.length === 1, 30000);
      const expected = `rejected by 1 proxy: ${envoyMessage} (route ${GATEWAY_ROUTE})`;
      const gatewayProgrammed = await waitFor('Gateway Programmed=False', async () => {
        const condition = programmed(await conditionsOf(GATEWAY_KEY));
        return condition?.['status'] === 'False' ? condition : undefined;
      }, 30000);
      assert.deepEqual([gatewayProgrammed['reason'], gatewayProgrammed['message']], ['Invalid', expected]);
      const routeProgrammed = await waitFor('HTTPRoute parent Programmed=False', async () => programmed(await conditionsOf(HTTPROUTE_KEY)), 30000);
      assert.deepEqual([routeProgrammed['status'], routeProgrammed['reason'], routeProgrammed['message']], ['False', 'RejectedByProxy', expected]);
      // The route is fixed; the proxy ACKs the new version; the conditions are the translation's own again.
      system.writeManifest('gateway.yaml', gateway('/shop/v2'));
      await proxy.waitFor(RDS, (r) => r.acked === true && JSON.stringify(r.resources).includes('/shop/v2'), 30000);
      await waitFor('Gateway Programmed=True again', async () => programmed(await conditionsOf(GATEWAY_KEY))?.['status'] === 'True', 30000);
      await waitFor('HTTPRoute without the rejection', async () => programmed(await conditionsOf(HTTPROUTE_KEY)) === undefined, 30000);
      proxy.close();
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${system.dumpOutput()}`);
    }
  });
});
