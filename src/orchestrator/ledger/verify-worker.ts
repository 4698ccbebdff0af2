// Worker thread body for verify-workers.ts: walks one rowid slice of ledger_entries read-only.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import { walkSegment, type StoredRow } from "./chain.js";

const { file, lo, hi } = workerData as { file: string; lo: number; hi: number };
const db = new DatabaseSync(file, { readOnly: true });
const stmt = db.prepare("SELECT id, run_id, seq, type, hash, body FROM ledger_entries WHERE id BETWEEN ? AND ? ORDER BY id");
stmt.setReturnArrays(true);
const result = walkSegment(stmt.iterate(lo, hi) as unknown as Iterable<StoredRow>);
db.close();
parentPort!.postMessage(result);
