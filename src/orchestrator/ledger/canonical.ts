// RFC 8785 canonical JSON for ledger payloads: V8's native JSON.stringify on key-sorted plain data, the `canonicalize` library for anything else.
import canonicalize from "canonicalize";

/*
 * RFC 8785 serialises strings and numbers exactly as ECMAScript's JSON.stringify does, and
 * sorts object keys by UTF-16 code units (JavaScript's default string order). So for plain
 * data whose objects list their keys in sorted order, JSON.stringify already produces the
 * canonical text, natively and 2–5× faster than walking the value in JavaScript. `sorted`
 * reorders keys where needed and gives up (returns NOT_PLAIN) on anything whose output the
 * two could disagree on; `canonicalize` then handles (or rejects) the value as before.
 */

const NOT_PLAIN: unique symbol = Symbol("not plain");
/** Deeper than this (or a cycle) goes to `canonicalize`, which uses an explicit stack and detects cycles. */
const MAX_DEPTH = 64;
/** An array index key: JavaScript enumerates these first, in numeric order, whatever the insertion order. */
const INDEX_KEY = /^(?:0|[1-9]\d*)$/;

/** The RFC 8785 text of `value`; throws (from `canonicalize`) on NaN, Infinity, lone surrogates, cycles and BigInt. */
export function canonicalJson(value: unknown): string {
  const plain = sorted(value, 0);
  if (plain !== NOT_PLAIN) {
    const text = JSON.stringify(plain);
    // JSON.stringify escapes a lone surrogate as \udXXX where RFC 8785 refuses the value; "\ud" can
    // otherwise only appear as an escaped backslash followed by "ud", which is rare enough to re-check.
    if (text !== undefined && !text.includes("\\ud")) return text;
  }
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("the value has no JSON representation");
  return text;
}

/** `v` with every object's keys in sorted order (the same object when already so), or NOT_PLAIN. */
function sorted(v: unknown, depth: number): unknown {
  if (typeof v !== "object" || v === null) {
    if (typeof v === "number") return Number.isFinite(v) ? v : NOT_PLAIN;
    return typeof v === "bigint" ? NOT_PLAIN : v;
  }
  if (depth > MAX_DEPTH) return NOT_PLAIN;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return NOT_PLAIN;
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      const s = sorted(item, depth + 1);
      if (s === NOT_PLAIN) return NOT_PLAIN;
      if (s !== item) (out ??= v.slice())[i] = s;
    }
    return out ?? v;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN; // Date, Map, boxed primitives, class instances
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === "function") return NOT_PLAIN;
  const keys = Object.keys(o);
  let inOrder = true;
  for (let i = 1; i < keys.length; i++)
    if (keys[i - 1]! > keys[i]!) {
      inOrder = false;
      break;
    }
  // Index keys cannot be reordered in an object (they always come first, so keys[0] tells); with them only sorted input is safe.
  if (!inOrder && INDEX_KEY.test(keys[0]!)) return NOT_PLAIN;
  if (!inOrder) keys.sort();
  // A fresh object when keys move or a child changed: a plain literal, which V8 serialises on its fast path
  // (a null-prototype object would not be); so a "__proto__" key, which a literal cannot hold as data, gives up.
  if (Object.hasOwn(o, "__proto__")) return NOT_PLAIN;
  let out: Record<string, unknown> | undefined = inOrder ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const child = o[k];
    const s = sorted(child, depth + 1);
    if (s === NOT_PLAIN) return NOT_PLAIN;
    if (out) out[k] = s;
    else if (s !== child) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = o[keys[j]!];
      out[k] = s;
    }
  }
  return out ?? o;
}
