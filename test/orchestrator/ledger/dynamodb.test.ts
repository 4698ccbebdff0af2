// What only the DynamoDB ledger has to repair: a write that failed between a run's entries and its head (no transactions).
import { DynamoDBClient, type PutItemCommandInput } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamoLedger } from "../../../src/orchestrator/ledger/dynamodb.js";
import { newRunId, type Ledger, type NewEntry } from "../../../src/orchestrator/ledger/port.js";
import { startDynalite, type LocalDynamo } from "../../helpers/aws-local.js";

const repo = "acme/api";
const created: NewEntry = {
  type: "run_created",
  payload: { run_type: "impl_change", source: { event_id: "e", origin: "github", subjects: [{ kind: "issue", forge: "github", repo, number: 5 }] }, repo_scope: repo, policy_version: "p" },
};
const published = (number: number): NewEntry => ({
  type: "published",
  payload: { forge: "github", url: `https://github.com/${repo}/pull/${number}`, subject: { kind: "pull_request", forge: "github", repo, number } },
});
const note: NewEntry = { type: "note", payload: { message: "resumed" } };

describe("DynamoDB ledger", () => {
  let local: LocalDynamo;
  let failing: DynamoDBClient;
  const table = `ledger-${Math.random().toString(36).slice(2, 8)}`;
  let ledger: Ledger;
  beforeAll(async () => {
    local = await startDynalite();
    ledger = await dynamoLedger({ client: local.client, table, createTable: true });
    // A process whose subject-item writes fail (a dropped connection): its entries land, its subject items and head do not.
    failing = new DynamoDBClient({ endpoint: local.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        const sk = (args.input as Partial<PutItemCommandInput>).Item?.sk?.S;
        if (context.commandName === "PutItemCommand" && sk?.startsWith("SUBJ#")) throw new Error("socket hang up");
        return next(args);
      },
      { step: "initialize", name: "dropSubjectWrites" },
    );
  });
  afterAll(async () => {
    failing?.destroy();
    await local?.close();
  });

  it("writes the subject items a failed append left out at the run's next append", async () => {
    const broken = await dynamoLedger({ client: failing, table });
    const runId = newRunId();
    await expect(broken.append([{ runId, expectedSeq: 0, entries: [created] }])).rejects.toThrow(/socket hang up/);
    await ledger.append([{ runId, expectedSeq: 1, entries: [note] }]);
    expect((await ledger.listRuns({ subject: `github:${repo}#issue/5` })).runs.map((r) => r.run_id)).toEqual([runId]);

    await expect(broken.append([{ runId, expectedSeq: 2, entries: [published(6)] }])).rejects.toThrow(/socket hang up/);
    // The entry is stored (entries are the truth) but nothing indexes the PR yet, and the head lags: not tampering.
    expect((await ledger.entries(runId)).map((e) => e.type)).toEqual(["run_created", "note", "published"]);
    expect((await ledger.listRuns({ subject: `github:${repo}#6` })).runs).toEqual([]);
    expect(await ledger.verify({ runId })).toMatchObject({ ok: true, entries: 3 });

    // Another process (nothing cached) appends next, and indexes every subject beyond the stored head's.
    const next = await dynamoLedger({ client: local.client, table });
    await next.append([{ runId, expectedSeq: 3, entries: [note] }]);
    const found = (await ledger.listRuns({ subject: `github:${repo}#6` })).runs;
    expect(found.map((r) => [r.run_id, r.head.seq, r.subjects])).toEqual([[runId, 3, [`github:${repo}#issue/5`, `github:${repo}#6`]]]);
    expect(await ledger.verify({ runId })).toEqual({ ok: true, runs: 1, entries: 4 });
  });
});
