// Finds secrets and other data classes in text: trigger prefilter, secretlint + format + keyword rules, then widening.
import type { DataClass, RedactionPattern } from "../policy.js";
import { insideBlob, isPlaceholderValue, isStrictPlaceholder, plausibleSecretValue } from "./look-alikes.js";
import { confirmTrigger, formatRules, formatTriggerPasses, keywordRules, keywordTriggerPasses } from "./rules.js";
import { secretlintScan } from "./secretlint.js";

/** One span to act on, after widening; spans returned by `scan` never overlap. */
export interface Finding {
  readonly start: number;
  readonly end: number;
  readonly kind: string;
  readonly dataClass: DataClass;
  /** false: detected for the data-class check only (e.g. an email), left in the text. */
  readonly redact: boolean;
}

interface Candidate extends Finding {
  /** Lower wins when spans overlap: a named format beats secretlint's, which beats a keyword guess. */
  readonly rank: number;
}

interface CompiledPattern {
  readonly name: string;
  readonly re: RegExp;
  readonly dataClass: DataClass;
  readonly redact: boolean;
}

/** secretlint reports whole URLs for these; only the password inside is secret. */
const urlCredentialKinds = /basic-auth|connection/;
const userInfoPassword = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/@]*:([^\s@/]+)@/;
const keyPrefix = /^["']?[A-Za-z_][\w.-]*["']?[ \t]*[:=][ \t]*["']?/;
/** Rules whose value has no shape of its own, so placeholder words (`password`, `changeme`) are left alone too. */
const looseKinds = new Set(["connection-string-password", "bearer-token", "basic-auth-header", "netrc-password", "cli-flag-secret"]);
/** Secrets whose alphabet is base64, so '+', '/' and '=' are part of the token even where the match stopped short of them. */
const base64Kinds = /aws-secret|azure-storage|basic-auth-header|secret-access/;

export class SecretScanner {
  private readonly patterns: readonly CompiledPattern[];

  constructor(patterns: readonly RedactionPattern[] = []) {
    this.patterns = patterns.map((p) => ({ name: p.name, re: new RegExp(p.regex, "g"), dataClass: p.data_class, redact: p.redact }));
  }

  async scan(text: string): Promise<Finding[]> {
    const found: Candidate[] = [];
    const formatWindows = triggerWindows(text, formatTriggerPasses);
    const allWindows = mergeWindows([...formatWindows, ...triggerWindows(text, keywordTriggerPasses)]);
    if (allWindows.length > 0) {
      const all = joinWindows(text, allWindows);
      this.scanRules(text, joinWindows(text, formatWindows), all, found);
      await this.scanSecretlint(text, all, found);
    }
    for (const p of this.patterns) {
      for (const m of text.matchAll(p.re)) {
        if (m[0].length === 0) break;
        found.push({ start: m.index, end: m.index + m[0].length, kind: p.name, dataClass: p.dataClass, redact: p.redact, rank: 0 });
      }
    }
    findEmails(text, found);
    return resolveOverlaps(found);
  }

  /** Format rules over the format windows (few lines); keyword rules and keyworded format rules over all of them. */
  private scanRules(text: string, formatWindows: JoinedWindows, all: JoinedWindows, out: Candidate[]): void {
    for (const r of formatRules) {
      const w = r.keyworded ? all : formatWindows;
      if (w.joined.length === 0) continue;
      r.re.lastIndex = 0;
      for (const m of w.joined.matchAll(r.re)) {
        const g = r.group ?? 0;
        const value = m[g];
        if (!value || (r.accept && !r.accept(value))) continue;
        const start = w.toText(g === 0 ? m.index : m.indices![g]![0]);
        const end = start + value.length;
        const loose = looseKinds.has(r.kind);
        if (loose ? isPlaceholderValue(value) : isStrictPlaceholder(value)) continue;
        if (r.kind !== "private-key" && r.kind !== "putty-private-key" && insideBlob(text, start, end)) continue;
        out.push({ ...widen(text, start, end, r.kind), kind: r.kind, dataClass: "secrets", redact: true, rank: 0 });
      }
    }
    for (const re of keywordRules) {
      re.lastIndex = 0;
      for (const m of all.joined.matchAll(re)) {
        const g = m.groups!;
        const quoted = g.quoted !== undefined;
        const value = g.quoted ?? g.bare;
        if (!value || !plausibleSecretValue(g.key!, value, quoted)) continue;
        const start = all.toText(m.index + m[0].length - value.length - (quoted ? 1 : 0));
        out.push({ start, end: start + value.length, kind: kindForKey(g.key!), dataClass: "secrets", redact: true, rank: 2 });
      }
    }
  }

