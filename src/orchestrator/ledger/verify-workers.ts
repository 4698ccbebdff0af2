// Spreads `ledger verify` over threads: this one and worker threads take rowid chunks of the SQLite entries table from a shared counter.
import type { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { walkSegment, type SegmentResult, type StoredRow } from "./chain.js";

/** Source (tsx, vitest) or compiled: the worker file has this module's extension. */
const fromSource = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./verify-worker${fromSource ? ".ts" : ".js"}`, import.meta.url);

/** Rows per chunk: small enough that threads finish together, large enough that a run's first row in a chunk (parsed in full) is rare. */
const CHUNK = 16_384;

/** One walked chunk, with the rowid it starts at so chunks from every thread can be put back in order. */
export interface WalkedChunk {
  readonly lo: number;
  readonly result: SegmentResult;
}

/** Rows as arrays in rowid (insertion) order: the cheapest way through the table. */
export function walkRows(db: DatabaseSync, lo: number, hi: number): SegmentResult {
  const stmt = db.prepare("SELECT id, run_id, seq, type, hash, body FROM ledger_entries WHERE id BETWEEN ? AND ? ORDER BY id");
  stmt.setReturnArrays(true);
  return walkSegment(stmt.iterate(lo, hi) as unknown as Iterable<StoredRow>);
}

/**
 * Takes chunks of rowids [1, maxId] from `next` (shared by every thread) until none are left, or
 * until a chunk finds a problem: chunks are handed out in rowid order, so no chunk taken later can
 * hold an earlier one.
 */
export function walkChunks(db: DatabaseSync, maxId: number, next: BigInt64Array, chunk = CHUNK): WalkedChunk[] {
  const out: WalkedChunk[] = [];
  for (;;) {
    const lo = Number(Atomics.add(next, 0, BigInt(chunk))) + 1;
    if (lo > maxId) return out;
    const result = walkRows(db, lo, Math.min(maxId, lo + chunk - 1));
    out.push({ lo, result });
    if (result.problem) return out;
  }
}

export interface ParallelOptions {
  /** Rows per chunk (default 16,384). */
  readonly chunk?: number;
  /** Also walk on this thread, which it blocks meanwhile (default true: n threads in all); false: n workers, this thread stays free. */
  readonly here?: boolean;
}

/**
 * Walks rowids [1, maxId] on this thread (with `db`) and worker threads (each with its own
 * read-only connection to `file`), all taking chunks from one shared counter, so a thread that
 * starts late or gets less of a busy CPU simply takes fewer. Segments come back in rowid order.
 */
export async function verifyInParallel(db: DatabaseSync, file: string, maxId: number, n: number, opts: ParallelOptions = {}): Promise<SegmentResult[]> {
  const chunk = opts.chunk ?? CHUNK;
  const here = opts.here ?? true;
  const next = new BigInt64Array(new SharedArrayBuffer(8));
  const workers: Worker[] = [];
  // A ledger this thread walks in about the time a worker takes to start needs no workers.
  const workerCount = !here ? n : maxId > 2 * chunk ? n - 1 : 0;
  const pending = Array.from(
    { length: workerCount },
    (_, i) =>
      new Promise<WalkedChunk[]>((resolve, reject) => {
        const w = new Worker(workerUrl, { workerData: { file, maxId, next, chunk }, execArgv: fromSource ? ["--import", import.meta.resolve("tsx")] : [] });
        workers.push(w);
        w.once("message", (m: WalkedChunk[]) => resolve(m));
        w.once("error", reject);
        w.once("exit", (code) => code !== 0 && reject(new Error(`ledger verify worker ${i + 1} exited with code ${code}`)));
      }),
  );
  let mine: WalkedChunk[] = [];
  try {
    if (here) mine = walkChunks(db, maxId, next, chunk);
  } catch (err) {
    await Promise.allSettled(workers.map((w) => w.terminate()));
    throw err;
  }
  const all = [...mine, ...(await Promise.all(pending)).flat()];
  return all.sort((a, b) => a.lo - b.lo).map((c) => c.result);
}
