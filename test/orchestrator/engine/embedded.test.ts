// The embedded engine end to end: real SQLite file, real ledger, scripted activities.
import { afterEach, describe, expect, it } from "vitest";
import { defaultActivities } from "../../../src/orchestrator/activities/registry.js";
import { engineSink, RunNotFoundError, RunStateError, startingSink } from "../../../src/orchestrator/engine/port.js";
import { definitionDigest, WorkflowCatalog, workflows } from "../../../src/orchestrator/workflows/index.js";
import { defineWorkflow } from "../../../src/orchestrator/workflows/schema.js";
import { ledgerTrace, openEngine, request, waitFor, waitForStatus, type TestEngine } from "./harness.js";
import { ScriptedActivities, type Script } from "./scripted.js";

/** A short workflow for the timing-dependent paths: 1 s backoff, 1 s timeouts. */
const quick = defineWorkflow({
  name: "QuickRun",
  run_type: "impl_change",
  version: 1,
  description: "test workflow",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: 1, retry: { max_attempts: 3, backoff: { initial_seconds: 1, rate: 1, max_seconds: 1 }, retryable_errors: ["Agent.Crashed"] } },
    { id: "verify", activity: "verify", timeout_seconds: 5 },
    { id: "await_approvals", activity: "await_approvals", timeout_seconds: 1 },
    { id: "report", activity: "report", timeout_seconds: 5 },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: 5 },
});

let open: TestEngine[] = [];
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

function engineWith(scripts: Record<string, Script>, over: Parameters<typeof openEngine>[1] = {}) {
  const acts = new ScriptedActivities(scripts);
  const t = openEngine(acts.registry(), over);
  open.push(t);
  return { acts, ...t };
}

describe("embedded engine: happy path of each run type", () => {
  for (const def of workflows) {
    it(`${def.name} runs every step once, in order, and succeeds`, async () => {
      const { acts, engine, ledger } = engineWith({});
      const { runId, created } = await engine.start(request(def.run_type));
      expect(created).toBe(true);
      const hasApproval = def.steps.some((s) => s.activity === "await_approvals");
      if (hasApproval) {
        await waitForStatus(engine, runId, ["awaiting_human"]);
        await engine.decide(runId, { decision: "approved", by: "alice", via: "review" });
      }
      expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("succeeded");
      expect(acts.trace(runId)).toEqual(def.steps.map((s) => `${s.id}:ok`));
      const entries = await ledger.entries(runId);
      expect(ledgerTrace(entries)).toEqual(def.steps.map((s) => `${s.id}:ok`));
      const created0 = entries[0]!;
      expect(created0.type).toBe("run_created");
      expect(created0.payload.workflow).toEqual({ name: def.name, version: def.version, sha256: definitionDigest(def) });
      expect(entries.filter((e) => e.type === "approval_requested")).toHaveLength(hasApproval ? 1 : 0);
      expect(entries.at(-1)!.payload).toMatchObject({ to: "succeeded" });
      expect((await ledger.run(runId))!.status).toBe("succeeded");
      expect((await ledger.verify({ runId })).ok).toBe(true);
    });
  }
});

