// Replaces secrets with typed placeholders that stay stable within a run, and reports counts and data classes.
import { createHash } from "node:crypto";
import type { DataClass } from "../policy.js";
import type { SecretScanner } from "./scanner.js";

export interface Redacted {
  readonly text: string;
  /** Secrets replaced, by kind (the only thing about them the ledger records). */
  readonly counts: Readonly<Record<string, number>>;
  /** Every data class seen in the input, redacted or not. */
  readonly dataClasses: readonly DataClass[];
}

/** The placeholder numbering of one run: the same secret always gets the same number. */
class PlaceholderBook {
  private readonly bySecret = new Map<string, string>();
  private readonly nextByKind = new Map<string, number>();

  placeholder(kind: string, secret: string): string {
    // Keyed by hash so the book does not keep secrets around in memory longer than the call.
    const key = createHash("sha256").update(secret).digest("base64url");
    let p = this.bySecret.get(key);
    if (!p) {
      const n = (this.nextByKind.get(kind) ?? 0) + 1;
      this.nextByKind.set(kind, n);
      p = `[REDACTED:${kind}:${n}]`;
      this.bySecret.set(key, p);
    }
    return p;
  }
}

/** Most recent runs whose numbering is kept; an older run restarts at 1 if it comes back. */
const MAX_RUNS = 2_000;

export class Redactor {
  private readonly books = new Map<string, PlaceholderBook>();

  constructor(private readonly scanner: SecretScanner) {}

  async redact(runId: string, text: string): Promise<Redacted> {
    const findings = await this.scanner.scan(text);
    const counts: Record<string, number> = {};
    const classes = new Set<DataClass>();
    const book = this.book(runId);
    let out = "";
    let at = 0;
    for (const f of findings) {
      classes.add(f.dataClass);
      if (!f.redact) continue;
      out += text.slice(at, f.start) + book.placeholder(f.kind, text.slice(f.start, f.end));
      at = f.end;
      counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    }
    out += text.slice(at);
    return { text: out, counts, dataClasses: [...classes].sort() };
  }

  /** Redacts several texts of one call, summing counts and data classes. */
  async redactAll(runId: string, texts: readonly string[]): Promise<{ texts: string[]; counts: Record<string, number>; dataClasses: DataClass[] }> {
    const counts: Record<string, number> = {};
    const classes = new Set<DataClass>();
    const out: string[] = [];
    for (const t of texts) {
      const r = await this.redact(runId, t);
      out.push(r.text);
      for (const [k, n] of Object.entries(r.counts)) counts[k] = (counts[k] ?? 0) + n;
      for (const c of r.dataClasses) classes.add(c);
    }
    return { texts: out, counts, dataClasses: [...classes].sort() };
  }

  private book(runId: string): PlaceholderBook {
    let b = this.books.get(runId);
    if (b) {
      this.books.delete(runId);
    } else {
      b = new PlaceholderBook();
      if (this.books.size >= MAX_RUNS) this.books.delete(this.books.keys().next().value!);
    }
    this.books.set(runId, b);
    return b;
  }
}
