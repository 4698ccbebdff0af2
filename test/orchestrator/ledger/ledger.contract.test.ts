// One contract for every Ledger adapter: conditional appends, projection, queries, and tamper detection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LedgerConflictError,
  LedgerInputError,
  newRunId,
  type Ledger,
  type NewEntry,
  type RunType,
} from "../../../src/orchestrator/ledger/port.js";
import { dynamoBackend, sqliteBackend, type Backend } from "./backends.js";

function created(repo = "acme/api", opts: { jira?: string; pr?: number; issue?: number; type?: RunType } = {}): NewEntry<"run_created"> {
  return {
    type: "run_created",
    payload: {
      run_type: opts.type ?? "impl_change",
      source: {
        event_id: `delivery-${Math.random()}`,
        origin: "github",
        subjects: [
          ...(opts.pr ? [{ kind: "pull_request" as const, forge: "github" as const, repo, number: opts.pr }] : []),
          ...(opts.issue ? [{ kind: "issue" as const, forge: "github" as const, repo, number: opts.issue }] : []),
          ...(opts.jira ? [{ kind: "jira" as const, key: opts.jira }] : []),
        ],
      },
      repo_scope: repo,
      inputs: { issue: 7 },
      policy_version: "sha256:abc",
      title: "Add retry to the webhook client",
    },
  };
}

const step = (name: string, attempt = 0): NewEntry<"step_started"> => ({ type: "step_started", payload: { step: name, attempt } });

/** The `published` entry of a run that opened PR `number` of `repo` on GitHub. */
function published(repo: string, number: number): NewEntry<"published"> {
  return { type: "published", payload: { forge: "github", url: `https://github.com/${repo}/pull/${number}`, subject: { kind: "pull_request", forge: "github", repo, number } } };
}

async function newRun(ledger: Ledger, extra: NewEntry[] = [], repo?: string): Promise<string> {
  const runId = newRunId();
  await ledger.append([{ runId, expectedSeq: 0, entries: [created(repo), ...extra] }]);
  return runId;
}

