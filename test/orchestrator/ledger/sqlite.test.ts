// What only the SQLite ledger promises: triggers refuse edits, two processes cannot both take a seq, verify on workers, shared transactions.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LedgerConflictError, newRunId, type NewEntry, type TransactionalLedger } from "../../../src/orchestrator/ledger/port.js";
import { mergeSegments } from "../../../src/orchestrator/ledger/chain.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { verifyInParallel } from "../../../src/orchestrator/ledger/verify-workers.js";
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

  /** Whole-ledger verify with every chunk (of a few rows) walked on `n` worker threads, none on this one. */
  async function onWorkersOnly(n: number) {
    const heads = (db.prepare("SELECT run_id, head_seq, head_hash FROM ledger_runs").all() as { run_id: string; head_seq: number; head_hash: string }[]).map((h) => ({ runId: h.run_id, seq: h.head_seq, hash: h.head_hash }));
    const maxId = (db.prepare("SELECT max(id) AS m FROM ledger_entries").get() as { m: number }).m;
    return mergeSegments(await verifyInParallel(db, file, maxId, n, { chunk: 7, here: false }), heads);
  }

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

  it("catches a re-hashed forgery and edited columns, on one thread and on workers", async () => {
    const ids = Array.from({ length: 3 }, () => newRunId());
    for (const runId of ids) await ledger.append([{ runId, expectedSeq: 0, entries: [created] }]);
    for (let i = 1; i <= 12; i++) await ledger.append(ids.map((runId) => ({ runId, expectedSeq: i, entries: [{ type: "step_started" as const, payload: { step: `s${i}` } }] })));
    const raw = new DatabaseSync(file);
    raw.exec("DROP TRIGGER ledger_entries_no_update");
    const verifyBoth = async () => [await ledger.verify(), await ledger.verify({ workers: 2 }), await onWorkersOnly(3)];
    // Seq 11 rewritten with its hash recomputed: its own bytes check out, so the break shows at seq 12's prev_hash.
    const row = raw.prepare("SELECT body FROM ledger_entries WHERE run_id = ? AND seq = 11").get(ids[1]!) as { body: Uint8Array };
    const forged = Buffer.from(Buffer.from(row.body).toString("utf8").replace('"s11"', '"s99"'));
    raw.prepare("UPDATE ledger_entries SET body = ?, hash = ? WHERE run_id = ? AND seq = 11").run(forged, createHash("sha256").update(forged).digest("hex"), ids[1]!);
    for (const report of await verifyBoth()) expect(report).toMatchObject({ ok: false, problem: { runId: ids[1], seq: 12, kind: "chain_broken" } });
    raw.prepare("UPDATE ledger_entries SET body = ?, hash = ? WHERE run_id = ? AND seq = 11").run(row.body, createHash("sha256").update(row.body).digest("hex"), ids[1]!);
    expect(await ledger.verify()).toMatchObject({ ok: true });
    // The type column no longer says what the bytes say.
    raw.prepare("UPDATE ledger_entries SET type = 'note' WHERE run_id = ? AND seq = 10").run(ids[0]!);
    for (const report of await verifyBoth()) expect(report).toMatchObject({ ok: false, problem: { runId: ids[0], seq: 10, kind: "edited" } });
    raw.close();
  });

  it("finds the same first problem on worker threads as on one thread", async () => {
    const ids = Array.from({ length: 6 }, () => newRunId());
    for (const runId of ids) await ledger.append([{ runId, expectedSeq: 0, entries: [created] }]);
    // Interleave the runs so each worker's slice holds pieces of every run.
    for (let i = 1; i <= 40; i++) await ledger.append(ids.map((runId) => ({ runId, expectedSeq: i, entries: [{ type: "step_started" as const, payload: { step: `s${i}` } }] })));
    expect(await ledger.verify({ workers: 3 })).toEqual({ ok: true, runs: 6, entries: 246 });
    expect(await onWorkersOnly(3)).toEqual({ ok: true, runs: 6, entries: 246 });
    const raw = new DatabaseSync(file);
    raw.exec("DROP TRIGGER ledger_entries_no_delete");
    raw.prepare("DELETE FROM ledger_entries WHERE run_id = ? AND seq = 30").run(ids[4]!);
    raw.close();
    const single = await ledger.verify();
    expect(single).toMatchObject({ ok: false, problem: { runId: ids[4], seq: 30, kind: "deleted" } });
    for (const parallel of [await ledger.verify({ workers: 3 }), await onWorkersOnly(3), await onWorkersOnly(1)])
      expect(parallel).toMatchObject({ ok: false, problem: single.ok ? {} : single.problem });
  });
});
