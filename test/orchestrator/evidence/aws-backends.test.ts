// The audit stores wired for AWS (DynamoDB ledger, S3 artifacts) against dynalite and s3rver, and the settings they need.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig, type Config } from "../../../src/config.js";
import { buildAuditStores, type AuditStores } from "../../../src/orchestrator/evidence/wire.js";
import { newRunId } from "../../../src/orchestrator/ledger/port.js";
import { openSqlite } from "../../../src/store/sqlite.js";
import { startDynalite, startS3rver, withDynamoLedger, type LocalDynamo, type LocalS3 } from "../../helpers/aws-local.js";

describe("audit stores on AWS backends", () => {
  let dynamo: LocalDynamo;
  let s3: LocalS3;
  let dir: string;
  let db: DatabaseSync;
  let stores: AuditStores;
  beforeAll(async () => {
    // The AWS SDK's default credential chain reads these; s3rver checks signatures against its fixed pair.
    vi.stubEnv("AWS_ACCESS_KEY_ID", "S3RVER");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "S3RVER");
    [dynamo, s3] = await Promise.all([startDynalite(), startS3rver(["run-artifacts"])]);
    dir = mkdtempSync(path.join(tmpdir(), "aws-audit-"));
    const dbFile = path.join(dir, "orchestrator.db");
    db = openSqlite(dbFile, { synchronous: "NORMAL" });
    const base = withDynamoLedger(loadConfig({ DATA_DIR: dir }), dynamo);
    const config: Config = { ...base, artifacts: { ...base.artifacts, backend: "s3", s3Bucket: "run-artifacts", s3Endpoint: s3.endpoint } };
    stores = await buildAuditStores({ config, dataDir: dir, db, dbFile });
  });
  afterAll(async () => {
    await stores?.close();
    db?.close();
    await Promise.all([dynamo?.close(), s3?.close()]);
    rmSync(dir, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  it("are ready, and a run sealed there verifies", async () => {
    for (const r of stores.readiness) await expect(r.check()).resolves.toBeUndefined();
    expect(stores.transactionalLedger).toBeUndefined();
    const { ledger, artifacts, evidence } = stores;
    const runId = newRunId();
    const log = await artifacts.put("all tests passed\n", { name: "tests.log", media_type: "text/plain", run_id: runId, producer_step: "verify" });
    await ledger.append([
      {
        runId,
        expectedSeq: 0,
        entries: [
          { type: "run_created", payload: { run_type: "conformance_update", source: { event_id: "e1", origin: "gitlab" }, repo_scope: "grp/proj", policy_version: "p" } },
          { type: "artifact_added", payload: { sha256: log.sha256, name: log.name, size: log.size, media_type: log.media_type } },
        ],
      },
    ]);
    const { bundle, stored } = await evidence.seal(runId);
    expect(stored.key).toBe(`sha256/${stored.sha256}`);
    expect(await evidence.verify(await evidence.latest(runId))).toMatchObject({ ok: true });
    expect(bundle.manifest.artifacts).toEqual([expect.objectContaining({ name: "tests.log", sha256: log.sha256 })]);
    expect(await ledger.verify()).toMatchObject({ ok: true, runs: 1, entries: 3 });
  });
});

describe("AWS settings", () => {
  it("name what each AWS backend is missing", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return "";
      } catch (err) {
        return (err as ConfigError).problems.join("\n");
      }
    };
    expect(problems({ LEDGER_BACKEND: "dynamodb" })).toMatch(/AWS_REGION: required by LEDGER_BACKEND=dynamodb/);
    expect(problems({ ARTIFACTS_BACKEND: "s3", AWS_REGION: "eu-west-1" })).toMatch(/S3_BUCKET: required/);
    expect(problems({ SIGNER: "kms", AWS_REGION: "eu-west-1" })).toMatch(/KMS_SIGNING_KEY_ID: required/);
    expect(problems({ S3_BUCKET: "ab" })).toMatch(/S3_BUCKET: must be an S3 bucket name/);
    expect(problems({ LEDGER_BACKEND: "postgres" })).toMatch(/LEDGER_BACKEND/);
  });
});
