import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoBudgetStore } from "../../src/router/budgets/dynamodb.js";
import type { BudgetLimits, BudgetStore } from "../../src/router/budgets/port.js";
import { SqliteBudgetStore } from "../../src/router/budgets/sqlite.js";
import { openSqlite, type DatabaseSync } from "../../src/store/sqlite.js";
import { startDynalite, type LocalDynamo } from "../helpers/aws-local.js";

const limits: BudgetLimits = { maxCostPerRunUsd: 1, maxCostPerRoleUsd: 0.5, maxCallsPerRun: 30 };

let dir: string;
let db: DatabaseSync;
let dynamo: LocalDynamo;
let dynamoStore: DynamoBudgetStore;
let sqliteStore: SqliteBudgetStore | undefined;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "budgets-"));
  db = openSqlite(path.join(dir, "orchestrator.db"), { synchronous: "NORMAL" });
  dynamo = await startDynalite();
  dynamoStore = new DynamoBudgetStore({ client: dynamo.client, table: "orchestrator-budgets" });
  await dynamoStore.ensureTable();
});
afterAll(async () => {
  sqliteStore?.flush();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  await dynamo.close();
});

const stores: Array<[string, () => BudgetStore]> = [
  ["SQLite", () => (sqliteStore ??= new SqliteBudgetStore(db))],
  ["DynamoDB (dynalite)", () => dynamoStore],
];

describe.each(stores)("%s budget store", (_name, store) => {
  it("50 concurrent reservations never exceed the run or role limit", async () => {
    const runId = `run_${Math.random().toString(36).slice(2)}`;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store().reserve({ runId, role: i % 2 ? "builder" : "planner", tokens: 1000, costUsd: 0.07, limits })),
    );
    const ok = results.filter((r) => r.ok);
    // $0.07 each: 7 per role fit in $0.50, 14 in the run's $1.
    expect(ok).toHaveLength(14);
    const usage = await store().usage(runId);
    expect(usage.costUsd).toBeLessThanOrEqual(1);
    expect(usage.byRole.planner).toBeLessThanOrEqual(0.5);
    expect(usage.byRole.builder).toBeLessThanOrEqual(0.5);
    expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, reason: expect.stringMatching(/budget exhausted/) });
  });

  it("settling replaces the estimate with actual use, freeing the rest; settling twice changes nothing", async () => {
    const runId = `run_${Math.random().toString(36).slice(2)}`;
    const r = await store().reserve({ runId, role: "verifier", tokens: 5000, costUsd: 0.9, limits: { maxCostPerRunUsd: 1, maxCallsPerRun: 10 } });
    expect(r.ok).toBe(true);
    expect((await store().reserve({ runId, role: "verifier", tokens: 1, costUsd: 0.2, limits: { maxCostPerRunUsd: 1, maxCallsPerRun: 10 } })).ok).toBe(false);
    if (!r.ok) return;
    await store().settle(r.id, { tokens: 300, costUsd: 0.05 });
    await store().settle(r.id, { tokens: 300, costUsd: 0.05 });
    // The refused reservation took nothing.
    expect(await store().usage(runId)).toMatchObject({ calls: 1, tokens: 300, costUsd: 0.05 });
    expect((await store().reserve({ runId, role: "verifier", tokens: 1, costUsd: 0.2, limits: { maxCostPerRunUsd: 1, maxCallsPerRun: 10 } })).ok).toBe(true);
  });

  it("refuses past max_calls_per_run", async () => {
    const runId = `run_${Math.random().toString(36).slice(2)}`;
    const l = { maxCostPerRunUsd: 10, maxCallsPerRun: 2 };
    await store().reserve({ runId, role: "planner", tokens: 1, costUsd: 0, limits: l });
    await store().reserve({ runId, role: "planner", tokens: 1, costUsd: 0, limits: l });
    expect(await store().reserve({ runId, role: "planner", tokens: 1, costUsd: 0, limits: l })).toMatchObject({ ok: false, reason: expect.stringMatching(/max_calls_per_run/) });
  });
});

describe("SQLite budget store sharing a commit", () => {
  it("writes waiting settlements in the caller's transaction, and keeps them waiting if that transaction rolls back", async () => {
    const store = new SqliteBudgetStore(db);
    const runId = `run_${Math.random().toString(36).slice(2)}`;
    const settledRow = db.prepare("SELECT cost_micros, settled FROM router_budget_reservations WHERE run_id = ?");
    const r = await store.reserve({ runId, role: "planner", tokens: 1000, costUsd: 0.4, limits });
    if (!r.ok) throw new Error(r.reason);
    await store.settle(r.id, { tokens: 100, costUsd: 0.01 });
    expect(() =>
      store.commitWith(() => {
        throw new Error("the ledger append failed");
      }),
    ).toThrow("the ledger append failed");
    // Rolled back with the failed append, still waiting.
    expect(settledRow.get(runId)).toEqual({ cost_micros: 400_000, settled: 0 });
    expect(store.commitWith(() => "appended")).toBe("appended");
    expect(settledRow.get(runId)).toEqual({ cost_micros: 10_000, settled: 1 });
  });
});
