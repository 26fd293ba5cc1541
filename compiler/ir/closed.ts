/**
 * `closed(props)`: an io-ts object codec that REJECTS unknown keys (t.strict only strips them),
 * so a misspelled or injected field in a graph, spec or header is an error at its path.
 */
import * as t from "io-ts";

export function closed<P extends t.Props>(props: P, name?: string): t.Type<t.TypeOf<t.ExactC<t.TypeC<P>>>, t.OutputOf<t.ExactC<t.TypeC<P>>>, unknown> {
  const inner = t.strict(props, name);
  const allowed = new Set(Object.keys(props));
  return new t.Type(
    inner.name,
    (u): u is t.TypeOf<typeof inner> => inner.is(u) && Object.keys(u as object).every((k) => allowed.has(k)),
    (u, c) => {
      if (typeof u === "object" && u !== null && !Array.isArray(u)) {
        const extra = Object.keys(u).filter((k) => !allowed.has(k));
        if (extra.length > 0) {
          return t.failures(extra.map((k) => ({
            value: (u as Record<string, unknown>)[k],
            context: [...c, { key: k, type: t.never, actual: (u as Record<string, unknown>)[k] }],
            message: `no such field (allowed: ${[...allowed].join(", ") || "none"})`,
          })));
        }
      }
      return inner.validate(u, c);
    },
    inner.encode,
  );
}
