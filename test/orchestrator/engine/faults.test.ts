// The embedded engine when things go wrong: odd activity results, stores that fail, lost leases, shutdown, definitions that change.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EmbeddedEngine } from "../../../src/orchestrator/engine/embedded.js";
import { LedgerInputError, type TransactionalLedger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { WorkflowCatalog } from "../../../src/orchestrator/workflows/index.js";
import { defineWorkflow } from "../../../src/orchestrator/workflows/schema.js";
import { openSqlite } from "../../../src/store/sqlite.js";
import { checkRun, ledgerTrace, openEngine, request, waitFor, waitForStatus, type TestEngine } from "./harness.js";
import { ScriptedActivities } from "./scripted.js";

let open: TestEngine[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const t of open) await t.close();
  open = [];
});

function engineOn(acts: ScriptedActivities, over: Parameters<typeof openEngine>[1] = {}, dir?: string): TestEngine {
  const t = openEngine(acts.registry(), over, dir);
  open.push(t);
  return t;
}

describe("embedded engine: what activities hand back", () => {
  it("a thrown value that does not convert to text fails the step, and the failure report runs", async () => {
    const acts = new ScriptedActivities();
    const registry = acts.registry().register("verify", async () => {
      throw Object.create(null) as object;
    });
    const t = openEngine(registry);
    open.push(t);
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("failed");
    const entries = await t.ledger.entries(runId);
    expect(ledgerTrace(entries)).toEqual(["plan:ok", "verify:Activity.Failed", "report_failure:ok"]);
    expect(entries.find((e) => e.type === "step_failed")!.payload.message).toBe("a thrown Object that does not convert to text");
  });

  it("the next step gets the output as the ledger recorded it, whatever the activity built or changed after", async () => {
    // publish runs in the engine's process on every backend, so its output is part of the run state (verify's, a container's, is not).
    const kept: Record<string, unknown> = { when: new Date(0), tags: new Map([["a", 1]]), gone: undefined, list: [1, 2] };
    let seen: unknown;
    const acts = new ScriptedActivities();
    const registry = acts
      .registry()
      .register("publish", async () => kept as never)
      .register("report", async (call) => {
        (kept.list as number[]).push(999);
        seen = call.state.steps.publish?.output;
        return {};
      });
    const t = openEngine(registry, { catalog: new WorkflowCatalog([checkRun(1, ["publish", "report"])]) });
    open.push(t);
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    const recorded = (await t.ledger.entries(runId)).find((e) => e.type === "step_finished" && e.payload.step === "publish")!.payload.output;
    expect(recorded).toEqual({ when: "1970-01-01T00:00:00.000Z", tags: {}, list: [1, 2] });
    expect(seen).toEqual(recorded);
    const stored = JSON.parse((t.db.prepare("SELECT state FROM engine_runs WHERE run_id = ?").get(runId) as { state: string }).state);
    expect(stored.steps.publish.output).toEqual(recorded);
  });

  it("output the ledger cannot record fails the step with Activity.InvalidOutput, and the failure report runs", async () => {
    const acts = new ScriptedActivities();
    const registry = acts.registry().register("verify", async () => ({ size: 10n }) as never);
    const t = openEngine(registry, { catalog: new WorkflowCatalog([checkRun(1)]) });
    open.push(t);
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("failed");
    const entries = await t.ledger.entries(runId);
    expect(ledgerTrace(entries)).toEqual(["verify:Activity.InvalidOutput", "report_failure:ok"]);
    expect(entries.find((e) => e.type === "step_failed")!.payload.message).toMatch(/^the step's output is not JSON the ledger can record: /);
  });
});

/** node:sqlite's errors for a write lock held past busy_timeout, and for a full disk. */
const sqliteError = (errcode: number, errstr: string) => Object.assign(new Error(errstr), { code: "ERR_SQLITE_ERROR", errcode, errstr });

/** An engine whose ledger appends go through `refuse`, which may throw instead: a store failing in a controlled way. */
function engineWithFaultyLedger(acts: ScriptedActivities, refuse: (requests: Parameters<TransactionalLedger["appendInTransaction"]>[0]) => void, over: Partial<ConstructorParameters<typeof EmbeddedEngine>[0]> = {}) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "engine-test-")), "orchestrator.db");
  const db = openSqlite(file, { synchronous: "NORMAL" });
  const real = sqliteLedger({ db, file });
  const ledger: TransactionalLedger = {
    ...real,
    appendInTransaction(requests) {
      refuse(requests);
      return real.appendInTransaction(requests);
    },
  };
  const engine = new EmbeddedEngine({ db, ledger, activities: acts.registry(), catalog: new WorkflowCatalog([checkRun(1)]), workerId: "w", concurrency: 2, perRepoConcurrency: 2, leaseMs: 5_000, pollIntervalMs: 50, policyVersion: "p", ...over });
  engine.startWorker();
  const t: TestEngine = { engine, ledger: real, db, dir: path.dirname(file), close: async () => (await engine.stop(500), db.close()) };
  open.push(t);
  return t;
}