describe.each([
  ["sqlite", sqliteBackend],
  ["dynamodb (dynalite)", dynamoBackend],
])("Ledger contract: %s", (_name, make) => {
  let b: Backend;
  beforeAll(async () => {
    b = await make();
  });
  afterAll(async () => b?.close());

  it("appends entries chained by hash and projects the run record", async () => {
    const runId = newRunId();
    const [first] = await b.ledger.append([{ runId, expectedSeq: 0, entries: [created("acme/api", { pr: 12, jira: "ABC-1" })] }]);
    expect(first!.entries[0]!.prev_hash).toBe("0".repeat(64));
    const [second] = await b.ledger.append([
      {
        runId,
        expectedSeq: 1,
        entries: [
          { type: "status_changed", payload: { to: "running" } },
          step("plan"),
          { type: "model_call", payload: { provider: "bedrock", model: "claude", input_tokens: 100, output_tokens: 20, cost_usd: 0.01, step: "plan" } },
          { type: "artifact_added", payload: { sha256: "a".repeat(64), name: "plan.md", size: 10, media_type: "text/markdown", producer_step: "plan" } },
          { type: "gate_result", payload: { gate: "spec lint", passed: true } },
          { type: "decision", payload: { decision: "approved", by: "octocat", via: "review" } },
        ],
      },
    ]);
    expect(second!.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(second!.entries[0]!.prev_hash).toBe(first!.entries[0]!.hash);
    expect(second!.head).toEqual({ seq: 6, hash: second!.entries[5]!.hash });

    const record = await b.ledger.run(runId);
    expect(record).toMatchObject({
      run_id: runId,
      run_type: "impl_change",
      status: "running",
      repo_scope: "acme/api",
      subjects: ["github:acme/api#12", "jira:ABC-1"],
      totals: { input_tokens: 100, output_tokens: 20, cost_usd: 0.01 },
      head: second!.head,
    });
    expect(record!.artifacts).toHaveLength(1);
    expect(record!.gate_results[0]).toMatchObject({ gate: "spec lint", passed: true });
    expect(record!.approvals[0]).toMatchObject({ decision: "approved", by: "octocat" });
    expect((await b.ledger.entries(runId, 5)).map((e) => e.type)).toEqual(["gate_result", "decision"]);
    expect(await b.ledger.run(newRunId())).toBeUndefined();
    expect(await b.ledger.verify({ runId })).toEqual({ ok: true, runs: 1, entries: 7 });
  });

  it("refuses a seq that is taken, a gap, and bad entries, writing nothing", async () => {
    const runId = await newRun(b.ledger, [step("a")]);
    await expect(b.ledger.append([{ runId, expectedSeq: 1, entries: [step("b")] }])).rejects.toBeInstanceOf(LedgerConflictError);
    await expect(b.ledger.append([{ runId, expectedSeq: 5, entries: [step("b")] }])).rejects.toThrow(/next seq is 2/);
    await expect(b.ledger.append([{ runId: newRunId(), expectedSeq: 0, entries: [step("x")] }])).rejects.toBeInstanceOf(LedgerInputError);
    await expect(b.ledger.append([{ runId: newRunId(), expectedSeq: 3, entries: [step("x")] }])).rejects.toThrow(/no run run_\w+ in the ledger; a run starts with its run_created/);
    await expect(
      b.ledger.append([{ runId, expectedSeq: 2, entries: [{ type: "model_call", payload: { provider: "p", model: "m", input_tokens: 1, output_tokens: 1, cost_usd: 0, prompt: "secret" } as never }] }]),
    ).rejects.toThrow(/payload.prompt must not be recorded/);
    await expect(b.ledger.append([{ runId, expectedSeq: 2, entries: [{ type: "status_changed", payload: { to: "exploded" } as never }] }])).rejects.toThrow(
      /payload.to/,
    );
    expect((await b.ledger.entries(runId)).map((e) => e.seq)).toEqual([0, 1]);
  });

  it("lets exactly one of many writers take a seq, and concurrent retrying writers leave no gap", async () => {
    const runId = await newRun(b.ledger);
    const other = await b.second();
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? other : b.ledger).append([{ runId, expectedSeq: 1, entries: [step(`w${i}`)] }])));
    expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
    expect(attempts.filter((a) => a.status === "rejected").every((a) => (a as PromiseRejectedResult).reason instanceof LedgerConflictError)).toBe(true);

    const writer = async (ledger: Ledger, i: number) => {
      for (let attempt = 0; attempt < 500; attempt++) {
        const next = (await ledger.entries(runId)).length;
        try {
          await ledger.append([{ runId, expectedSeq: next, entries: [step(`writer-${i}`)] }]);
          return;
        } catch (err) {
          if (!(err instanceof LedgerConflictError)) throw err;
        }
      }
      throw new Error(`writer ${i} gave up`);
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer(i % 2 ? other : b.ledger, i)));
    const entries = await b.ledger.entries(runId);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 52 }, (_, i) => i));
    expect(new Set(entries.slice(2).map((e) => (e.payload as { step: string }).step)).size).toBe(50);
    expect(await b.ledger.verify({ runId })).toMatchObject({ ok: true, entries: 52 });
  });

  it("lists runs newest first by repo, status and subject, page by page", async () => {
    const repo = `org/list-${b.name}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const runId = newRunId();
      ids.push(runId);
      await b.ledger.append([{ runId, expectedSeq: 0, entries: [created(repo, { jira: i % 2 ? "LIST-1" : "LIST-2", pr: 100 + i })] }]);
    }
    await b.ledger.append([{ runId: ids[1]!, expectedSeq: 1, entries: [{ type: "status_changed", payload: { to: "awaiting_human" } }] }]);

    const page1 = await b.ledger.listRuns({ repo, limit: 2 });
    expect(page1.runs.map((r) => r.run_id)).toEqual([ids[4], ids[3]]);
    const page2 = await b.ledger.listRuns({ repo, limit: 2, cursor: page1.next! });
    const page3 = await b.ledger.listRuns({ repo, limit: 2, cursor: page2.next! });
    expect([...page2.runs, ...page3.runs].map((r) => r.run_id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(page3.next).toBeUndefined();

    expect((await b.ledger.listRuns({ subject: "jira:LIST-1" })).runs.map((r) => r.run_id)).toEqual([ids[3], ids[1]]);
    expect((await b.ledger.listRuns({ subject: `github:${repo}#102` })).runs.map((r) => r.run_id)).toEqual([ids[2]]);
    const waiting = await b.ledger.listRuns({ status: "awaiting_human", repo });
    expect(waiting.runs.map((r) => [r.run_id, r.status])).toEqual([[ids[1], "awaiting_human"]]);
    expect((await b.ledger.listRuns({ limit: 1 })).runs).toHaveLength(1);
    await expect(b.ledger.listRuns({ cursor: "not-a-cursor!" })).rejects.toThrow(/cursor/);
  });

  it("makes the PR/MR a run published one of its subjects, found by listRuns from every ledger", async () => {
    const repo = `org/publish-${b.name}`;
    const runId = newRunId();
    await b.ledger.append([{ runId, expectedSeq: 0, entries: [created(repo, { issue: 5 })] }]);
    const prKey = `github:${repo}#6`;
    expect((await b.ledger.listRuns({ subject: prKey })).runs).toEqual([]);

    // An entry from before `subject` existed stays valid and adds nothing.
    await b.ledger.append([{ runId, expectedSeq: 1, entries: [{ type: "published", payload: { forge: "github", url: `https://github.com/${repo}/pull/6` } }] }]);
    expect((await b.ledger.listRuns({ subject: prKey })).runs).toEqual([]);

    await b.ledger.append([{ runId, expectedSeq: 2, entries: [published(repo, 6), { type: "status_changed", payload: { to: "awaiting_human" } }] }]);
    const keys = [`github:${repo}#issue/5`, prKey];
    for (const ledger of [b.ledger, await b.second()]) {
      for (const key of keys) expect((await ledger.listRuns({ subject: key })).runs.map((r) => [r.run_id, r.status, r.subjects])).toEqual([[runId, "awaiting_human", keys]]);
      expect((await ledger.run(runId))!.subjects).toEqual(keys);
    }

    // Publishing the same PR again (an updated PR) keeps one subject; the chain still verifies.
    await b.ledger.append([{ runId, expectedSeq: 4, entries: [published(repo, 6)] }]);
    expect((await b.ledger.listRuns({ subject: prKey })).runs.map((r) => r.subjects)).toEqual([keys]);
    expect(await b.ledger.verify({ runId })).toEqual({ ok: true, runs: 1, entries: 5 });
  });

  it("takes a published subject in the same append that creates the run", async () => {
    const repo = `org/publish-once-${b.name}`;
    const runId = newRunId();
    await b.ledger.append([{ runId, expectedSeq: 0, entries: [created(repo, { jira: "PUB-1" }), published(repo, 9)] }]);
    expect((await b.ledger.listRuns({ subject: `github:${repo}#9` })).runs.map((r) => [r.run_id, r.subjects])).toEqual([[runId, ["jira:PUB-1", `github:${repo}#9`]]]);
    expect((await b.ledger.listRuns({ subject: "jira:PUB-1" })).runs.map((r) => r.run_id)).toEqual([runId]);
  });

  it("refuses a published PR/MR outside the run's repo or forge, writing nothing", async () => {
    const repo = `org/publish-bad-${b.name}`;
    const runId = await newRun(b.ledger, [], repo);
    await expect(b.ledger.append([{ runId, expectedSeq: 1, entries: [step("a"), published("other/repo", 3)] }])).rejects.toThrow(
      /\(published\): payload.subject.repo must be the run's repo org\/publish-bad-.*, got other\/repo/,
    );
    const gitlab: NewEntry<"published"> = { type: "published", payload: { forge: "github", url: "https://x", subject: { kind: "pull_request", forge: "gitlab", repo, number: 3 } } };
    await expect(b.ledger.append([{ runId, expectedSeq: 1, entries: [gitlab] }])).rejects.toThrow(/payload.subject.forge must be the forge the run published to \(github\), got gitlab/);
    const issue = { type: "published", payload: { forge: "github", url: "https://x", subject: { kind: "issue", forge: "github", repo, number: 3 } } } as unknown as NewEntry;
    await expect(b.ledger.append([{ runId, expectedSeq: 1, entries: [issue] }])).rejects.toBeInstanceOf(LedgerInputError);
    expect((await b.ledger.entries(runId)).map((e) => e.type)).toEqual(["run_created"]);
    expect((await b.ledger.listRuns({ subject: "github:other/repo#3" })).runs).toEqual([]);
    expect((await b.ledger.run(runId))!.subjects).toEqual([]);
  });

  describe("verify names the first tampered run and seq", () => {
    const cases: Array<[string, (b: Backend, runId: string) => Promise<void>, RegExp, number]> = [
      ["an edited entry", (b, r) => b.tamper.editBytes(r, 2, (body) => Buffer.from(body.toString().replace('"build"', '"bUild"'))), /edited/, 2],
      ["a deleted entry", (b, r) => b.tamper.remove(r, 2), /deleted/, 2],
      ["reordered entries", (b, r) => b.tamper.swap(r, 2, 3), /reordered/, 2],
      [
        "a truncated tail",
        async (b, r) => {
          await b.tamper.remove(r, 4);
          await b.tamper.remove(r, 3);
        },
        /truncated/,
        3,
      ],
      ["a rewritten last entry", (b, r) => b.tamper.editBytes(r, 4, (body) => Buffer.from(body.toString().replace('"test"', '"tset"'))), /edited/, 4],
    ];
    it.each(cases)("%s", async (_what, tamper, kind, seq) => {
      // A fresh store per case: the whole-ledger verify must point at this run, not an earlier case's.
      const b = await make();
      await newRun(b.ledger, [step("plan")]);
      const runId = await newRun(b.ledger, [step("plan"), step("build"), step("verify"), step("test")]);
      await newRun(b.ledger, [step("plan")]);
      expect(await b.ledger.verify({ runId })).toEqual({ ok: true, runs: 1, entries: 5 });
      await tamper(b, runId);
      for (const report of [await b.ledger.verify({ runId }), await b.ledger.verify()]) {
        expect(report.ok).toBe(false);
        if (report.ok) continue;
        expect(report.problem.runId).toBe(runId);
        expect(report.problem.seq).toBe(seq);
        expect(report.problem.kind).toMatch(kind);
        expect(report.problem.message.length).toBeGreaterThan(10);
      }
      await b.close();
    });
  });
});