  /** secretlint over the windows joined into one source (one call, so its per-call setup is paid once). */
  private async scanSecretlint(text: string, w: JoinedWindows, out: Candidate[]): Promise<void> {
    for (const hit of await secretlintScan(w.joined)) {
      const start = w.toText(hit.start);
      const end = start + (hit.end - hit.start);
      let span: { start: number; end: number };
      const value = text.slice(start, end);
      if (urlCredentialKinds.test(hit.kind)) {
        const pw = userInfoPassword.exec(value);
        if (!pw) continue;
        if (isPlaceholderValue(pw[1]!)) continue;
        const s = start + pw[0].length - 1 - pw[1]!.length;
        span = { start: s, end: s + pw[1]!.length };
      } else {
        // Some rules report `name = value`: the name stays readable, the value goes.
        const key = hit.kind === "private-key" ? null : keyPrefix.exec(value);
        const s = key ? start + key[0].length : start;
        if (s >= end || isStrictPlaceholder(text.slice(s, end))) continue;
        if (hit.kind !== "private-key" && insideBlob(text, s, end)) continue;
        span = widen(text, s, end, hit.kind);
      }
      out.push({ ...span, kind: hit.kind, dataClass: "secrets", redact: true, rank: 1 });
    }
  }
}

/** The windows' text joined by newlines (one string to run every rule over once), with the way back to offsets in the text. */
interface JoinedWindows {
  readonly joined: string;
  toText(joinedIndex: number): number;
}

function joinWindows(text: string, windows: ReadonlyArray<readonly [number, number]>): JoinedWindows {
  const starts: number[] = [];
  const textStarts: number[] = [];
  const parts: string[] = [];
  let at = 0;
  for (const [ws, we] of windows) {
    starts.push(at);
    textStarts.push(ws);
    parts.push(text.slice(ws, we));
    at += we - ws + 1;
  }
  return {
    joined: parts.join("\n"),
    toText(i) {
      // Binary search for the window holding joined offset i.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= i) lo = mid;
        else hi = mid - 1;
      }
      return textStarts[lo]! + (i - starts[lo]!);
    },
  };
}

/**
 * Whole lines around every hit of the trigger passes, merged; a private key's window runs to its END line.
 * Only these windows go through secretlint and the rule set.
 */
export function triggerWindows(text: string, passes: readonly RegExp[]): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  for (const re of passes) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (!confirmTrigger(text, m[0], m.index)) continue;
      const start = text.lastIndexOf("\n", m.index) + 1;
      // To the end of the line the hit ends on (a name/value pair spans two lines).
      let end = lineEnd(text, m.index + Math.max(0, m[0].length - 1));
      if (m[0] === "-----BEGIN" || m[0] === "PuTTY-User") {
        const close = text.indexOf(m[0] === "-----BEGIN" ? "-----END" : "Private-MAC", m.index);
        end = close < 0 ? Math.min(text.length, m.index + 16_384) : lineEnd(text, close);
      }
      found.push([start, end]);
      // The rest of the line is in the window already.
      re.lastIndex = Math.max(end, m.index + 1);
    }
  }
  return mergeWindows(found);
}

