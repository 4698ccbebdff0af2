// Worker thread body for wal-checkpointer.ts: runs WAL checkpoints of one database file on its own connection.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

export interface PassResult {
  readonly mode: PassMode;
  /** 1 when a RESTART could not take the writer's lock at once (it never waits for it). */
  readonly busy: number;
  /** Frames in the WAL when the pass ran. */
  readonly log: number;
  /** Frames of those now copied into the database file (and the file synced). */
  readonly checkpointed: number;
}

const { file } = workerData as { file: string };
const db = new DatabaseSync(file);
// The checkpoint syncs the WAL before copying and the database file after; only then may the WAL be reused.
db.exec("PRAGMA synchronous = FULL");
// How long a RESTART waits for the main connection's commit in progress to end (passive passes never wait).
db.exec("PRAGMA busy_timeout = 20");
/**
 * "passive" never waits for, nor blocks, the writer on the main connection. "restart" makes the
 * next write start the WAL over, whoever writes: it blocks writers while it copies what the last
 * passive pass left and syncs. It waits for a commit in progress on the main connection for up
 * to 20 ms, and runs as a passive pass (busy) if that does not end in time.
 */
export type PassMode = "passive" | "restart";
const passes: Record<PassMode, ReturnType<DatabaseSync["prepare"]>> = {
  passive: db.prepare("PRAGMA wal_checkpoint(PASSIVE)"),
  restart: db.prepare("PRAGMA wal_checkpoint(RESTART)"),
};

parentPort!.on("message", (m: PassMode | "close") => {
  if (m === "close") {
    db.close();
    parentPort!.close();
    return;
  }
  try {
    const r = passes[m].get() as { busy: number; log: number; checkpointed: number };
    parentPort!.postMessage({ mode: m, busy: r.busy, log: r.log, checkpointed: r.checkpointed } satisfies PassResult);
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
