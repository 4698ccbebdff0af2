// Opens the embedded SQLite database (node:sqlite) that the embedded adapters share, in WAL mode.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

export type { DatabaseSync };

export interface SqliteOptions {
  /** FULL survives power loss; NORMAL survives a process crash only (see README). */
  readonly synchronous: "FULL" | "NORMAL";
}

/**
 * One connection per process: node:sqlite is synchronous, so a single connection serialises
 * writers without lock contention, and adapters can share a transaction (e.g. a step
 * transition and its ledger entry in one commit).
 */
export function openSqlite(file: string, opts: SqliteOptions): DatabaseSync {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = ${opts.synchronous};
    PRAGMA busy_timeout = 5000;
    PRAGMA foreign_keys = ON;
  `);
  return db;
}

/** Runs `fn` in one IMMEDIATE transaction (a single commit, so one fsync), rolling back on error. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}
