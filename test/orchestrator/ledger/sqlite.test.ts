// What only the SQLite ledger promises: triggers refuse edits, two processes cannot both take a seq, verify on workers, shared transactions.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LedgerConflictError, newRunId, type NewEntry, type TransactionalLedger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { inTransaction, openSqlite } from "../../../src/store/sqlite.js";

const run = promisify(execFile);
const writer = path.join(import.meta.dirname, "fixtures", "race-writer.ts");

const created: NewEntry = {
  type: "run_created",
  payload: { run_type: "release_prep", source: { event_id: "e", origin: "cli" }, repo_scope: "acme/api", policy_version: "p" },
};

describe("SQLite ledger", () => {
  let dir: string;
  let file: string;
  let db: DatabaseSync;
  let ledger: TransactionalLedger;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ledger-sqlite-"));
    file = path.join(dir, "orchestrator.db");
    db = openSqlite(file, { synchronous: "NORMAL" });
    ledger = sqliteLedger({ db, file });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses UPDATE and DELETE of entries and moving a head backwards", async () => {
    const runId = newRunId();
    await ledger.append([{ runId, expectedSeq: 0, entries: [created, { type: "note", payload: { message: "hi" } }] }]);
    expect(() => db.prepare("UPDATE ledger_entries SET type = 'note' WHERE seq = 0").run()).toThrow(/append-only: UPDATE is refused/);
    expect(() => db.prepare("DELETE FROM ledger_entries").run()).toThrow(/append-only: DELETE is refused/);
    expect(() => db.prepare("UPDATE ledger_runs SET head_seq = 0").run()).toThrow(/only moves forward/);
    expect(() => db.prepare("DELETE FROM ledger_runs").run()).toThrow(/never deleted/);
    expect(await ledger.verify()).toEqual({ ok: true, runs: 1, entries: 2 });
  });

  it("lets two processes race 50 appends to one run: no gap, no duplicate seq", async () => {
    const runId = newRunId();
    await ledger.append([{ runId, expectedSeq: 0, entries: [created] }]);
    await Promise.all(
      ["a", "b"].map((name) => run(process.execPath, ["--import", import.meta.resolve("tsx"), writer, file, runId, name, "25"])),
    );
    const entries = await ledger.entries(runId);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i));
    const steps = entries.slice(1).map((e) => (e.payload as { step: string }).step);
    expect(new Set(steps).size).toBe(50);
    expect(steps.filter((s) => s.startsWith("a-"))).toHaveLength(25);
    expect(await ledger.verify()).toEqual({ ok: true, runs: 1, entries: 51 });
  });

  it("commits or rolls back with the caller's own writes inside inTransaction", async () => {
    db.exec("CREATE TABLE IF NOT EXISTS test_steps (run_id TEXT, state TEXT)");
    const runId = newRunId();
    inTransaction(db, () => {
      db.prepare("INSERT INTO test_steps VALUES (?, 'started')").run(runId);
      ledger.appendInTransaction([{ runId, expectedSeq: 0, entries: [created] }]);
    });
    expect(() =>
      inTransaction(db, () => {
        db.prepare("INSERT INTO test_steps VALUES (?, 'second')").run(runId);
        ledger.appendInTransaction([{ runId, expectedSeq: 1, entries: [{ type: "step_started", payload: { step: "x" } }] }]);
        ledger.appendInTransaction([{ runId, expectedSeq: 1, entries: [{ type: "step_started", payload: { step: "y" } }] }]);
      }),
    ).toThrow(LedgerConflictError);
    expect(db.prepare("SELECT state FROM test_steps").all()).toEqual([{ state: "started" }]);
    expect((await ledger.entries(runId)).map((e) => e.seq)).toEqual([0]);
  });

  it("finds the same first problem on worker threads as on one thread", async () => {
    const ids = Array.from({ length: 6 }, () => newRunId());
    for (const runId of ids) await ledger.append([{ runId, expectedSeq: 0, entries: [created] }]);
    // Interleave the runs so each worker's slice holds pieces of every run.
    for (let i = 1; i <= 40; i++) await ledger.append(ids.map((runId) => ({ runId, expectedSeq: i, entries: [{ type: "step_started" as const, payload: { step: `s${i}` } }] })));
    expect(await ledger.verify({ workers: 3 })).toEqual({ ok: true, runs: 6, entries: 246 });
    const raw = new DatabaseSync(file);
    raw.exec("DROP TRIGGER ledger_entries_no_delete");
    raw.prepare("DELETE FROM ledger_entries WHERE run_id = ? AND seq = 30").run(ids[4]!);
    raw.close();
    const single = await ledger.verify();
    const parallel = await ledger.verify({ workers: 3 });
    expect(single).toMatchObject({ ok: false, problem: { runId: ids[4], seq: 30, kind: "deleted" } });
    expect(parallel).toMatchObject({ ok: false, problem: single.ok ? {} : single.problem });
  });
});
