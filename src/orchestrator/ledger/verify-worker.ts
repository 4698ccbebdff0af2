// Worker thread body for verify-workers.ts: walks rowid chunks of ledger_entries read-only until the shared counter runs out.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import { walkChunks } from "./verify-workers.js";

const { file, maxId, next, chunk } = workerData as { file: string; maxId: number; next: BigInt64Array; chunk: number };
const db = new DatabaseSync(file, { readOnly: true });
const result = walkChunks(db, maxId, next, chunk);
db.close();
parentPort!.postMessage(result);
