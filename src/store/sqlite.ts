// Opens the embedded SQLite database (node:sqlite) that the embedded adapters share, in WAL mode.
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fs } from "./node-fs.js";
import { WalCheckpointer } from "./wal-checkpointer.js";

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
  if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = ${opts.synchronous};
    PRAGMA busy_timeout = 5000;
    PRAGMA foreign_keys = ON;
  `);
  return db;
}

/** One background checkpointer per connection: every adapter's commits grow the same WAL. */
const checkpointers = new WeakMap<DatabaseSync, WalCheckpointer>();

/**
 * The connection's WAL checkpointer (created on first call; undefined for an in-memory or
 * non-WAL database). Once created, every commit made through `inTransaction` tells it, so no
 * adapter's commit pays for (or stalls on) SQLite's automatic checkpoint.
 */
export function walCheckpointer(db: DatabaseSync): WalCheckpointer | undefined {
  const existing = checkpointers.get(db);
  if (existing) return existing;
  const file = db.location();
  const journal = (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode;
  if (!file || journal !== "wal") return undefined;
  const created = new WalCheckpointer(db, file);
  checkpointers.set(db, created);
  return created;
}

/** SQLite's primary result codes for a store that cannot take a write now but may later: busy, locked, out of memory, I/O, disk full, cannot open, lock protocol. */
const UNAVAILABLE_CODES = new Set([5, 6, 7, 10, 13, 14, 15]);

/** True when `err` is SQLite saying the store is unavailable for now (try again later), not that the statement is wrong. */
export function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" && UNAVAILABLE_CODES.has(code & 0xff);
}

/** Runs `fn` in one IMMEDIATE transaction (a single commit, so one fsync), rolling back on error. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec("BEGIN IMMEDIATE");
  let out: T;
  try {
    out = fn();
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
  checkpointers.get(db)?.committed();
  return out;
}
