/**
 * k8s/ as an operator applies it: rendered by kustomize, every object valid against the Kubernetes
 * OpenAPI schemas, and every reference between objects resolving (selectors, ServiceAccounts, ports,
 * probe ports, ConfigMaps, Secrets, RBAC), with least privilege in the Kubernetes API and in NATS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NATS_MAX_PAYLOAD, natsAuthorizationConfig } from '@tendril/contract';
import { kubectlMissing, render, repoRoot, secretFile, validateAgainstSchema, type K8sObject } from './render.js';

const WORKLOADS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

function checkReferences(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const named = (kind: string, name: string) => objects.some((o) => o.kind === kind && o.metadata.name === name);
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  for (const workload of workloads) {
    const where = `${workload.kind}/${workload.metadata.name}`;
    const pod = workload['spec'].template;
    if (!matches(workload['spec'].selector.matchLabels, pod.metadata.labels)) problems.push(`${where}: selector does not match its pod labels`);
    const account = pod.spec.serviceAccountName;
    if (!account) problems.push(`${where}: no serviceAccountName`);
    else if (!named('ServiceAccount', account)) problems.push(`${where}: ServiceAccount ${account} missing`);
    for (const volume of pod.spec.volumes ?? []) {
      if (volume.configMap && !named('ConfigMap', volume.configMap.name)) problems.push(`${where}: ConfigMap ${volume.configMap.name} missing`);
      if (volume.secret && !named('Secret', volume.secret.secretName)) problems.push(`${where}: Secret ${volume.secret.secretName} missing`);
    }
    for (const container of pod.spec.containers) {
      const portNames = new Set((container.ports ?? []).map((p: any) => p.name));
      const portNumbers = new Set((container.ports ?? []).map((p: any) => p.containerPort));
      for (const probe of ['livenessProbe', 'readinessProbe']) {
        const port = container[probe]?.httpGet?.port;
        if (port === undefined) problems.push(`${where}/${container.name}: no ${probe}`);
        else if (typeof port === 'string' ? !portNames.has(port) : !portNumbers.has(port)) problems.push(`${where}/${container.name}: ${probe} port ${port} not a container port`);
      }
      for (const env of container.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
        if (!secret) problems.push(`${where}: Secret ${ref.name} missing`);
        else if (!(ref.key in (secret['data'] ?? {}))) problems.push(`${where}: Secret ${ref.name} has no key ${ref.key}`);
      }
      if (!container.resources?.requests) problems.push(`${where}/${container.name}: no resource requests`);
    }
  }
  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const where = `Service/${service.metadata.name}`;
    const backing = workloads.filter((w) => matches(service['spec'].selector ?? {}, w['spec'].template.metadata.labels));
    if (backing.length === 0) {
      problems.push(`${where}: selector matches no workload`);
      continue;
    }
    for (const port of service['spec'].ports) {
      const target = port.targetPort ?? port.port;
      const served = backing.some((w) =>
        w['spec'].template.spec.containers.some((c: any) => (c.ports ?? []).some((p: any) => (typeof target === 'string' ? p.name === target : p.containerPort === target))),
      );
      if (!served) problems.push(`${where}: port ${port.name ?? port.port} targets ${target}, which no container exposes`);
    }
  }
  for (const budget of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    if (!workloads.some((w) => matches(budget['spec'].selector.matchLabels, w['spec'].template.metadata.labels))) problems.push(`PodDisruptionBudget/${budget.metadata.name}: selects nothing`);
  }
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const role = binding['roleRef'];
    if (!named(role.kind, role.name)) problems.push(`${binding.kind}/${binding.metadata.name}: ${role.kind} ${role.name} missing`);
    for (const subject of binding['subjects'] ?? []) {
      if (subject.kind === 'ServiceAccount' && !named('ServiceAccount', subject.name)) problems.push(`${binding.kind}/${binding.metadata.name}: ServiceAccount ${subject.name} missing`);
    }
  }
  return problems;
}

for (const dir of ['k8s/base', 'k8s/overlays/production', 'k8s/overlays/xds-mtls', 'k8s/crds']) {
  describe(`kubectl kustomize ${dir}`, { skip: kubectlMissing }, () => {
    const objects = render(dir);

    it('renders objects that all pass the Kubernetes OpenAPI schemas', async () => {
      assert.ok(objects.length > 0);
      for (const object of objects) await assert.doesNotReject(() => validateAgainstSchema(object), `${object.kind}/${object.metadata.name}`);
    });

    it('resolves every reference between its objects', () => {
      assert.deepEqual(checkReferences(objects), []);
    });
  });
}

describe('least privilege', { skip: kubectlMissing }, () => {
  const objects = render('k8s/overlays/production');

  it('only the k8s-watcher may use the Kubernetes API; every other pod runs without a token', () => {
    const bound = objects
      .filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
      .flatMap((b) => (b['subjects'] ?? []).map((s: any) => s.name));
    assert.deepEqual([...new Set(bound)], ['tendril-k8s-watcher']);
    for (const workload of objects.filter((o) => WORKLOADS.has(o.kind))) {
      const spec = workload['spec'].template.spec;
      if (spec.serviceAccountName === 'tendril-k8s-watcher') continue;
      assert.equal(spec.automountServiceAccountToken, false, `${workload.kind}/${workload.metadata.name} mounts an API token`);
    }
  });

  it('the watcher is granted exactly what it uses: watch what it mirrors, write status back, its Lease, and the Services and EndpointSlices it owns', () => {
    const granted = new Set<string>();
    for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
      for (const rule of role['rules']) for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) granted.add(`${role.kind} ${group || 'core'}/${resource} ${verb}`);
    }
    const expected = new Set<string>();
    const grant = (role: string, group: string, resources: string[], verbs: string[]) => {
      for (const resource of resources) for (const verb of verbs) expected.add(`${role} ${group}/${resource} ${verb}`);
    };
    // mirrored into tendril-objects (list+watch), and read fresh before a status write (get)
    grant('ClusterRole', 'core', ['secrets', 'configmaps', 'namespaces', 'nodes', 'pods'], ['list', 'watch']);
    grant('ClusterRole', 'cilium.io', ['ciliumenvoyconfigs', 'ciliumclusterwideenvoyconfigs', 'ciliumnetworkpolicies', 'ciliumclusterwidenetworkpolicies'], ['list', 'watch']);
    grant('ClusterRole', 'networking.k8s.io', ['ingressclasses', 'networkpolicies'], ['list', 'watch']);
    grant('ClusterRole', 'gateway.networking.k8s.io', ['referencegrants'], ['list', 'watch']);
    grant('ClusterRole', 'networking.k8s.io', ['ingresses'], ['get', 'list', 'watch']);
    grant('ClusterRole', 'gateway.networking.k8s.io', ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'tlsroutes', 'tcproutes', 'udproutes', 'backendtlspolicies', 'listenersets'], ['get', 'list', 'watch']);
    // status written back with a merge patch of the status subresource
    grant('ClusterRole', 'networking.k8s.io', ['ingresses/status'], ['patch']);
    grant('ClusterRole', 'gateway.networking.k8s.io', ['gatewayclasses/status', 'gateways/status', 'httproutes/status', 'grpcroutes/status', 'tlsroutes/status', 'tcproutes/status', 'udproutes/status', 'backendtlspolicies/status', 'listenersets/status'], ['patch']);
    // owned objects: created, applied, read back, deleted
    grant('ClusterRole', 'core', ['services'], ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
    grant('ClusterRole', 'discovery.k8s.io', ['endpointslices'], ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
    // an ownerReference with blockOwnerDeletion on an owned object needs update on its owner's finalizers
    grant('ClusterRole', 'networking.k8s.io', ['ingresses/finalizers'], ['update']);
    grant('ClusterRole', 'gateway.networking.k8s.io', ['gateways/finalizers'], ['update']);
    // leader election: read, take (create or update) and release (update) the Lease
    grant('Role', 'coordination.k8s.io', ['leases'], ['get', 'create', 'update']);
    assert.deepEqual([...granted].sort(), [...expected].sort());
  });

  it('each service listens on its pod address (the downward API), never on a default that Services cannot reach', () => {
    // Tendril's listeners bind 127.0.0.1 unless configured; a Service, a probe or a scrape reaches the pod address.
    const listeners: Record<string, string[]> = { 'xds-server': ['TENDRIL_HTTP_HOST', 'TENDRIL_XDS_HOST'], metrics: ['TENDRIL_HTTP_HOST', 'TENDRIL_ALS_HOST'] };
    for (const name of ['k8s-watcher', 'translator', 'xds-server', 'datapath', 'metrics']) {
      const workload = objects.find((o) => WORKLOADS.has(o.kind) && o.metadata.name === name)!;
      const env = workload['spec'].template.spec.containers[0].env as any[];
      assert.equal(env.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.podIP', `${name}: POD_IP from the downward API`);
      const podIp = env.findIndex((e) => e.name === 'POD_IP');
      for (const variable of listeners[name] ?? ['TENDRIL_HTTP_HOST']) {
        const index = env.findIndex((e) => e.name === variable);
        assert.equal(env[index]?.value, '$(POD_IP)', `${name}: ${variable}`);
        assert.ok(index > podIp, `${name}: ${variable} comes after POD_IP (Kubernetes expands only earlier variables)`);
      }
    }
  });

  it("NATS in k8s takes values up to the contract's max_payload in one message", () => {
    for (const file of ['k8s/base/nats/nats.conf', 'k8s/overlays/production/nats/nats.conf']) {
      const setting = /^max_payload:\s*(\d+)\s*$/m.exec(readFileSync(join(repoRoot, file), 'utf8'));
      assert.equal(Number(setting?.[1]), NATS_MAX_PAYLOAD, `${file} sets max_payload to NATS_MAX_PAYLOAD`);
    }
  });

  it('NATS in k8s runs with exactly the permissions of the contract, a user per service from the Secret', () => {
    const shipped = readFileSync(join(repoRoot, 'k8s/base/nats/auth.conf'), 'utf8').replace(/^#.*\n/, '');
    assert.equal(shipped, natsAuthorizationConfig(), 'k8s/base/nats/auth.conf is stale: run node tools/k8s/render-nats-auth.mjs');
    for (const name of ['k8s-watcher', 'translator', 'xds-server', 'datapath', 'metrics']) {
      const workload = objects.find((o) => WORKLOADS.has(o.kind) && o.metadata.name === name)!;
      const env = workload['spec'].template.spec.containers[0].env as any[];
      assert.equal(env.find((e) => e.name === 'TENDRIL_NATS_USER')?.value, name);
      assert.equal(env.find((e) => e.name === 'TENDRIL_NATS_PASSWORD')?.valueFrom?.secretKeyRef?.key, name);
    }
  });
});

describe('production overlay: TLS to NATS, one translator writer', { skip: kubectlMissing }, () => {
  const objects = render('k8s/overlays/production');
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));

  it('nats-server requires TLS from clients and routes and verifies client certificates, from its Secret', () => {
    const nats = workloads.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats')!;
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('nats-config'))!['data']['nats.conf'] as string;
    const blocks = [...config.matchAll(/tls \{([^}]*)\}/g)].map((match) => match[1]!);
    assert.equal(blocks.length, 2, 'a tls block for clients and one for routes');
    for (const block of blocks) {
      assert.match(block, /verify: true/);
      for (const field of ['cert_file', 'key_file', 'ca_file']) {
        const path = new RegExp(`${field}: (\\S+)`).exec(block)?.[1];
        assert.ok(path, `${field} in ${block}`);
        const file = secretFile(objects, nats, path);
        assert.ok(file && file.key in file.secret['data'], `${field} ${path} comes from a Secret that has it`);
      }
    }
  });

  it('every service that talks to NATS trusts the CA and presents a client certificate from a mounted Secret', () => {
    const clients = workloads.filter((o) => (o['spec'].template.spec.containers[0].env ?? []).some((e: { name: string }) => e.name === 'TENDRIL_NATS_USER'));
    assert.deepEqual(clients.map((o) => o.metadata.name).sort(), ['datapath', 'k8s-watcher', 'metrics', 'translator', 'xds-server']);
    for (const workload of clients) {
      const env = workload['spec'].template.spec.containers[0].env as { name: string; value?: string }[];
      for (const name of ['TENDRIL_NATS_TLS_CA', 'TENDRIL_NATS_TLS_CERT', 'TENDRIL_NATS_TLS_KEY']) {
        const path = env.find((e) => e.name === name)?.value;
        assert.ok(path, `${workload.metadata.name}: ${name}`);
        const file = secretFile(objects, workload, path);
        assert.ok(file && file.key in file.secret['data'], `${workload.metadata.name}: ${name}=${path} comes from a mounted Secret that has it`);
      }
    }
  });

  it('the translator runs two replicas (one writer by its lease) and may roll them one by one', () => {
    const translator = workloads.find((o) => o.metadata.name === 'translator')!;
    assert.equal(translator['spec'].replicas, 2);
    assert.notEqual(translator['spec'].strategy?.type, 'Recreate');
  });
});

describe('kubectl kustomize k8s/gateway-api', { skip: kubectlMissing }, () => {
  it('installs the GatewayClass cilium of our controller (the Gateway API CRDs come first)', () => {
    const objects = render('k8s/gateway-api');
    assert.deepEqual(
      objects.map((o) => [o.apiVersion, o.kind, o.metadata.name, o['spec'].controllerName]),
      [['gateway.networking.k8s.io/v1', 'GatewayClass', 'cilium', 'io.cilium/gateway-controller']],
    );
  });
});

describe('the IngressClass', { skip: kubectlMissing }, () => {
  it('k8s/base installs IngressClass cilium, not as the cluster default', () => {
    const ingressClass = render('k8s/base').find((o) => o.kind === 'IngressClass');
    assert.equal(ingressClass?.metadata.name, 'cilium');
    assert.equal((ingressClass?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.['ingressclass.kubernetes.io/is-default-class'], undefined);
  });
});
