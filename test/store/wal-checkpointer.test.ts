import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inTransaction, openSqlite, type DatabaseSync } from "../../src/store/sqlite.js";
import { WalCheckpointer } from "../../src/store/wal-checkpointer.js";

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Whether every WAL frame is in the database file, read from the wal-index without checkpointing:
 * mxFrame of its header (byte 16) against nBackfill (byte 96), native byte order
 * (https://sqlite.org/walformat.html). The database file's size alone says only that the
 * highest page was copied, not that later frames of lower pages were.
 */
function walBackfilled(file: string): boolean {
  const shm = readFileSync(`${file}-shm`);
  const u32 = (at: number) => (endianness() === "LE" ? shm.readUInt32LE(at) : shm.readUInt32BE(at));
  return u32(96) >= u32(16);
}

const autocheckpoint = (db: DatabaseSync) => (db.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

describe("WAL checkpointer", () => {
  let dir: string;
  let file: string;
  let db: DatabaseSync;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "wal-checkpointer-"));
    file = path.join(dir, "orchestrator.db");
    db = openSqlite(file, { synchronous: "FULL" });
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  });
  afterEach(() => {
    if (db.isOpen) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (rows: number) => {
    const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
    inTransaction(db, () => {
      for (let i = 0; i < rows; i++) insert.run("x".repeat(1000));
    });
  };

  it("leaves checkpointing to SQLite while the WAL is small", async () => {
    const c = new WalCheckpointer(db, file, { startBytes: 64 << 20 });
    write(10);
    c.committed();
    expect(autocheckpoint(db)).toBe(1000);
    expect(c.ready()).toBeUndefined();
    await c.close();
  });

  it("copies the WAL into the database file from a worker thread, then gives checkpointing back on close", async () => {
    const c = new WalCheckpointer(db, file, { startBytes: 64 << 10, passEveryMs: 1 });
    const before = statSync(file).size;
    write(200);
    c.committed();
    // The connection no longer checkpoints on commit: the worker does.
    expect(autocheckpoint(db)).toBe(0);
    await until("the worker's checkpoint to reach the database file", () => statSync(file).size > before + 150_000);
    expect((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(200);
    await c.close();
    expect(autocheckpoint(db)).toBe(1000);
    // The rows are in the database file itself: a fresh connection after the WAL is gone still sees them.
    db.close();
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    db = openSqlite(file, { synchronous: "FULL" });
    expect((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(200);
  });

  it("starts the WAL over under steady writes, holding the writer only while a pass reaches the end", async () => {
    const c = new WalCheckpointer(db, file, { startBytes: 64 << 10, passEveryMs: 1, restartFrames: 64, maxHoldMs: 1_000 });
    for (let round = 0; round < 40; round++) {
      await c.ready();
      write(20);
      c.committed();
      await new Promise((r) => setImmediate(r));
    }
    await until("the writer to be free", () => c.ready() === undefined);
    // The database file grows only by checkpoints: once it is as big as the database, the worker has copied every page.
    const bytes = () => (db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count * 4096;
    await until("the worker's pass to reach the end of the WAL", () => {
      c.committed();
      return statSync(file).size >= bytes() && walBackfilled(file);
    });
    write(1);
    // After a restart the WAL holds only the frames written since; without one it would hold all 40 rounds (over 200 frames).
    const log = (db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get() as { log: number }).log;
    expect(log).toBeLessThan(64);
    expect((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(801);
    await c.close();
  });
});
