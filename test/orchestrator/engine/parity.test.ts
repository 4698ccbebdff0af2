// The same definitions on both engines: the embedded engine and the compiled ASL (aws-local-stepfunctions behind a
// mocked SFN client, driven through StepFunctionsEngine) call the same activities in the same order and end alike.
import { afterEach, describe, expect, it } from "vitest";
import { StepFunctionsEngine } from "../../../src/orchestrator/engine/step-functions.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { WorkflowCatalog, workflows } from "../../../src/orchestrator/workflows/index.js";
import { runsInContainer } from "../../../src/orchestrator/workflows/schema.js";
import { openSqlite } from "../../../src/store/sqlite.js";
import { ledgerTrace, openEngine, request, waitFor, waitForStatus, type TestEngine } from "./harness.js";
import { localStepFunctions } from "./local-sfn.js";
import { ScriptedActivities, type Script } from "./scripted.js";

const catalog = new WorkflowCatalog(workflows);
const containerSteps = new Set(workflows.flatMap((w) => w.steps.filter((s) => runsInContainer(s.activity)).map((s) => s.id)));
const scripts: Record<string, Script> = {
  success: {},
  retry: { publish: [{ fail: "Forge.RateLimited" }, { fail: "Forge.Unavailable" }, "ok"] },
  agent_retry: { build: [{ fail: "Agent.Crashed" }, "ok"] },
  catch: { verify: [{ fail: "Gate.Failed" }] },
  retries_exhausted: { publish: [{ fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }] },
  approve: {},
  reject: {},
};

interface Path {
  readonly name: string;
  readonly scenario: string;
  readonly runType: "impl_change" | "spec_change" | "watcher_investigation" | "release_prep";
  readonly decision?: "approved" | "rejected";
  readonly trace: string[];
  readonly status: "succeeded" | "failed";
}
const upTo = (...last: string[]) => ["plan:ok", "build:ok", "verify:ok", ...last];
const paths: Path[] = [
  { name: "success without approval", scenario: "success", runType: "watcher_investigation", trace: ["plan:ok", "verify:ok", "report:ok"], status: "succeeded" },
  {
    name: "retry then success",
    scenario: "retry",
    runType: "impl_change",
    decision: "approved",
    trace: upTo("publish:Forge.RateLimited", "publish:Forge.Unavailable", "publish:ok", "await_approvals:ok", "report:ok"),
    status: "succeeded",
  },
  {
    name: "agent failure retried",
    scenario: "agent_retry",
    runType: "spec_change",
    decision: "approved",
    trace: ["plan:ok", "build:Agent.Crashed", "build:ok", "verify:ok", "publish:ok", "await_approvals:ok", "report:ok"],
    status: "succeeded",
  },
  { name: "catch into the failure report", scenario: "catch", runType: "impl_change", trace: ["plan:ok", "build:ok", "verify:Gate.Failed", "report_failure:ok"], status: "failed" },
  {
    name: "retries exhausted, then caught",
    scenario: "retries_exhausted",
    runType: "release_prep",
    trace: upTo(...Array<string>(5).fill("publish:Forge.RateLimited"), "report_failure:ok"),
    status: "failed",
  },
  { name: "approval approved", scenario: "approve", runType: "spec_change", decision: "approved", trace: upTo("publish:ok", "await_approvals:ok", "report:ok"), status: "succeeded" },
  { name: "approval rejected", scenario: "reject", runType: "impl_change", decision: "rejected", trace: upTo("publish:ok", "await_approvals:ok", "report_failure:ok"), status: "failed" },
];

let open: TestEngine[] = [];
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

async function onEmbedded(p: Path) {
  const acts = new ScriptedActivities(scripts);
  // Backoff is real time in the embedded engine: squash it to keep the test short, the same policy otherwise.
  const fast = new WorkflowCatalog(
    workflows.map((w) => ({
      ...w,
      steps: w.steps.map((s) => (s.retry ? { ...s, retry: { ...s.retry, backoff: { ...s.retry.backoff, initial_seconds: 1, max_seconds: 1, rate: 1 } } } : s)),
    })),
  );
  const t = openEngine(acts.registry(), { catalog: fast });
  open.push(t);
  const { runId } = await t.engine.start(request(p.runType, p.scenario));
  if (p.decision) {
    await waitForStatus(t.engine, runId, ["awaiting_human"], 20_000);
    await t.engine.decide(runId, { decision: p.decision, by: "alice", via: "review" });
  }
  const status = await waitForStatus(t.engine, runId, ["succeeded", "failed"], 20_000);
  return { status, trace: acts.trace(runId), ledger: ledgerTrace(await t.ledger.entries(runId)) };
}

async function onStepFunctions(p: Path) {
  const acts = new ScriptedActivities(scripts);
  const db = openSqlite(":memory:", { synchronous: "NORMAL" });
  const ledger = sqliteLedger({ db });
  const local = localStepFunctions({ catalog, activities: acts.registry(), ledger });
  const engine = new StepFunctionsEngine({ sfn: local.sfn, ledger, catalog, naming: { region: "eu-west-1", accountId: "123456789012", prefix: "scintilla-" }, policyVersion: "test-policy@1" });
  try {
    const { runId } = await engine.start(request(p.runType, p.scenario));
    if (p.decision) {
      await waitFor(() => local.waitingFor(runId) || undefined, `${runId} to wait for a decision`);
      expect(await engine.status(runId)).toBe("awaiting_human");
      await engine.decide(runId, { decision: p.decision, by: "alice", via: "review" });
    }
    const result = await local.execution(runId)!.result;
    const entries = await ledger.entries(runId);
    return { status: result, ledgerStatus: await engine.status(runId), trace: acts.trace(runId), entries };
  } finally {
    local.mock.restore();
    db.close();
  }
}

describe("embedded engine and compiled ASL agree", () => {
  for (const p of paths) {
    it(p.name, async () => {
      const [embedded, sfn] = await Promise.all([onEmbedded(p), onStepFunctions(p)]);
      expect(embedded.trace).toEqual(p.trace);
      expect(embedded.status).toBe(p.status);
      expect(sfn.trace).toEqual(embedded.trace);
      expect(sfn.status).toBe(embedded.status);
      // The dispatcher's ledger on AWS ends in the same status, having recorded every Lambda-run step.
      expect(sfn.ledgerStatus).toBe(embedded.status);
      // Container steps (agents, gates) record their own entries on AWS; here only the Lambda-run steps are compared.
      const byLambda = (trace: string[]) => trace.filter((s) => !containerSteps.has(s.split(":")[0]!));
      expect(byLambda(embedded.ledger)).toEqual(byLambda(ledgerTrace(sfn.entries)));
    }, 30_000);
  }
});
