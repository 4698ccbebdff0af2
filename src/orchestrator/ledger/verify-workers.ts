// Spreads `ledger verify` over worker threads: each walks a slice of the SQLite entries table by rowid.
import { Worker } from "node:worker_threads";
import type { SegmentResult } from "./chain.js";

/** Source (tsx, vitest) or compiled: the worker file has this module's extension. */
const fromSource = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./verify-worker${fromSource ? ".ts" : ".js"}`, import.meta.url);

/** Walks rowids [1, maxId] of `file`'s ledger_entries in `n` slices in parallel; segments come back in rowid order. */
export async function verifyWithWorkers(file: string, maxId: number, n: number): Promise<SegmentResult[]> {
  const size = Math.ceil(maxId / n);
  const slices = Array.from({ length: n }, (_, i) => ({ lo: i * size + 1, hi: Math.min(maxId, (i + 1) * size) })).filter((s) => s.lo <= s.hi);
  return Promise.all(
    slices.map(
      ({ lo, hi }) =>
        new Promise<SegmentResult>((resolve, reject) => {
          const w = new Worker(workerUrl, { workerData: { file, lo, hi }, execArgv: fromSource ? ["--import", import.meta.resolve("tsx")] : [] });
          w.once("message", (m: SegmentResult) => resolve(m));
          w.once("error", reject);
          w.once("exit", (code) => code !== 0 && reject(new Error(`ledger verify worker for rows ${lo}..${hi} exited with code ${code}`)));
        }),
    ),
  );
}