describe("embedded engine: errors that retrying cannot mend", () => {
  it("an agent step whose output cannot be recorded is not retried (its policy retries States.TaskFailed); the failure report runs", async () => {
    const acts = new ScriptedActivities();
    let plans = 0;
    const registry = acts.registry().register("plan", async () => (plans++, { tokens: 10n }) as never);
    const t = openEngine(registry);
    open.push(t);
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect(plans).toBe(1);
    expect(ledgerTrace(await t.ledger.entries(runId))).toEqual(["plan:Activity.InvalidOutput", "report_failure:ok"]);
  });
});

describe("embedded engine: the store", () => {
  it("a result the store cannot take now (database is locked) is recorded by a later pass; the run goes on", async () => {
    let refusals = 0;
    const acts = new ScriptedActivities();
    acts.gate = async (call) => void (call.stepId === "verify" && (refusals = 3));
    const t = engineWithFaultyLedger(acts, (requests) => {
      if (refusals > 0 && requests.some((r) => r.entries.some((e) => e.type === "step_finished"))) {
        refusals--;
        throw sqliteError(5, "database is locked");
      }
    });
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(refusals).toBe(0);
    expect(ledgerTrace(await t.ledger.entries(runId))).toEqual(["verify:ok", "report:ok"]);
    expect(acts.trace(runId)).toEqual(["verify:ok", "report:ok"]);
  });

  it("a full disk while a due retry is claimed leaves the run to a later claim, not failed", async () => {
    let refusals = 3;
    const retrying = defineWorkflow({
      ...checkRun(1),
      steps: [{ id: "verify", activity: "verify", timeout_seconds: 60, retry: { max_attempts: 2, backoff: { initial_seconds: 1, rate: 1, max_seconds: 1 }, retryable_errors: ["Gate.RunnerLost"] } }, { id: "report", activity: "report", timeout_seconds: 60 }],
    });
    const acts = new ScriptedActivities({ default: { verify: [{ fail: "Gate.RunnerLost" }, "ok"] } });
    const t = engineWithFaultyLedger(
      acts,
      (requests) => {
        // The retry's claim records its step_started: the disk is full for its first three tries.
        if (refusals > 0 && requests.some((r) => r.entries.some((e) => e.type === "step_started" && e.payload.attempt === 2))) {
          refusals--;
          throw sqliteError(13, "database or disk is full");
        }
      },
      { catalog: new WorkflowCatalog([retrying]), retryDelayMs: () => 20 },
    );
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(refusals).toBe(0);
    expect(ledgerTrace(await t.ledger.entries(runId))).toEqual(["verify:Gate.RunnerLost", "verify:ok", "report:ok"]);
  });

  it("a result the ledger refuses fails the step with Engine.RecordFailed, never retried; the failure report runs", async () => {
    const retrying = defineWorkflow({
      ...checkRun(1),
      steps: [{ id: "verify", activity: "verify", timeout_seconds: 60, retry: { max_attempts: 3, backoff: { initial_seconds: 1, rate: 1, max_seconds: 1 }, retryable_errors: ["States.ALL"] } }, { id: "report", activity: "report", timeout_seconds: 60 }],
    });
    const acts = new ScriptedActivities();
    const t = engineWithFaultyLedger(
      acts,
      (requests) => {
        // Every time: the batched pass and its one-by-one retry both see the refusal.
        if (requests.some((r) => r.entries.some((e) => e.type === "step_finished" && e.payload.step === "verify")))
          throw new LedgerInputError("run seq 2 (step_finished): payload.output is too large to record");
      },
      { catalog: new WorkflowCatalog([retrying]), retryDelayMs: () => 20 },
    );
    const { runId } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("failed");
    const entries = await t.ledger.entries(runId);
    expect(ledgerTrace(entries)).toEqual(["verify:Engine.RecordFailed", "report_failure:ok"]);
    expect(entries.find((e) => e.type === "step_failed")!.payload.message).toBe("the result of step verify could not be recorded: run seq 2 (step_finished): payload.output is too large to record");
    expect(acts.calls.filter((c) => c.stepId === "verify")).toHaveLength(1);
  });

  it("a result that cannot be recorded in any form takes the run out of the queue instead of running the step again and again", async () => {
    let damaged = "";
    const acts = new ScriptedActivities();
    acts.gate = async (call) => void (call.stepId === "verify" && (damaged = call.runId));
    const t = engineWithFaultyLedger(
      acts,
      (requests) => {
        if (requests.some((r) => r.runId === damaged)) throw new Error(`${damaged}: the run's head hash is not a sha256; run \`orchestrator ledger verify\` to find the damage`);
      },
      { leaseMs: 300 },
    );
    const { runId } = await t.engine.start(request("watcher_investigation"));
    await waitFor(() => (t.db.prepare("SELECT phase FROM engine_runs WHERE run_id = ?").get(runId) as { phase: string }).phase === "done" || undefined, "the run to leave the queue");
    expect(await t.engine.status(runId)).toBe("failed");
    // Three lease periods later the step has not run again.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(acts.calls.filter((c) => c.stepId === "verify")).toHaveLength(1);
  });

  it("stop() finishes while the store refuses writes; the step runs again after the restart", async () => {
    let busy = false;
    const acts = new ScriptedActivities();
    // The store turns busy as the first verify runs, and stays so until the restart.
    acts.gate = async (call) => void (call.stepId === "verify" && acts.calls.length === 0 && (busy = true));
    const t = engineWithFaultyLedger(acts, (requests) => {
      if (busy && requests.some((r) => r.entries.some((e) => e.type === "step_finished"))) throw sqliteError(5, "database is locked");
    });
    const { runId } = await t.engine.start(request("watcher_investigation"));
    await waitFor(() => acts.calls.some((c) => c.stepId === "verify") || undefined, "verify to run");
    await new Promise((r) => setTimeout(r, 50));
    await t.engine.stop(200);
    expect(t.db.prepare("SELECT phase, step_id FROM engine_runs WHERE run_id = ?").get(runId)).toEqual({ phase: "ready", step_id: "verify" });
    busy = false;
    t.engine.startWorker();
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.trace(runId)).toEqual(["verify:ok", "verify:ok", "report:ok"]);
  });

  it("a run whose stored state is damaged fails alone; other runs start and finish", async () => {
    const acts = new ScriptedActivities();
    const t = engineOn(acts, { catalog: new WorkflowCatalog([checkRun(1)]) });
    await t.engine.stop();
    const { runId: damaged } = await t.engine.start(request("watcher_investigation"));
    t.db.prepare("DELETE FROM engine_run_inputs WHERE run_id = ?").run(damaged);
    t.engine.startWorker();
    const { runId: healthy } = await t.engine.start(request("watcher_investigation"));
    expect(await waitForStatus(t.engine, healthy, ["succeeded", "failed"])).toBe("succeeded");
    expect(await waitForStatus(t.engine, damaged, ["succeeded", "failed"])).toBe("failed");
    const last = (await t.ledger.entries(damaged)).at(-1)!;
    expect(last.payload).toMatchObject({ to: "failed", reason: expect.stringMatching(/^the engine cannot continue this run: .*has no stored request/) });
    expect(acts.trace(damaged)).toEqual([]);
  });
});

