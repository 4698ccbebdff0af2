import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newRunId } from "../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../src/orchestrator/ledger/sqlite.js";
import { LedgerModelCallRecorder } from "../../src/router/ledger-recorder.js";
import type { ModelCallRecord } from "../../src/router/recorder.js";
import { openSqlite } from "../../src/store/sqlite.js";

const record = (attempt: number): ModelCallRecord => ({
  provider: "scripted",
  model: "demo",
  model_id: "demo",
  role: "planner",
  attempt,
  input_tokens: 1,
  output_tokens: 1,
  cost_usd: 0,
  latency_ms: 1,
  outcome: "ok",
  policy_version: "v",
  redactions: {},
  data_classes: [],
  stream: false,
});

describe("LedgerModelCallRecorder", () => {
  it("appends model_call entries in order, re-reading the head when another writer got there first", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "recorder-"));
    const db = openSqlite(path.join(dir, "orchestrator.db"), { synchronous: "NORMAL" });
    try {
      const ledger = sqliteLedger({ db });
      const runId = newRunId();
      await ledger.append([{ runId, expectedSeq: 0, entries: [{ type: "run_created", payload: { run_type: "impl_change", source: { event_id: "e", origin: "cli" }, repo_scope: "a/b", policy_version: "v" } }] }]);
      const recorder = new LedgerModelCallRecorder(ledger);
      await recorder.record(runId, record(1));
      // Another component appends behind the recorder's back: its cached seq is now stale.
      await ledger.append([{ runId, expectedSeq: 2, entries: [{ type: "note", payload: { message: "step started elsewhere" } }] }]);
      await Promise.all([2, 3, 4, 5].map((a) => recorder.record(runId, record(a))));
      const entries = await ledger.entries(runId);
      expect(entries.map((e) => e.type)).toEqual(["run_created", "model_call", "note", "model_call", "model_call", "model_call", "model_call"]);
      expect(entries.filter((e) => e.type === "model_call").map((e) => e.payload.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect((await ledger.verify({ runId })).ok).toBe(true);
      // A run the ledger does not know is an error, not a silent drop.
      await expect(recorder.record(newRunId(), record(1))).rejects.toThrow();
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
