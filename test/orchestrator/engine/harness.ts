// Opens a real embedded engine (SQLite file in a temp dir, the SQLite ledger) for tests, and builds run requests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ActivityRegistry } from "../../../src/orchestrator/activities/registry.js";
import { EmbeddedEngine, type EmbeddedEngineOptions } from "../../../src/orchestrator/engine/embedded.js";
import type { Entry, TransactionalLedger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import type { RunRequest, RunType } from "../../../src/orchestrator/run-request.js";
import { builtinCatalog, defineWorkflow, type WorkflowDefinition } from "../../../src/orchestrator/workflows/index.js";
import { openSqlite, type DatabaseSync } from "../../../src/store/sqlite.js";

let seq = 0;
export function request(runType: RunType, scenario = "default", over: Partial<RunRequest> = {}): RunRequest {
  seq++;
  return {
    run_type: runType,
    repo: { forge: "github", host: "github.com", full_path: "acme/api", default_branch: "main", id: "1", installation_id: 7 },
    subject: {
      type: "pull_request",
      number: 12,
      key: null,
      title: "Add rate limits",
      url: "https://github.com/acme/api/pull/12",
      state: "open",
      head_sha: null,
      head_ref: null,
      base_ref: "main",
      is_fork: false,
      labels: [],
    },
    requested_by: { source: "github", login: "octocat", id: "1" },
    idempotency_key: `test:${process.pid}:${seq}:${Math.random()}`,
    event_id: `github:delivery-${seq}`,
    trigger: scenario,
    stop_after: null,
    jira_issue: null,
    ...over,
  };
}

/** CheckRun (watcher_investigation): the given steps (verify → report by default) and a failure report, small enough to follow every entry. */
export function checkRun(version: number, steps: readonly ("verify" | "publish" | "report")[] = ["verify", "report"]): WorkflowDefinition {
  return defineWorkflow({
    name: "CheckRun",
    run_type: "watcher_investigation",
    version,
    description: "test workflow",
    steps: steps.map((id) => ({ id, activity: id, timeout_seconds: 60 })),
    on_failure: { id: "report_failure", activity: "report", timeout_seconds: 60 },
  });
}

export interface TestEngine {
  readonly engine: EmbeddedEngine;
  readonly ledger: TransactionalLedger;
  readonly db: DatabaseSync;
  readonly dir: string;
  close(): Promise<void>;
}

export function openEngine(activities: ActivityRegistry, over: Partial<EmbeddedEngineOptions> = {}, dir = mkdtempSync(path.join(tmpdir(), "engine-test-"))): TestEngine {
  const file = path.join(dir, "orchestrator.db");
  const db = openSqlite(file, { synchronous: "NORMAL" });
  const ledger = sqliteLedger({ db, file });
  const engine = new EmbeddedEngine({
    db,
    ledger,
    activities,
    catalog: builtinCatalog(),
    workerId: "test-worker",
    concurrency: 8,
    perRepoConcurrency: 8,
    leaseMs: 5_000,
    pollIntervalMs: 50,
    policyVersion: "test-policy@1",
    ...over,
  });
  engine.startWorker();
  return {
    engine,
    ledger,
    db,
    dir,
    async close() {
      await engine.stop(1_000);
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every 20 ms until it returns a value, at most `ms`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function waitForStatus(engine: EmbeddedEngine, runId: string, statuses: readonly string[], ms?: number): Promise<string> {
  return waitFor(async () => {
    const s = await engine.status(runId);
    return s && statuses.includes(s) ? s : undefined;
  }, `${runId} to reach ${statuses.join("|")}`, ms);
}

/** The ledger's step transitions of a run: `step:ok`, `step:<error>`, plus `approval_requested` and decisions. */
export function ledgerTrace(entries: readonly Entry[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const p = e.payload as { step?: string; error?: string; decision?: string; to?: string };
    if (e.type === "step_finished" && p.step) out.push(`${p.step}:ok`);
    else if (e.type === "step_failed" && p.step) out.push(`${p.step}:${p.error}`);
  }
  return out;
}
