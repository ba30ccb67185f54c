/**
 * Mutated manifest files for fuzzing the manifest folder (test support, not used by the service):
 * good manifests taken apart with YAML's features (anchors and aliases, merge keys, tags, several
 * documents, deep nesting, huge scalars), text encodings (bad UTF-8, UTF-16 with and without a
 * byte-order mark, BOMs), truncation, binary noise and JSON. Deterministic for a seed.
 */

export interface FuzzCase {
  name: string;
  bytes: Uint8Array;
  /** What the mutation did, for a failure message. */
  how: string;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const SEEDS = (n: number): string[] => [
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: fz-svc-${n}\n  labels: {app: fz}\nspec:\n  selector: {app: fz}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n`,
  `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: fz-svc-${n}-1\n  labels: {kubernetes.io/service-name: fz-svc-${n}}\naddressType: IPv4\nendpoints:\n- addresses: [127.0.1.9]\nports:\n- name: http\n  port: 8080\n`,
  `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: fz-ing-${n}\nspec:\n  ingressClassName: cilium\n  rules:\n  - host: fz${n}.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service: {name: fz-svc-${n}, port: {number: 80}}\n`,
  `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: fz-route-${n}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /fz}}]\n    backendRefs: [{name: fz-svc-${n}, port: 80}]\n`,
  `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: fz-ns-${n}}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fz-ca-${n}}\n  data: {ca.crt: "-----BEGIN CERTIFICATE-----"}\n`,
];

type Mutation = (text: string, random: Random) => string | Uint8Array;

const utf8 = (text: string) => new TextEncoder().encode(text);

function aliasBomb(random: Random): string {
  const width = 2 + random.int(10);
  const levels = 2 + random.int(14);
  const lines = [`l0: &l0 [${Array(width).fill('"x"').join(',')}]`];
  for (let level = 1; level <= levels; level++) lines.push(`l${level}: &l${level} [${Array(width).fill(`*l${level - 1}`).join(',')}]`);
  return lines.join('\n');
}

function deep(random: Random): string {
  const depth = random.pick([50, 129, 300, 5000, 100000]);
  if (random.chance(0.5)) return `${'['.repeat(depth)}${']'.repeat(random.chance(0.7) ? depth : 0)}`;
  let out = '';
  for (let i = 0; i < Math.min(depth, 400); i++) out += `${' '.repeat(i)}k${i}:\n`;
  return out;
}

const MUTATIONS: Record<string, Mutation> = {
  anchorsAndAliases: (text) => text.replace(/metadata:\n/, 'metadata: &meta\n') + 'extra: *meta\n',
  aliasBombAnnotation: (text, random) => text.replace(/metadata:\n/, `metadata:\n  annotations:\n${aliasBomb(random).split('\n').map((line) => `    ${line}`).join('\n')}\n`),
  aliasBombDocument: (text, random) => `${aliasBomb(random)}\n---\n${text}`,
  mergeKey: (text) => `base: &base\n  apiVersion: v1\n  kind: Service\n---\n<<: *base\n${text.split('\n').slice(2).join('\n')}`,
  mergeKeyInline: (text) => text.replace(/spec:\n/, 'spec:\n  <<: {sessionAffinity: ClientIP}\n'),
  tags: (text, random) => text.replace(/: (\S+)\n/, `: ${random.pick(['!!binary aGVsbG8=', '!!set {a, b}', '!!omap [a: 1]', '!custom thing', '!!timestamp 2001-12-14', '!!int "12"', '!!float .inf', '!!str 80', '!<tag:yaml.org,2002:str> x'])}\n`),
  multiDocument: (text, random) => Array.from({ length: 2 + random.int(6) }, (_, i) => (i % 2 === 0 ? text : random.pick(['', '...', '# comment', 'null', '~', '[]', '{}', text]))).join('\n---\n'),
  documentEndMarkers: (text) => `%YAML 1.2\n---\n${text}...\n---\n${text}`,
  directivesBad: (text) => `%YAML 9.9\n%TAG ! tag:nowhere,2000:\n---\n${text}`,
  deepNesting: (text, random) => `${text}nested: ${deep(random)}\n`,
  deepDocument: (_text, random) => deep(random),
  hugeScalar: (text, random) => text.replace(/metadata:\n/, `metadata:\n  annotations:\n    blob: ${'z'.repeat(random.pick([1000, 300000, 1_200_000, 1_700_000]))}\n`),
  longKey: (text, random) => `${'k'.repeat(random.pick([1025, 70000]))}: 1\n${text}`,
  badUtf8: (text, random) => {
    const bytes = utf8(text);
    const out = new Uint8Array(bytes.length + 2);
    const at = random.int(bytes.length);
    out.set(bytes.subarray(0, at));
    out.set(random.pick([[0xc3, 0x28], [0xff, 0xfe], [0xed, 0xa0], [0xf8, 0x88]]), at);
    out.set(bytes.subarray(at), at + 2);
    return out;
  },
  utf16le: (text, random) => withPrefix(random.chance(0.5) ? [0xff, 0xfe] : [], Buffer.from(text, 'utf16le')),
  utf16be: (text, random) => withPrefix(random.chance(0.5) ? [0xfe, 0xff] : [], Buffer.from(text, 'utf16le').swap16()),
  utf8Bom: (text) => withPrefix([0xef, 0xbb, 0xbf], utf8(text)),
  bomInside: (text) => text.replace('\n', '\n\ufeff'),
  binary: (_text, random) => Uint8Array.from({ length: 1 + random.int(4096) }, () => random.int(256)),
  truncated: (text, random) => text.slice(0, random.int(text.length)),
  truncatedBytes: (text, random) => {
    const bytes = utf8(text.replace(/name: /, 'name: ☃é'));
    return bytes.subarray(0, random.int(bytes.length));
  },
  json: (text) => JSON.stringify(roughYaml(text)),
  jsonTruncated: (text, random) => {
    const json = JSON.stringify(roughYaml(text));
    return json.slice(0, random.int(json.length));
  },
  jsonDuplicateKeys: (text) => JSON.stringify(roughYaml(text)).replace(/^\{/, '{"kind":"Nope",'),
  byteFlips: (text, random) => {
    const bytes = utf8(text);
    for (let i = 0; i < 1 + random.int(8); i++) bytes[random.int(bytes.length)] = random.int(256);
    return bytes;
  },
  lineShuffle: (text, random) => {
    const lines = text.split('\n');
    for (let i = 0; i < 3; i++) {
      const a = random.int(lines.length);
      const b = random.int(lines.length);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    }
    return lines.join('\n');
  },
  indentation: (text, random) => text.replace(/\n {2}/g, () => `\n${' '.repeat(random.int(5))}`),
  tabs: (text) => text.replace(/ {2}/, '\t'),
  valueSwap: (text, random) => text.replace(/: ([^\n]+)/, `: ${random.pick(['null', '~', '-1', '1e999', '0x1F', '[]', '{}', '"', "'", '|', '>', '&', '*', '!', '%', '@', '`', '? x', '- a', 'yes', 'no', '.nan'])}`),
  nulBytes: (text) => `${text}\0\0`,
  emptyFile: () => '',
  whitespaceOnly: (_text, random) => random.pick([' \n\n', '---\n', '...\n', '# only a comment\n', '\n---\n---\n']),
  duplicateKeys: (text) => text.replace(/kind: (\w+)\n/, 'kind: $1\nkind: $1\n'),
  unknownKind: (text) => text.replace(/kind: \w+/, 'kind: Unicorn'),
  noKind: (text) => text.replace(/kind: \w+\n/, ''),
  scalarDocument: (_text, random) => random.pick(['42', '"just a string"', 'true', '- a\n- b\n', '[1, 2]']),
  manyDocuments: (text, random) => Array.from({ length: 20 + random.int(60) }, (_, i) => text.replace(/name: (\S+)/, `name: $1-m${i}`)).join('---\n'),
  crlf: (text) => text.replace(/\n/g, '\r\n'),
  controlCharacters: (text) => text.replace('name: ', 'name: \u0007\u001b'),
};

function withPrefix(prefix: number[], bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + bytes.length);
  out.set(prefix);
  out.set(bytes, prefix.length);
  return out;
}

/** A JSON-ish object from the seed YAML, good enough to feed the JSON mutations (no YAML library needed). */
function roughYaml(text: string): unknown {
  const out: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    const match = /^(\w+): (.+)$/.exec(line);
    if (match) out[match[1]!] = match[2];
  }
  out['metadata'] = { name: /name: (\S+)/.exec(text)?.[1] ?? 'x' };
  out['spec'] = { ports: [{ port: 80 }] };
  return out;
}

const NAMES = Object.keys(MUTATIONS);

/** The `count` cases of a seed, each a file name (varied extensions) and its bytes. */
export function fuzzCases(seed: number, count: number, prefix = 'fuzz'): FuzzCase[] {
  const random = new Random(seed);
  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const seeds = SEEDS(i);
    let text: string | Uint8Array = random.pick(seeds);
    const applied: string[] = [];
    // one to three mutations stacked; those that make bytes end the stack
    for (let m = 0; m < 1 + random.int(3) && typeof text === 'string'; m++) {
      const name = random.pick(NAMES);
      // a file of many documents multiplied by itself is a slow test, not a new case
      if (name === 'manyDocuments' && applied.includes(name)) continue;
      applied.push(name);
      text = MUTATIONS[name]!(text, random);
    }
    const json = applied.some((name) => name.startsWith('json'));
    const extension = json ? '.json' : random.pick(['.yaml', '.yml', '.yaml', '.json', '.YAML']);
    cases.push({ name: `${prefix}-${i}${extension}`, bytes: typeof text === 'string' ? utf8(text) : text, how: applied.join('+') });
  }
  return cases;
}
