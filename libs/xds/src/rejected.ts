/**
 * Which resources a NACK rejected. A NACK answers a whole response; Envoy's message usually names the
 * resources it could not take (`Error adding/updating listener(s) default/a/l: ...`) while it applies
 * the others (LDS, CDS). So: of the candidates (what the rejected response changed), those the message
 * names; if it names none of them, all of them.
 */

/** Characters that may continue a resource name: a mention must not be part of a longer word. */
const NAME_CHAR = /[A-Za-z0-9_./\-]/;

export function rejectedResources(candidates: Iterable<string>, message: string): string[] {
  const all = [...new Set(candidates)].sort();
  const spans: { name: string; start: number; end: number }[] = [];
  for (const name of all) {
    if (name === '') continue;
    for (let at = message.indexOf(name); at >= 0; at = message.indexOf(name, at + 1)) {
      const before = at === 0 ? '' : message[at - 1]!;
      const after = message[at + name.length] ?? '';
      const next = message[at + name.length + 1] ?? '';
      // `default/echo:80` is not meant by `default/echo:8080`, nor `default/echo` by `default/echo:80`;
      // a trailing `:` or `.` before a space (Envoy's separator, a sentence's end) is fine.
      const ends = after === '' || (!/[A-Za-z0-9_\-/]/.test(after) && !(/[.:]/.test(after) && /[A-Za-z0-9]/.test(next)));
      if ((before === '' || !NAME_CHAR.test(before)) && ends) {
        spans.push({ name, start: at, end: at + name.length });
      }
    }
  }
  // A name found only inside a longer name's mention (`default/a` in `default/a:80`) is not meant.
  const named = new Set(spans.filter((span) => !spans.some((other) => other !== span && other.start <= span.start && other.end >= span.end && other.end - other.start > span.end - span.start)).map((span) => span.name));
  return named.size > 0 ? all.filter((name) => named.has(name)) : all;
}