describe("embedded engine: semantics", () => {
  it("starts at most one run per idempotency key", async () => {
    const { engine, db } = engineWith({});
    const req = request("watcher_investigation");
    const [a, b] = await Promise.all([engine.start(req), engine.start(req)]);
    const c = await engine.start(req);
    expect(new Set([a.runId, b.runId, c.runId]).size).toBe(1);
    expect([a.created, b.created, c.created].filter(Boolean)).toHaveLength(1);
    expect((db.prepare("SELECT count(*) AS n FROM engine_runs").get() as { n: number }).n).toBe(1);
  });

  it("retries a retryable error with backoff, then succeeds on the same step", async () => {
    const { acts, engine, ledger } = engineWith({ flaky: { plan: [{ fail: "Agent.Crashed" }, "ok"] } }, { catalog: new WorkflowCatalog([quick]) });
    const { runId } = await engine.start(request("impl_change", "flaky"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    await engine.decide(runId, { decision: "approved", by: "alice", via: "api" });
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.trace(runId)).toEqual(["plan:Agent.Crashed", "plan:ok", "verify:ok", "await_approvals:ok", "report:ok"]);
    expect(acts.calls.filter((c) => c.stepId === "plan").map((c) => c.attemptKey)).toEqual([`${runId}/plan/1`, `${runId}/plan/2`]);
    const entries = await ledger.entries(runId);
    const started = entries.filter((e) => e.type === "step_started" && e.payload.step === "plan");
    expect(started.map((e) => e.payload.attempt)).toEqual([1, 2]);
    // The retry waited the declared backoff (1 s) before its attempt started.
    expect(Date.parse(started[1]!.at) - Date.parse(entries.find((e) => e.type === "step_failed")!.at)).toBeGreaterThanOrEqual(900);
  });

  it("a step that runs past its timeout fails with States.Timeout and goes to the failure report", async () => {
    const { acts, engine, ledger } = engineWith({ slow: { plan: [{ hang: 5_000 }] } }, { catalog: new WorkflowCatalog([quick]) });
    const { runId } = await engine.start(request("impl_change", "slow"));
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(acts.trace(runId)).toEqual(["plan:hang", "report_failure:ok"]);
    const entries = await ledger.entries(runId);
    expect(ledgerTrace(entries)).toEqual(["plan:States.Timeout", "report_failure:ok"]);
    expect(entries.at(-1)!.payload).toMatchObject({ to: "failed", reason: expect.stringContaining("States.Timeout") });
  });

  it("a caught error runs the failure step, which reports the error, and the run ends failed", async () => {
    const seen: unknown[] = [];
    const acts = new ScriptedActivities({ gate: { verify: [{ fail: "Gate.Failed" }] } });
    const reg = acts.registry().register("report", async (call) => (seen.push(call.state.error), { reported: true }));
    const t = openEngine(reg);
    open.push(t);
    const { runId } = await t.engine.start(request("spec_change", "gate"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(acts.trace(runId)).toEqual(["plan:ok", "build:ok", "verify:Gate.Failed"]);
    expect(seen).toEqual([{ Error: "Gate.Failed", Cause: "scripted failure of verify" }]);
    expect(ledgerTrace(await t.ledger.entries(runId))).toEqual(["plan:ok", "build:ok", "verify:Gate.Failed", "report_failure:ok"]);
    expect((await t.ledger.run(runId))!.status).toBe("failed");
  });

  it("an error no catch matches fails the run at once", async () => {
    const strict = defineWorkflow({ ...quick, name: "StrictRun", steps: quick.steps.map((s) => ({ ...s, catch: ["Gate.Failed"] })) });
    const { acts, engine } = engineWith({ boom: { verify: [{ fail: "Forge.Unavailable" }] } }, { catalog: new WorkflowCatalog([strict]) });
    const { runId } = await engine.start(request("impl_change", "boom"));
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(acts.trace(runId)).toEqual(["plan:ok", "verify:Forge.Unavailable"]);
  });

  it("a rejection fails the approval step with Approval.Rejected and reports", async () => {
    const { acts, engine, ledger } = engineWith({});
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    await engine.decide(runId, { decision: "changes_requested", by: "bob", via: "review" });
    expect(await engine.status(runId)).toBe("awaiting_human");
    await engine.decide(runId, { decision: "rejected", by: "bob", via: "slash_command", reason: "wrong approach" });
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(acts.trace(runId)).toEqual(["plan:ok", "build:ok", "verify:ok", "publish:ok", "await_approvals:ok", "report_failure:ok"]);
    const entries = await ledger.entries(runId);
    expect(entries.filter((e) => e.type === "decision").map((e) => e.payload.decision)).toEqual(["changes_requested", "rejected"]);
    expect(ledgerTrace(entries)).toContain("await_approvals:Approval.Rejected");
  });

  it("resumes only when every checklist item is approved; an approval without an item approves the rest", async () => {
    const { acts, engine, ledger } = engineWith({});
    const a = await engine.start(request("impl_change"));
    await waitForStatus(engine, a.runId, ["awaiting_human"]);
    await engine.decide(a.runId, { decision: "approved", by: "alice", via: "slash_command", item: "plan" });
    await engine.decide(a.runId, { decision: "approved", by: "alice", via: "slash_command", item: "plan" });
    await engine.decide(a.runId, { decision: "approved", by: "bob", via: "slash_command", item: "spec" });
    await engine.decide(a.runId, { decision: "approved", by: "bob", via: "slash_command", item: "risk" });
    expect(await engine.status(a.runId)).toBe("awaiting_human");
    await expect(engine.decide(a.runId, { decision: "approved", by: "bob", via: "slash_command", item: "vibes" })).rejects.toThrow(/"vibes" is not on its approval checklist \(spec, plan, risk, release\)/);
    await engine.decide(a.runId, { decision: "approved", by: "carol", via: "slash_command", item: "release" });
    expect(await waitForStatus(engine, a.runId, ["succeeded", "failed"])).toBe("succeeded");
    const entries = await ledger.entries(a.runId);
    expect(entries.filter((e) => e.type === "decision").map((e) => e.payload.item)).toEqual(["plan", "plan", "spec", "risk", "release"]);
    expect(entries.find((e) => e.type === "step_finished" && e.payload.step === "await_approvals")!.payload.output).toEqual({
      decision: "approved",
      by: "carol",
      via: "slash_command",
      checklist: ["spec", "plan", "risk", "release"],
    });

    const b = await engine.start(request("impl_change"));
    await waitForStatus(engine, b.runId, ["awaiting_human"]);
    await engine.decide(b.runId, { decision: "approved", by: "alice", via: "slash_command", item: "spec" });
    await engine.decide(b.runId, { decision: "approved", by: "dave", via: "review" });
    expect(await waitForStatus(engine, b.runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.trace(b.runId).at(-1)).toBe("report:ok");
  });

  it("waits for the checklist the approval activity names, and falls back to the default for a malformed one", async () => {
    const { engine, ledger } = engineWith({
      short: { await_approvals: [{ output: { checklist: ["spec", "release"] } }] },
      malformed: { await_approvals: [{ output: { checklist: ["spec", 7] } }] },
    });
    const a = await engine.start(request("impl_change", "short"));
    await waitForStatus(engine, a.runId, ["awaiting_human"]);
    await expect(engine.decide(a.runId, { decision: "approved", by: "alice", via: "slash_command", item: "plan" })).rejects.toThrow(/"plan" is not on its approval checklist \(spec, release\)/);
    await engine.decide(a.runId, { decision: "approved", by: "alice", via: "slash_command", item: "spec" });
    await engine.decide(a.runId, { decision: "approved", by: "bob", via: "slash_command", item: "release" });
    expect(await waitForStatus(engine, a.runId, ["succeeded", "failed"])).toBe("succeeded");
    expect((await ledger.entries(a.runId)).find((e) => e.type === "approval_requested")!.payload.checklist).toEqual(["spec", "release"]);

    const b = await engine.start(request("impl_change", "malformed"));
    await waitForStatus(engine, b.runId, ["awaiting_human"]);
    expect((await ledger.entries(b.runId)).find((e) => e.type === "approval_requested")!.payload.checklist).toEqual(["spec", "plan", "risk", "release"]);
  });

  it("rejecting one item fails the approval step even after other items were approved", async () => {
    const { acts, engine, ledger } = engineWith({});
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    await engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item: "spec" });
    await engine.decide(runId, { decision: "rejected", by: "bob", via: "slash_command", item: "risk", reason: "billing schema" });
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(acts.trace(runId).at(-1)).toBe("report_failure:ok");
    const failed = (await ledger.entries(runId)).find((e) => e.type === "step_failed")!;
    expect(failed.payload).toMatchObject({ step: "await_approvals", error: "Approval.Rejected", message: "rejected by bob via slash_command (risk): billing schema" });
  });

  it("concurrent item approvals never lose the one that completes the checklist", async () => {
    const { engine } = engineWith({});
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    await Promise.all(["spec", "plan", "risk", "release"].map((item) => engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item })));
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("succeeded");
  });

  it("an approval with no decision by its deadline times out into the failure report", async () => {
    const { acts, engine } = engineWith({}, { catalog: new WorkflowCatalog([quick]) });
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(acts.trace(runId)).toEqual(["plan:ok", "verify:ok", "await_approvals:ok", "report_failure:ok"]);
  });

  it("stop_after skips to the closing report", async () => {
    const { acts, engine } = engineWith({});
    const { runId } = await engine.start(request("impl_change", "default", { stop_after: "plan" }));
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.trace(runId)).toEqual(["plan:ok", "report:ok"]);
  });

  it("cancel aborts the running attempt, drops its result and runs nothing more", async () => {
    let aborted = false;
    const acts = new ScriptedActivities({ hang: { build: [{ hang: 20_000 }] } });
    acts.gate = async (call) => void call.signal.addEventListener("abort", () => (aborted = true));
    const t = openEngine(acts.registry());
    open.push(t);
    const { runId } = await t.engine.start(request("impl_change", "hang"));
    await waitFor(() => acts.calls.some((c) => c.stepId === "build") || undefined, "build to start");
    await t.engine.cancel(runId, { by: "carol", reason: "not needed" });
    expect(await t.engine.status(runId)).toBe("cancelled");
    await waitFor(() => aborted || undefined, "the attempt to be aborted");
    await new Promise((r) => setTimeout(r, 150));
    expect(acts.trace(runId)).toEqual(["plan:ok", "build:hang"]);
    const entries = await t.ledger.entries(runId);
    expect(entries.at(-1)!.payload).toEqual({ to: "cancelled", reason: "cancelled by carol: not needed" });
    await expect(t.engine.cancel(runId, { by: "carol" })).rejects.toThrow(RunStateError);
  });

  it("a result that comes back after another worker took the lease over is dropped", async () => {
    let clock = Date.now();
    const now = () => clock;
    const acts = new ScriptedActivities({});
    let release: (() => void) | undefined;
    acts.gate = (call) => (call.stepId === "verify" && !release ? new Promise<void>((r) => (release = r)) : Promise.resolve());
    // Leases of a minute: neither worker's heartbeat (every 20 s of real time) runs during the test.
    const a = openEngine(acts.registry(), { now, leaseMs: 60_000, workerId: "worker-a" });
    open.push(a);
    const { runId } = await a.engine.start(request("watcher_investigation"));
    await waitFor(() => release, "verify to start on worker a");
    clock += 61_000;
    // Worker b, on its own connection to the same store, takes the expired lease and runs the step again.
    const b = openEngine(acts.registry(), { now, leaseMs: 60_000, workerId: "worker-b" }, a.dir);
    open.push(b);
    expect(await waitForStatus(b.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    release!();
    await waitFor(() => acts.calls.filter((c) => c.stepId === "verify").length === 2 || undefined, "worker a's late result");
    await new Promise((r) => setTimeout(r, 100));
    const entries = await a.ledger.entries(runId);
    expect(ledgerTrace(entries)).toEqual(["plan:ok", "verify:ok", "report:ok"]);
    expect(entries.at(-1)!.payload).toEqual({ to: "succeeded" });
    expect((await a.ledger.verify({ runId })).ok).toBe(true);
  });

  it("entries other components append during a step stay in the chain, and the run goes on after them", async () => {
    const acts = new ScriptedActivities({});
    let atReport: { row: unknown; entries: number } | undefined;
    acts.gate = async (call) => {
      if (call.stepId === "report") {
        const row = t.db.prepare("SELECT ledger_seq FROM engine_runs WHERE run_id = ?").get(call.runId);
        atReport = { row, entries: (await t.ledger.entries(call.runId)).length };
      }
      if (call.stepId !== "verify") return;
      // What the model router and the forge adapters do while a step runs: record in the run's ledger.
      const expectedSeq = (await t.ledger.entries(call.runId)).length;
      await t.ledger.append([{ runId: call.runId, expectedSeq, entries: [{ type: "note", payload: { message: "checked out the branch" } }] }]);
    };
    const t = openEngine(acts.registry());
    open.push(t);
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    const entries = await t.ledger.entries(runId);
    const types = entries.map((e) => (e.type === "step_started" || e.type === "step_finished" ? `${e.type}:${e.payload.step}` : e.type));
    expect(types.slice(types.indexOf("step_started:verify"))).toEqual(["step_started:verify", "note", "step_finished:verify", "step_started:report", "step_finished:report", "status_changed"]);
    expect((await t.ledger.verify({ runId })).ok).toBe(true);
    // The step's commit moved the engine's row past the note too, so the next append is not a conflict.
    expect(atReport!.row).toEqual({ ledger_seq: atReport!.entries });
    expect(t.db.prepare("SELECT ledger_seq FROM engine_runs WHERE run_id = ?").get(runId)).toEqual({ ledger_seq: entries.length });
  });

  it("activities that finish at once do not keep the event loop from its turn", async () => {
    const long = defineWorkflow({
      ...quick,
      name: "LongRun",
      steps: Array.from({ length: 30 }, (_, i) => ({ id: `check_${i}`, activity: "verify" as const, timeout_seconds: 5 })),
    });
    const { engine } = engineWith({}, { catalog: new WorkflowCatalog([long]) });
    const { runId } = await engine.start(request("impl_change"));
    const seenByTheLoop = await new Promise((resolve) => setImmediate(() => resolve(engine.status(runId))));
    expect(seenByTheLoop).toBe("running");
    expect(await waitForStatus(engine, runId, ["succeeded", "failed"])).toBe("succeeded");
  });

  it("cancels a parked run; decisions on it are refused", async () => {
    const { engine } = engineWith({});
    const { runId } = await engine.start(request("release_prep"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    await engine.cancel(runId, { by: "carol" });
    expect(await engine.status(runId)).toBe("cancelled");
    await expect(engine.decide(runId, { decision: "approved", by: "a", via: "api" })).rejects.toThrow(/not waiting for a decision/);
    await expect(engine.decide("run_01JF3Q0Z8X9K2M4N6P8R0T2V4W", { decision: "approved", by: "a", via: "api" })).rejects.toThrow(RunNotFoundError);
  });

  it("never runs more attempts at once than the global and per-repo limits", async () => {
    const acts = new ScriptedActivities({});
    let now = 0;
    let peak = 0;
    const perRepo = new Map<string, number>();
    let peakRepo = 0;
    acts.gate = async (call) => {
      now++;
      peak = Math.max(peak, now);
      const r = (perRepo.get(call.state.run.repo) ?? 0) + 1;
      perRepo.set(call.state.run.repo, r);
      peakRepo = Math.max(peakRepo, r);
      await new Promise((res) => setTimeout(res, 15));
      now--;
      perRepo.set(call.state.run.repo, r - 1);
    };
    const t = openEngine(acts.registry(), { concurrency: 3, perRepoConcurrency: 2 });
    open.push(t);
    const repos = ["acme/a", "acme/b", "acme/c"];
    const ids = [];
    for (let i = 0; i < 9; i++) {
      const req = request("watcher_investigation");
      ids.push((await t.engine.start({ ...req, repo: { ...req.repo, full_path: repos[i % 3]! } })).runId);
    }
    for (const id of ids) expect(await waitForStatus(t.engine, id, ["succeeded", "failed"])).toBe("succeeded");
    expect(peak).toBe(3);
    expect(peakRepo).toBeLessThanOrEqual(2);
  });

  it("without real activities a run fails at its first step, naming what is missing", async () => {
    // The production plan step retries agent failures after 30 s; this one fails at once.
    const noRetry = defineWorkflow({ ...quick, steps: quick.steps.map((s) => ({ ...s, retry: undefined })) });
    const t = openEngine(defaultActivities(), { catalog: new WorkflowCatalog([noRetry]) });
    open.push(t);
    const { runId } = await t.engine.start(request("impl_change"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("failed");
    const entries = await t.ledger.entries(runId);
    expect(entries.find((e) => e.type === "step_failed")!.payload).toMatchObject({
      step: "plan",
      error: "Activity.Unavailable",
      message: "not available yet: the planner agent (agent runtime)",
    });
    expect(String(entries.at(-1)!.payload.reason)).toMatch(/not available yet: the planner agent.*failure report failed too.*not available yet: reporting/);
  });

  it("rejects a run type it has no workflow for (requests are validated where they are made)", async () => {
    const { engine } = engineWith({});
    await expect(engine.start({ ...request("impl_change"), run_type: "deploy" as never })).rejects.toThrow(/no workflow for run type deploy/);
  });
});

describe("embedded engine: storage", () => {
  it("keeps a run's request apart from what steps change, and converts a store that kept them together", async () => {
    const acts = new ScriptedActivities({});
    const first = openEngine(acts.registry());
    const { runId } = await first.engine.start(request("impl_change"));
    await waitForStatus(first.engine, runId, ["awaiting_human"]);
    const stored = () => first.db.prepare("SELECT r.state, i.run FROM engine_runs r LEFT JOIN engine_run_inputs i USING (run_id) WHERE r.run_id = ?").get(runId) as { state: string; run: string | null };
    const split = stored();
    expect(JSON.parse(split.run!)).toMatchObject({ run_id: runId, trigger: "default" });
    expect(Object.keys(JSON.parse(split.state) as object)).toEqual(["steps"]);
    // The layout before the split: the whole state in engine_runs.state, no engine_run_inputs.
    await first.engine.stop();
    first.db.exec(`UPDATE engine_runs SET state = json_set(state, '$.run', json((SELECT run FROM engine_run_inputs i WHERE i.run_id = engine_runs.run_id)));
                   DROP TABLE engine_run_inputs;`);
    first.db.close();
    const again = openEngine(acts.registry(), {}, first.dir);
    open.push(again);
    const converted = again.db.prepare("SELECT r.state, i.run FROM engine_runs r JOIN engine_run_inputs i USING (run_id) WHERE r.run_id = ?").get(runId) as { state: string; run: string };
    expect(JSON.parse(converted.run)).toEqual(JSON.parse(split.run!));
    expect(JSON.parse(converted.state)).toEqual(JSON.parse(split.state));
    await again.engine.decide(runId, { decision: "approved", by: "alice", via: "review" });
    expect(await waitForStatus(again.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.trace(runId).at(-1)).toBe("report:ok");
    expect((await again.ledger.verify({ runId })).ok).toBe(true);
  });

  it("converts in one transaction: a conversion that fails leaves the old layout, converted at the next open", async () => {
    const acts = new ScriptedActivities({});
    const first = openEngine(acts.registry());
    const a = await first.engine.start(request("impl_change", "a"));
    const b = await first.engine.start(request("impl_change", "b"));
    await waitForStatus(first.engine, a.runId, ["awaiting_human"]);
    await waitForStatus(first.engine, b.runId, ["awaiting_human"]);
    await first.engine.stop();
    first.db.exec(`UPDATE engine_runs SET state = json_set(state, '$.run', json((SELECT run FROM engine_run_inputs i WHERE i.run_id = engine_runs.run_id)));
                   DROP TABLE engine_run_inputs;`);
    const good = (first.db.prepare("SELECT state FROM engine_runs WHERE run_id = ?").get(b.runId) as { state: string }).state;
    // A state the conversion cannot read: it throws after run a's row would have been converted.
    first.db.prepare("UPDATE engine_runs SET state = ? WHERE run_id = ?").run('{"run": {', b.runId);
    expect(() => openEngine(acts.registry(), {}, first.dir)).toThrow(/malformed JSON/);
    const tables = () => first.db.prepare("SELECT name FROM sqlite_master WHERE name = 'engine_run_inputs'").all();
    expect(tables()).toEqual([]);
    expect(JSON.parse((first.db.prepare("SELECT state FROM engine_runs WHERE run_id = ?").get(a.runId) as { state: string }).state)).toHaveProperty("run");
    first.db.prepare("UPDATE engine_runs SET state = ? WHERE run_id = ?").run(good, b.runId);
    first.db.close();
    const again = openEngine(acts.registry(), {}, first.dir);
    open.push(again);
    for (const { runId } of [a, b]) {
      await again.engine.decide(runId, { decision: "approved", by: "alice", via: "review" });
      expect(await waitForStatus(again.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    }
  });
});

describe("run request sinks", () => {
  it("startingSink stores the request and starts its run once, however often it is submitted", async () => {
    const { engine, db } = engineWith({});
    const stored: string[] = [];
    const store = { submit: async (r: { idempotency_key: string }) => (stored.push(r.idempotency_key), { status: stored.length === 1 ? ("created" as const) : ("existing" as const), id: "rreq_1" }) };
    const sink = startingSink(store, engine);
    const req = request("watcher_investigation");
    expect(await sink.submit(req)).toEqual({ status: "created", id: "rreq_1" });
    expect(await sink.submit(req)).toEqual({ status: "existing", id: "rreq_1" });
    expect((db.prepare("SELECT count(*) AS n FROM engine_runs").get() as { n: number }).n).toBe(1);
    const direct = engineSink(engine);
    expect((await direct.submit(req)).status).toBe("existing");
    expect((await direct.submit(request("watcher_investigation"))).status).toBe("created");
  });
});
