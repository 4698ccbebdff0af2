// The model router wired for AWS (LEDGER_BACKEND=dynamodb): budgets in the ledger's own table, against dynalite.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config.js";
import { buildAuditStores, type AuditStores } from "../../src/orchestrator/evidence/wire.js";
import { ModelCallRefused } from "../../src/router/service.js";
import { buildModelRouter, type ModelRouterParts } from "../../src/router/wire.js";
import { openSqlite, type DatabaseSync } from "../../src/store/sqlite.js";
import { startDynalite, withDynamoLedger, type LocalDynamo } from "../helpers/aws-local.js";
import { script, scriptedPolicy, seedRun } from "./helpers.js";

const TABLE = "orchestrator-ledger";

let dynamo: LocalDynamo;
let dir: string;
let db: DatabaseSync;
let audit: AuditStores;
let models: ModelRouterParts;

beforeAll(async () => {
  // The AWS SDK's default credential chain reads these; dynalite accepts any.
  vi.stubEnv("AWS_ACCESS_KEY_ID", "LOCAL");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "LOCAL");
  dynamo = await startDynalite();
  dir = mkdtempSync(path.join(tmpdir(), "router-dynamodb-"));
  writeFileSync(path.join(dir, "script.yaml"), script);
  // Each call reserves ~$0.106 (6 prompt + 100 output tokens at $0.001) and settles to $0.015.
  writeFileSync(path.join(dir, "routing-policy.yaml"), scriptedPolicy("", "max_cost_per_run_usd: 0.13"));
  const dbFile = path.join(dir, "orchestrator.db");
  db = openSqlite(dbFile, { synchronous: "NORMAL" });
  const base = loadConfig({ DATA_DIR: dir, ROUTING_POLICY_PATH: path.join(dir, "routing-policy.yaml") });
  const config = withDynamoLedger(base, dynamo, TABLE);
  audit = await buildAuditStores({ config, dataDir: dir, db, dbFile });
  models = await buildModelRouter({
    settings: config.router,
    dynamoTable: audit.dynamoTable,
    dataDir: dir,
    db,
    ledger: audit.ledger,
    transactionalLedger: audit.transactionalLedger,
    env: {},
    logger: pino({ level: "silent" }),
  });
});
afterAll(async () => {
  models?.close();
  await audit?.close();
  db?.close();
  await dynamo?.close();
  rmSync(dir, { recursive: true, force: true });
  vi.unstubAllEnvs();
});

describe("model router with LEDGER_BACKEND=dynamodb", () => {
  it("reserves and settles in the ledger's table under BUDGET#<run>, refuses past the limit, and leaves the ledger's queries and verify untouched", async () => {
    const runId = await seedRun(audit.ledger);
    const call = { runId, role: "builder" as const, runType: "impl_change" as const, repo: "acme/app", messages: [{ role: "user" as const, content: "hello" }], maxTokens: 100 };
    expect(await models.router.complete(call)).toMatchObject({ text: "scripted answer", costUsd: 0.015 });
    expect(await models.router.complete(call)).toMatchObject({ costUsd: 0.015 });
    // $0.03 spent + $0.106 for a third reservation > $0.13: refused by the DynamoDB store, with its reason.
    await expect(models.router.complete(call)).rejects.toThrow(ModelCallRefused);
    await expect(models.router.complete(call)).rejects.toMatchObject({ code: "budget", reason: expect.stringMatching(/run budget exhausted: \$0\.03/) });

    const items = await dynamo.client.send(
      new QueryCommand({ TableName: TABLE, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: `BUDGET#${runId}` } }, ConsistentRead: true }),
    );
    const bySk = (items.Items ?? []).map((i) => ({ sk: i.sk!.S!, micros: i.micros?.N, settled: i.settled?.BOOL }));
    expect(bySk.filter((i) => i.sk.startsWith("RES#"))).toEqual([
      { sk: expect.any(String), micros: "15000", settled: true },
      { sk: expect.any(String), micros: "15000", settled: true },
    ]);
    expect(bySk.find((i) => i.sk === "TOTAL")).toMatchObject({ micros: "30000" });
    // Nothing went to the embedded store.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'router_budget_reservations'").all()).toEqual([]);

    const calls = (await audit.ledger.entries(runId)).filter((e) => e.type === "model_call").map((e) => e.payload);
    expect(calls.map((c) => c.outcome)).toEqual(["ok", "ok", "refused", "refused"]);
    expect((await audit.ledger.listRuns()).runs.map((r) => r.run_id)).toEqual([runId]);
    expect(await audit.ledger.verify()).toMatchObject({ ok: true, runs: 1, entries: 5 });
  });
});