/** Sorted, with overlapping or adjacent windows made one (new pairs: the input's are left as they are). */
function mergeWindows(found: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = [...found].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const w of sorted) {
    const prev = out[out.length - 1];
    if (prev && w[0] <= prev[1] + 1) prev[1] = Math.max(prev[1], w[1]);
    else out.push([w[0], w[1]]);
  }
  return out;
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf("\n", from);
  return nl < 0 ? text.length : nl;
}

const wordChar = /[A-Za-z0-9_-]/;

/**
 * Grows a match to the whole token it sits in, so no part of a secret is left beside the placeholder.
 * Characters beyond word characters count as token characters only if the match itself has them
 * (a JWT spans dots, an AWS secret key slashes), which keeps a URL path or a sentence outside.
 */
export function widen(text: string, start: number, end: number, kind: string): { start: number; end: number } {
  if (kind === "private-key" || kind === "putty-private-key") return { start, end };
  const match = text.slice(start, end);
  const extra = new Set([...match].filter((c) => "+/=.~:".includes(c)));
  if (base64Kinds.test(kind)) for (const c of "+/=") extra.add(c);
  const isToken = (c: string | undefined) => c !== undefined && (wordChar.test(c) || extra.has(c));
  let s = start;
  let e = end;
  while (s > 0 && isToken(text[s - 1])) s--;
  while (e < text.length && isToken(text[e])) e++;
  if (extra.has("+") || extra.has("/") || extra.has("=")) while (text[e] === "=") e++;
  while (e > end && text[e - 1] === ".") e--;
  return { start: s, end: e };
}

/** `DB_PASSWORD` → "password", `"api_key"` → "api-key": the placeholder names what it was. */
function kindForKey(key: string): string {
  const k = key.toLowerCase();
  if (/pass|pwd/.test(k)) return "password";
  if (/private[_-]?key/.test(k)) return "private-key";
  if (/api[_-]?key|apikey/.test(k)) return "api-key";
  if (/secret/.test(k)) return "secret";
  if (/authorization|auth/.test(k) && !/token/.test(k)) return "authorization";
  if (/credential/.test(k)) return "credential";
  if (/access[_-]?key/.test(k)) return "access-key";
  return "token";
}

const emailAt = /[A-Za-z0-9._%+-]{1,64}$/;
const emailDomain = /^[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/;

/** Emails (PII) by scanning for '@' rather than running a regex at every position. */
function findEmails(text: string, out: Candidate[]): void {
  for (let at = text.indexOf("@"); at >= 0; at = text.indexOf("@", at + 1)) {
    const local = emailAt.exec(text.slice(Math.max(0, at - 64), at));
    if (!local) continue;
    const before = text[at - local[0].length - 1];
    // user:pass@host is a URL's user-info; git@github.com is an SSH remote; @scope/pkg has no local part.
    if (before === ":" || before === "/" || local[0] === "git") continue;
    const domain = emailDomain.exec(text.slice(at + 1, at + 256));
    if (!domain) continue;
    out.push({ start: at - local[0].length, end: at + 1 + domain[0].length, kind: "email", dataClass: "pii", redact: false, rank: 3 });
  }
}

/** Overlapping spans become one, kept under the best-ranked kind; detect-only spans never hide a secret. */
function resolveOverlaps(found: Candidate[]): Finding[] {
  const secrets = found.filter((f) => f.redact).sort((a, b) => a.start - b.start || a.rank - b.rank || b.end - a.end);
  const merged: Candidate[] = [];
  for (const f of secrets) {
    const last = merged[merged.length - 1];
    if (last && f.start < last.end) {
      const winner = f.rank < last.rank ? f : last;
      merged[merged.length - 1] = { ...winner, start: last.start, end: Math.max(last.end, f.end) };
    } else merged.push(f);
  }
  const detectOnly = found.filter((f) => !f.redact && !merged.some((m) => f.start < m.end && m.start < f.end));
  return [...merged, ...detectOnly]
    .sort((a, b) => a.start - b.start)
    .map(({ start, end, kind, dataClass, redact }) => ({ start, end, kind, dataClass, redact }));
}
