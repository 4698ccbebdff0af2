// Worker thread body for wal-checkpointer.ts: runs WAL checkpoints of one database file on its own connection.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

export interface PassResult {
  /** Frames in the WAL when the pass ran. */
  readonly log: number;
  /** Frames of those now copied into the database file (and the file synced). */
  readonly checkpointed: number;
}

const { file } = workerData as { file: string };
const db = new DatabaseSync(file);
// The checkpoint syncs the WAL before copying and the database file after; only then may the WAL be reused.
db.exec("PRAGMA synchronous = FULL");
// PASSIVE: never waits for, nor blocks, the writer on the main connection.
const pass = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");

parentPort!.on("message", (m: "pass" | "close") => {
  if (m === "close") {
    db.close();
    parentPort!.close();
    return;
  }
  try {
    const r = pass.get() as { log: number; checkpointed: number };
    parentPort!.postMessage({ log: r.log, checkpointed: r.checkpointed } satisfies PassResult);
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
