/**
 * NATS least privilege, derived from the contract's writer -> readers table: each service may write
 * only the buckets and subjects it owns, read what it consumes, and answer its own micro endpoints.
 * `npm start`, the system tests and k8s/ all render the nats-server authorization from this one place,
 * so a missing permission fails a test before it fails a cluster.
 */
import { BUCKETS, SERVICES, type ServiceName } from './names.js';

/** Users: one per service, plus read-only `cli` for the tendril CLI and operators. */
export type NatsUser = ServiceName | 'cli';
export const NATS_USERS: readonly NatsUser[] = [...SERVICES, 'cli'];

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** Buckets each service writes (and therefore creates). */
export const BUCKET_OWNERS: Record<string, ServiceName> = {
  [BUCKETS.objects]: 'k8s-watcher',
  [BUCKETS.secrets]: 'k8s-watcher',
  [BUCKETS.status]: 'translator',
  [BUCKETS.xds]: 'translator',
  [BUCKETS.sds]: 'translator',
  [BUCKETS.lb]: 'translator',
  [BUCKETS.owned]: 'translator',
  [BUCKETS.proxies]: 'xds-server',
  [BUCKETS.identities]: 'translator',
  [BUCKETS.policy]: 'translator',
  [BUCKETS.ca]: 'translator',
};

/**
 * Who reads each bucket besides its owner (an owner always reads what it writes: the watcher diffs
 * against tendril-objects, a standby translator mirrors its outputs). Read rights are per bucket: a
 * user can look up, get and watch only these streams. Key material has buckets of its own that the
 * read-only CLI does not read: Kubernetes Secrets (`tendril-secrets`) go from the watcher to the
 * translator alone, SDS resources (`tendril-sds`) from the translator to the xds-server alone.
 */
export const BUCKET_READERS: Record<string, readonly NatsUser[]> = {
  [BUCKETS.objects]: ['translator', 'cli'],
  [BUCKETS.secrets]: ['translator'],
  [BUCKETS.status]: ['k8s-watcher', 'cli'],
  [BUCKETS.xds]: ['xds-server', 'cli'],
  [BUCKETS.sds]: ['xds-server'],
  [BUCKETS.lb]: ['datapath', 'metrics', 'cli'],
  [BUCKETS.proxies]: ['translator', 'metrics', 'cli'],
  [BUCKETS.owned]: ['k8s-watcher', 'cli'],
  [BUCKETS.identities]: ['cli'],
  [BUCKETS.policy]: ['datapath', 'cli'],
  // the CA's private key: its owner alone
  [BUCKETS.ca]: [],
  // who holds a lease, for operators (no key material in it)
  [BUCKETS.leases]: ['cli'],
};

/** The buckets a user may read: those it owns, holds a lease in, or is a reader of. */
export function bucketsReadBy(user: NatsUser): string[] {
  const buckets = new Set<string>();
  for (const [bucket, owner] of Object.entries(BUCKET_OWNERS)) if (owner === user) buckets.add(bucket);
  for (const [bucket, readers] of Object.entries(BUCKET_READERS)) if (readers.includes(user)) buckets.add(bucket);
  if (user !== 'cli' && LEASE_HOLDERS.includes(user)) buckets.add(BUCKETS.leases);
  return [...buckets].sort();
}

/** Services that run one active replica and hold their lease in `tendril-leases` (their own key only). */
export const LEASE_HOLDERS: readonly ServiceName[] = ['translator'];

/** Subjects each service publishes, and the ones it subscribes to, beyond KV. */
const EVENTS: Record<ServiceName, { publish: string[]; subscribe: string[] }> = {
  'k8s-watcher': { publish: [], subscribe: [] },
  translator: { publish: [], subscribe: ['tendril.xds.proxy.>'] },
  'xds-server': { publish: ['tendril.xds.proxy.>'], subscribe: [] },
  datapath: { publish: ['tendril.flows.>'], subscribe: [] },
  // flows-gather: a flow query asks every metrics replica for its share of the queue-grouped flows
  metrics: { publish: ['tendril.metrics.flows-gather'], subscribe: ['tendril.stats.>', 'tendril.xds.proxy.>', 'tendril.flows.>'] },
};

/** What any JetStream user needs: account info and the names of streams (no content). */
const JS_BASE = ['$JS.API.INFO', '$JS.API.STREAM.NAMES'];

/**
 * What reading one KV bucket takes, and nothing of another's: its stream's info, direct and message
 * gets, the consumers of watches and key listings (created, looked at, deleted), and their flow
 * control replies and acks.
 */
export function kvReadSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.FC.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

export function natsPermissions(user: NatsUser): NatsPermissions {
  if (user === 'cli') {
    return { publish: [...JS_BASE, ...bucketsReadBy(user).flatMap(kvReadSubjects), '$SRV.>', 'tendril.*.info', 'tendril.*.dump', 'tendril.*.dump.*', 'tendril.*.history', 'tendril.*.errors', 'tendril.*.status'], subscribe: ['_INBOX.>', 'tendril.flows.>', 'tendril.xds.proxy.>'] };
  }
  const owned = Object.entries(BUCKET_OWNERS)
    .filter(([, owner]) => owner === user)
    .map(([bucket]) => bucket);
  return {
    publish: [
      ...JS_BASE,
      ...bucketsReadBy(user).flatMap(kvReadSubjects),
      ...owned.flatMap((bucket) => [`$JS.API.STREAM.CREATE.KV_${bucket}`, `$JS.API.STREAM.UPDATE.KV_${bucket}`, `$KV.${bucket}.>`]),
      // a lease holder's own key, and requests a standby passes on to the active replica
      ...(LEASE_HOLDERS.includes(user) ? [`$JS.API.STREAM.CREATE.KV_${BUCKETS.leases}`, `$JS.API.STREAM.UPDATE.KV_${BUCKETS.leases}`, `$KV.${BUCKETS.leases}.${user}`, `tendril.${user}.active.>`] : []),
      `tendril.stats.${user}`,
      ...EVENTS[user].publish,
    ],
    subscribe: ['_INBOX.>', '$SRV.>', `tendril.${user}.>`, ...EVENTS[user].subscribe],
  };
}

/**
 * The `authorization` block of a nats-server configuration: one user per service, passwords taken
 * from the environment variable TENDRIL_NATS_PASSWORD_<USER> when the server starts.
 */
export function natsAuthorizationConfig(): string {
  const quote = (subjects: string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;
  const users = NATS_USERS.map((user) => {
    const permissions = natsPermissions(user);
    return [
      `    {`,
      `      user: ${JSON.stringify(user)}`,
      `      password: $${natsPasswordVariable(user)}`,
      `      permissions: {`,
      `        publish: { allow: ${quote(permissions.publish)} }`,
      `        subscribe: { allow: ${quote(permissions.subscribe)} }`,
      `        allow_responses: true`,
      `      }`,
      `    }`,
    ].join('\n');
  });
  return `authorization {\n  users: [\n${users.join('\n')}\n  ]\n}\n`;
}

/**
 * Environment variable holding a user's password for the nats-server configuration. nats-server
 * parses its value like a configuration value: use letters and digits, starting with a letter.
 */
export function natsPasswordVariable(user: NatsUser): string {
  return `TENDRIL_NATS_PASSWORD_${user.toUpperCase().replace(/-/g, '_')}`;
}
