/**
 * What Envoy refuses beyond its protos' validation rules, checked before anything is published, so
 * that the object at fault is reported and left out instead of a proxy rejecting a whole resource
 * (one bad regex in a RouteConfiguration makes Envoy refuse every route of it):
 * - regular expressions: Envoy compiles `safe_regex` with RE2, which has no lookaround,
 *   backreferences or possessive repeats; re2js (a port of RE2) compiles them here by the same syntax;
 * - header changes (router/header_parser.cc with http/header_utility.cc): no header starting with `:`
 *   and no `host` may be added, set or removed (isModifiableHeader / isRemovableHeader); names and
 *   values follow HeaderValue's rules (a name of 1 to 16384 bytes, a value of at most 16384 bytes,
 *   neither with NUL, CR or LF). Names must also be HTTP tokens (RFC 9110 tchar), as the Gateway API
 *   asks, since Envoy's own check is looser than what a client or upstream accepts.
 * Values are literal for the Gateway API while Envoy reads `%` as the start of a command: the emitter
 * escapes it (`%%`), so a `%` is never a reason to refuse.
 */
import { RE2JS } from 're2js';

/** Why Envoy's RE2 would refuse `pattern`, or undefined when it compiles. */
export function regexProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return `"${pattern}" is not a valid RE2 regular expression (${(error as Error).message})`;
  }
}

/** HeaderValue's max_bytes for keys and values. */
const MAX_HEADER_BYTES = 16384;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_CHARACTERS = /[\0\r\n]/;

/** Why Envoy would refuse to set or add the header `name: value`, or undefined. */
export function headerToAddProblem(name: string, value: string): string | undefined {
  const nameProblem = headerNameProblem(name);
  if (nameProblem) return nameProblem;
  if (FORBIDDEN_CHARACTERS.test(value)) return `the value of header "${name}" holds a NUL, CR or LF character`;
  if (Buffer.byteLength(value) > MAX_HEADER_BYTES) return `the value of header "${name}" is longer than ${MAX_HEADER_BYTES} bytes`;
  return undefined;
}

/** Why Envoy would refuse to remove the header `name`, or undefined. */
export function headerToRemoveProblem(name: string): string | undefined {
  return headerNameProblem(name);
}

function headerNameProblem(name: string): string | undefined {
  if (name.startsWith(':')) return `pseudo-header "${name}" may not be modified`;
  if (name.toLowerCase() === 'host') return `header "${name}" may not be modified (use a hostname rewrite)`;
  if (!TOKEN.test(name)) return `"${printable(name)}" is not a valid HTTP header name`;
  if (Buffer.byteLength(name) > MAX_HEADER_BYTES) return `header name longer than ${MAX_HEADER_BYTES} bytes`;
  return undefined;
}

/** Every problem of a header modifier (set, add, remove), in that order. */
export function headerModifierProblems(modifier: { set: readonly { name: string; value: string }[]; add: readonly { name: string; value: string }[]; remove: readonly string[] }): string[] {
  const problems: string[] = [];
  for (const header of [...modifier.set, ...modifier.add]) {
    const problem = headerToAddProblem(header.name, header.value);
    if (problem) problems.push(problem);
  }
  for (const name of modifier.remove) {
    const problem = headerToRemoveProblem(name);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Envoy's header formatter reads `%` as the start of a command: a literal value escapes it. */
export function literalHeaderValue(value: string): string {
  return value.replaceAll('%', '%%');
}

function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