describe("embedded engine: leases and shutdown", () => {
  it("stop() records the results that came in during its grace period before letting go of the rest", async () => {
    const acts = new ScriptedActivities();
    const release: (() => void)[] = [];
    acts.gate = (call) => (call.stepId === "verify" && release.length < 2 ? new Promise<void>((r) => release.push(r)) : Promise.resolve());
    const t = engineOn(acts, { catalog: new WorkflowCatalog([checkRun(1)]) });
    const runs = [await t.engine.start(request("watcher_investigation")), await t.engine.start(request("watcher_investigation"))];
    await waitFor(() => release.length === 2 || undefined, "both verify steps to start");
    const stopped = t.engine.stop(5_000);
    setTimeout(() => release.forEach((r) => r()), 20);
    await stopped;
    for (const { runId } of runs) {
      expect(ledgerTrace(await t.ledger.entries(runId))).toEqual(["verify:ok"]);
      expect(t.db.prepare("SELECT phase, step_id FROM engine_runs WHERE run_id = ?").get(runId)).toEqual({ phase: "ready", step_id: "report" });
    }
    t.engine.startWorker();
    for (const { runId } of runs) expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.calls.filter((c) => c.stepId === "verify")).toHaveLength(2);
  });

  it("an attempt whose run another process cancelled is aborted at the next lease renewal", async () => {
    const acts = new ScriptedActivities({ default: { verify: [{ hang: 20_000 }] } });
    const abortedWith: unknown[] = [];
    acts.gate = async (call) => void call.signal.addEventListener("abort", () => abortedWith.push(call.signal.reason));
    // Leases of 300 ms: the worker renews every 100 ms.
    const worker = engineOn(acts, { leaseMs: 300, workerId: "worker-a", catalog: new WorkflowCatalog([checkRun(1)]) });
    const { runId } = await worker.engine.start(request("watcher_investigation"));
    await waitFor(() => acts.calls.length === 1 || undefined, "verify to start");
    // Another process (its own connection to the store, no worker) cancels the run.
    const cli = engineOn(acts, { workerId: "cli", catalog: new WorkflowCatalog([checkRun(1)]) }, worker.dir);
    await cli.engine.stop();
    await cli.engine.cancel(runId, { by: "carol" });
    await waitFor(() => abortedWith.length > 0 || undefined, "the worker to give the attempt up");
    expect(abortedWith[0]).toMatchObject({ errorName: "Engine.LeaseLost" });
    expect(await worker.engine.status(runId)).toBe("cancelled");
    // Its slot is free: the worker takes the next run.
    const { runId: next } = await worker.engine.start(request("watcher_investigation", "next"));
    expect(await waitForStatus(worker.engine, next, ["succeeded", "failed"])).toBe("succeeded");
  });

  it("a worker whose own lease ran out while it still runs the attempt does not start it a second time", async () => {
    let clock = Date.now();
    const acts = new ScriptedActivities();
    let release: (() => void) | undefined;
    acts.gate = (call) => (call.stepId === "verify" ? new Promise<void>((r) => (release = r)) : Promise.resolve());
    const t = engineOn(acts, { now: () => clock, leaseMs: 60_000, pollIntervalMs: 20, catalog: new WorkflowCatalog([checkRun(1)]) });
    const { runId } = await t.engine.start(request("watcher_investigation"));
    await waitFor(() => release, "verify to start");
    clock += 61_000; // the lease is due again: polls every 20 ms see it
    await new Promise((r) => setTimeout(r, 150));
    release!();
    expect(await waitForStatus(t.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.calls.filter((c) => c.stepId === "verify")).toHaveLength(1);
  });

  it("an attempt taken over after a stop starts its work over, with its whole timeout", async () => {
    let clock = Date.now();
    const acts = new ScriptedActivities({ default: { verify: [{ hang: 20_000 }, "ok"] } });
    const first = engineOn(acts, { now: () => clock, catalog: new WorkflowCatalog([checkRun(1)]) });
    const { runId } = await first.engine.start(request("watcher_investigation"));
    await waitFor(() => acts.calls.length === 1 || undefined, "verify to start");
    await first.engine.stop(0);
    // Down for longer than the step's 60 s: the attempt's work was lost with the stop, not slow.
    clock += 61_000;
    first.engine.startWorker();
    expect(await waitForStatus(first.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    const entries = await first.ledger.entries(runId);
    expect(ledgerTrace(entries)).toEqual(["verify:ok", "report:ok"]);
    // The same attempt, started over: one step_started for it, one attempt key.
    expect(entries.filter((e) => e.type === "step_started" && e.payload.step === "verify")).toHaveLength(1);
    expect(new Set(acts.calls.filter((c) => c.stepId === "verify").map((c) => c.attemptKey)).size).toBe(1);
  });

  it("a step timeout longer than setTimeout can wait (24.8 days) still waits the whole timeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const month = defineWorkflow({ ...checkRun(1), name: "MonthRun", steps: [{ id: "verify", activity: "verify", timeout_seconds: 40 * 86_400 }, { id: "report", activity: "report", timeout_seconds: 60 }] });
    let calls = 0;
    // Runs until aborted (a scripted hang cannot: setTimeout takes no delay that long).
    const registry = new ScriptedActivities().registry().register("verify", (call) => {
      calls++;
      return new Promise((_, reject) => call.signal.addEventListener("abort", () => reject(call.signal.reason as Error)));
    });
    const t = openEngine(registry, { catalog: new WorkflowCatalog([month]), pollIntervalMs: 86_400_000 });
    open.push(t);
    const { runId } = await t.engine.start(request("watcher_investigation"));
    await vi.waitFor(() => expect(calls).toBe(1));
    await vi.advanceTimersByTimeAsync(30 * 86_400_000);
    expect(await t.engine.status(runId)).toBe("running");
    await vi.advanceTimersByTimeAsync(11 * 86_400_000);
    await vi.waitFor(async () => expect(await t.engine.status(runId)).toBe("failed"));
    expect(ledgerTrace(await t.ledger.entries(runId))).toEqual(["verify:States.Timeout", "report_failure:ok"]);
  });
});

describe("embedded engine: definitions that change", () => {
  const parks = (version: number, after: readonly string[]) =>
    defineWorkflow({
      name: "GatedRun",
      run_type: "impl_change",
      version,
      description: "test workflow",
      steps: [{ id: "await_approvals", activity: "await_approvals", timeout_seconds: 3_600 }, ...after.map((id) => ({ id, activity: id as "report" | "publish", timeout_seconds: 60 }))],
      on_failure: { id: "report_failure", activity: "report", timeout_seconds: 60 },
    });

  /** A run parked at its approval under GatedRun v1, and the engine that ran it stopped: what a build upgrade finds. */
  async function parkedUnderV1(over: Parameters<typeof openEngine>[1] = {}) {
    const acts = new ScriptedActivities();
    const first = engineOn(acts, { ...over, catalog: new WorkflowCatalog([parks(1, ["report"])]) });
    const { runId } = await first.engine.start(request("impl_change"));
    await waitForStatus(first.engine, runId, ["awaiting_human"]);
    await first.engine.stop();
    return { acts, dir: first.dir, runId };
  }

  it("a run goes on under the version it started with; new runs take the latest", async () => {
    const { acts, dir, runId } = await parkedUnderV1();
    const upgraded = engineOn(acts, { catalog: new WorkflowCatalog([parks(1, ["report"]), parks(2, ["publish", "report"])]) }, dir);
    await upgraded.engine.decide(runId, { decision: "approved", by: "alice", via: "api" });
    expect(await waitForStatus(upgraded.engine, runId, ["succeeded", "failed"])).toBe("succeeded");
    expect(acts.trace(runId)).toEqual(["await_approvals:ok", "report:ok"]);
    const { runId: fresh } = await upgraded.engine.start(request("impl_change"));
    await waitForStatus(upgraded.engine, fresh, ["awaiting_human"]);
    expect((await upgraded.ledger.entries(fresh))[0]!.payload.workflow).toMatchObject({ name: "GatedRun", version: 2 });
  });

  it("a build without the run's version refuses its decisions and ends it at its deadline, saying why", async () => {
    let clock = Date.now();
    const { acts, dir, runId } = await parkedUnderV1({ now: () => clock });
    const upgraded = engineOn(acts, { now: () => clock, catalog: new WorkflowCatalog([parks(2, ["publish", "report"])]) }, dir);
    await expect(upgraded.engine.decide(runId, { decision: "approved", by: "alice", via: "api" })).rejects.toThrow(
      /it started under GatedRun v1, which this build does not have \(it has v2; keep v1 in the catalogue while its runs go on\); it cannot take a decision/,
    );
    clock += 3_601_000;
    expect(await waitForStatus(upgraded.engine, runId, ["succeeded", "failed"])).toBe("failed");
    expect((await upgraded.ledger.entries(runId)).at(-1)!.payload.reason).toMatch(/^it started under GatedRun v1, which this build does not have/);
    expect(acts.trace(runId)).toEqual(["await_approvals:ok"]);
  });

  it("a run whose workflow left the build can still be cancelled", async () => {
    const { acts, dir, runId } = await parkedUnderV1();
    const other = engineOn(acts, { catalog: new WorkflowCatalog([checkRun(1)]) }, dir);
    await other.engine.cancel(runId, { by: "carol" });
    expect(await other.engine.status(runId)).toBe("cancelled");
  });

  it("lists a workflow once per version and refuses the same version twice", () => {
    expect(() => new WorkflowCatalog([checkRun(1), checkRun(1)])).toThrow(/workflow CheckRun v1 is listed twice/);
    const catalog = new WorkflowCatalog([checkRun(2), checkRun(1)]);
    expect(catalog.forRunType("watcher_investigation").version).toBe(2);
    expect(catalog.named("checkrun")!.version).toBe(2);
    expect(catalog.at("CheckRun", 1)!.version).toBe(1);
    expect(catalog.at("CheckRun", 3)).toBeUndefined();
  });
});
