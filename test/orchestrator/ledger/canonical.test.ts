// The ledger's canonical JSON and sealed entries match the `canonicalize` library (RFC 8785) byte for byte.
import { hash } from "node:crypto";
import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/orchestrator/ledger/canonical.js";
import { sealEntry } from "../../../src/orchestrator/ledger/entry.js";
import { GENESIS_HASH, LedgerInputError, newRunId, type NewEntry } from "../../../src/orchestrator/ledger/port.js";

/** What the library gives, or the fact that it throws. */
function reference(v: unknown): string | "throws" {
  try {
    return canonicalize(v) ?? "throws";
  } catch {
    return "throws";
  }
}
function ours(v: unknown): string | "throws" {
  try {
    return canonicalJson(v);
  } catch {
    return "throws";
  }
}

// Keys and strings that stress ordering and escaping: index-like keys, "__proto__", astral and lone surrogates, controls, backslashes.
const key = fc.oneof(
  fc.string(),
  fc.constantFrom("10", "2", "0", "01", "-1", "4294967295", "__proto__", "toJSON", "\\ud800", "é", "\u{1F600}", "A", "a", "_"),
  fc.string({ unit: "binary" }),
);
const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("\ud800", "a\udfffb", "\\ud83d", "\u0000\u001f\u2028", 'quote " and \\'));
const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY));
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    text,
    num,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie("v"), { maxLength: 5 }),
    fc.dictionary(key, tie("v"), { maxKeys: 6 }),
  ),
})).v;

describe("canonicalJson", () => {
  it("gives the same text as canonicalize, and refuses what it refuses", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(ours(v)).toBe(reference(v));
      }),
      { numRuns: 3000 },
    );
  });

  it("handles values off the fast path the way canonicalize does", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = { leaf: true };
    for (let i = 0; i < 100; i++) deep = { b: deep, a: i };
    const nullProto = Object.assign(Object.create(null) as object, { b: 1, a: [2, { d: 3, c: 4 }] });
    const withProtoKey = JSON.parse('{"z":1,"__proto__":{"y":2,"x":3}}') as unknown;
    for (const v of [
      { when: new Date(0), n: new Number(3), s: new String("x") },
      { b: { toJSON: () => ({ z: 1, y: 2 }) }, a: 1 },
      { "10": "ten", "2": "two", b: 1, a: 0 },
      { b: [1, undefined, () => 0, Symbol("s")], a: undefined },
      deep,
      nullProto,
      withProtoKey,
      cyclic,
      { big: 10n },
      [Number.NaN],
    ])
      expect(ours(v)).toBe(reference(v));
  });
});

describe("sealEntry", () => {
  const step = (payload: Record<string, unknown>): NewEntry => ({ type: "step_finished", payload: { step: "build", attempt: 1, ...payload } });

  it("stores exactly the canonical bytes of the entry and hashes them", () => {
    const runId = newRunId();
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value, { maxKeys: 5 }), fc.integer({ min: 0, max: 1e6 }), (extra, seq) => {
        delete extra.step;
        delete extra.attempt;
        let sealed;
        try {
          sealed = sealEntry(runId, seq, GENESIS_HASH, step(extra), () => new Date(1_700_000_000_123));
        } catch (err) {
          // Refused only when the payload has no canonical form.
          expect(err).toBeInstanceOf(LedgerInputError);
          expect(reference(extra)).toBe("throws");
          return;
        }
        const { hash: h, ...body } = sealed.entry;
        expect(sealed.bytes.toString("utf8")).toBe(canonicalize(body));
        expect(h).toBe(hash("sha256", sealed.bytes));
        expect(body.at).toBe("2023-11-14T22:13:20.123Z");
      }),
      { numRuns: 1000 },
    );
  });

  it("applies the payload schema's defaults and refuses unknown types and bad payloads", () => {
    const runId = newRunId();
    const now = () => new Date();
    expect(sealEntry(runId, 1, GENESIS_HASH, { type: "step_started", payload: { step: "plan" } }, now).entry.payload).toEqual({ step: "plan", attempt: 0 });
    expect(() => sealEntry(runId, 1, GENESIS_HASH, { type: "toString" as "note", payload: { message: "x" } }, now)).toThrow(/unknown entry type "toString"/);
    expect(() => sealEntry(runId, 1, GENESIS_HASH, { type: "note", payload: { message: "" } }, now)).toThrow(LedgerInputError);
    expect(() => sealEntry(runId, 1, GENESIS_HASH, { type: "note", payload: { message: "x", ratio: Number.NaN } }, now)).toThrow(/payload is not JSON-serialisable/);
    expect(() => sealEntry(runId, 1, GENESIS_HASH, { type: "note", payload: { message: "x" }, at: "yesterday" }, now)).toThrow(/at must be an ISO 8601 time/);
  });
});
