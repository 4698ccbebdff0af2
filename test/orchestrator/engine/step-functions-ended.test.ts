// The Step Functions backend keeps the ledger and the execution in step: late writers never revive an ended run,
// a lost approval answer is sent again, and an execution that ended without a ledger entry gets one.
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDispatcher } from "../../../src/orchestrator/activities/dispatcher.js";
import type { JsonObject } from "../../../src/orchestrator/activities/port.js";
import { RunStateError } from "../../../src/orchestrator/engine/port.js";
import { StepFunctionsEngine } from "../../../src/orchestrator/engine/step-functions.js";
import { SqliteRunRequests } from "../../../src/orchestrator/intake/run-request-store.js";
import type { Entry, TransactionalLedger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { engineRunControl } from "../../../src/orchestrator/run-control-engine.js";
import { WorkflowCatalog, workflows } from "../../../src/orchestrator/workflows/index.js";
import { defineWorkflow } from "../../../src/orchestrator/workflows/schema.js";
import { openSqlite, type DatabaseSync } from "../../../src/store/sqlite.js";
import { checkRun, request } from "./harness.js";
import { ScriptedActivities } from "./scripted.js";

const naming = { region: "eu-west-1", accountId: "123456789012", prefix: "scintilla-" };
const sfnMock = mockClient(SFNClient);
let db: DatabaseSync;
let ledger: TransactionalLedger;
let engine: StepFunctionsEngine;

beforeEach(() => {
  sfnMock.reset();
  sfnMock.on(StartExecutionCommand).resolves({});
  sfnMock.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
  db = openSqlite(":memory:", { synchronous: "NORMAL" });
  ledger = sqliteLedger({ db });
  engine = new StepFunctionsEngine({ sfn: new SFNClient({ region: "eu-west-1" }), ledger, naming, policyVersion: "p" });
});
afterEach(() => db.close());

/** The run input StartExecution was given, which the state machine passes to every Lambda call. */
function startedState(): JsonObject {
  return JSON.parse(sfnMock.commandCalls(StartExecutionCommand).at(-1)!.args[0].input.input!) as JsonObject;
}

const trail = (entries: readonly Entry[]) => entries.map((e) => `${e.type}:${String(e.payload.step ?? e.payload.to ?? "")}`);

async function parkAtApproval(runId: string, dispatch = createDispatcher({ activities: new ScriptedActivities().registry(), ledger })) {
  await dispatch({ run_id: runId, step: "await_approvals", activity: "await_approvals", state: startedState(), task_token: "tok" });
}

describe("an ended run stays ended", () => {
  it("a Lambda still running when the run is cancelled records nothing after the cancellation", async () => {
    sfnMock.on(StopExecutionCommand).resolves({});
    const { runId } = await engine.start(request("watcher_investigation"));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = new ScriptedActivities();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    slow.gate = () => (started(), held);
    const inflight = createDispatcher({ activities: slow.registry(), ledger })({ run_id: runId, step: "report", activity: "report", state: startedState() });
    await running;
    await engine.cancel(runId, { by: "alice", reason: "/orchestrator cancel" });
    release();
    await expect(inflight).rejects.toMatchObject({ name: "Run.Ended", message: expect.stringContaining("has already ended (cancelled)") });
    expect(await engine.status(runId)).toBe("cancelled");
    expect(trail(await ledger.entries(runId)).slice(-1)).toEqual(["status_changed:cancelled"]);
  });

  it("a Lambda call for an ended run does not run the activity; a repeat of the call that ended it gets its result again", async () => {
    const acts = new ScriptedActivities();
    const dispatch = createDispatcher({ activities: acts.registry(), ledger });
    const { runId } = await engine.start(request("watcher_investigation"));
    const event = { run_id: runId, step: "report", activity: "report", state: startedState() };
    expect(await dispatch(event)).toEqual({ done: "report" });
    expect(await engine.status(runId)).toBe("succeeded");
    // Lambda or Step Functions delivering the same call again: the recorded result, nothing appended.
    const before = (await ledger.entries(runId)).length;
    expect(await dispatch(event)).toEqual({ done: "report" });
    // Any other call for the ended run: refused before the activity runs.
    await expect(dispatch({ ...event, step: "report_failure" })).rejects.toMatchObject({ name: "Run.Ended" });
    expect((await ledger.entries(runId)).length).toBe(before);
    expect(acts.trace(runId)).toEqual(["report:ok"]);
  });

  it("a Lambda service error after the attempt that ended the run (RetryCount one ahead) gets that attempt's result", async () => {
    const acts = new ScriptedActivities({ default: { report: [{ fail: "Forge.RateLimited" }, "ok"] } });
    const dispatch = createDispatcher({ activities: acts.registry(), ledger });
    const { runId } = await engine.start(request("watcher_investigation"));
    const event = { run_id: runId, step: "report", activity: "report", state: startedState() };
    await expect(dispatch(event)).rejects.toMatchObject({ name: "Forge.RateLimited" });
    expect(await dispatch(event)).toEqual({ done: "report" });
    expect(await engine.status(runId)).toBe("succeeded");
    // Lambda answered Lambda.ServiceException after attempt 2 had recorded the end: the service retrier calls again.
    expect(await dispatch(event)).toEqual({ done: "report" });
    expect(acts.trace(runId)).toEqual(["report:Forge.RateLimited", "report:ok"]);
  });

  it("output the ledger cannot record fails the step with Activity.InvalidOutput, as in the embedded engine", async () => {
    const registry = new ScriptedActivities().registry().register("report", async () => ({ ratio: Number.NaN }));
    const dispatch = createDispatcher({ activities: registry, ledger });
    const { runId } = await engine.start(request("watcher_investigation"));
    await expect(dispatch({ run_id: runId, step: "report", activity: "report", state: startedState() })).rejects.toMatchObject({ name: "Activity.InvalidOutput" });
    const failed = (await ledger.entries(runId)).find((e) => e.type === "step_failed")!;
    expect(failed.payload).toMatchObject({ step: "report", attempt: 1, error: "Activity.InvalidOutput" });
    expect(String(failed.payload.message)).toMatch(/^the step's output is not JSON the ledger can record: /);
  });

  it("the Lambda runs the definition version the execution started with, and names a version it does not have", async () => {
    const [v1, v2] = [checkRun(1, ["report"]), checkRun(2, ["publish", "report"])];
    const started = new StepFunctionsEngine({ sfn: new SFNClient({ region: "eu-west-1" }), ledger, naming, policyVersion: "p", catalog: new WorkflowCatalog([v1]) });
    const { runId } = await started.start(request("watcher_investigation"));
    const both = createDispatcher({ activities: new ScriptedActivities().registry(), ledger, catalog: new WorkflowCatalog([v1, v2]) });
    await both({ run_id: runId, step: "report", activity: "report", state: startedState() });
    // Under v1, report is the last step: the run ends (under v2 it would wait for nothing).
    expect(await started.status(runId)).toBe("succeeded");
    const { runId: other } = await started.start(request("watcher_investigation"));
    const onlyV2 = createDispatcher({ activities: new ScriptedActivities().registry(), ledger, catalog: new WorkflowCatalog([v2]) });
    await expect(onlyV2({ run_id: other, step: "report", activity: "report", state: startedState() })).rejects.toThrow(
      /CheckRun v1 is not in this build \(it has v2; keep v1 in the catalogue while its executions run\)/,
    );
  });

  it("retries of Lambda service errors do not use up the step's own retries: the failure report gets all its attempts", async () => {
    // report_failure retries Forge.RateLimited up to 5 attempts; its first call was throttled (the Lambda never ran),
    // so Step Functions' RetryCount runs one ahead of the attempts the activity made. The dispatcher counts from the ledger.
    const acts = new ScriptedActivities({ default: { report_failure: [{ fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }, { fail: "Forge.RateLimited" }, "ok"] } });
    const dispatch = createDispatcher({ activities: acts.registry(), ledger });
    const { runId } = await engine.start(request("watcher_investigation"));
    const state = { ...startedState(), error: { Error: "States.TaskFailed", Cause: "plan failed" } };
    for (let call = 1; call <= 4; call++)
      await expect(dispatch({ run_id: runId, step: "report_failure", activity: "report", state })).rejects.toMatchObject({ name: "Forge.RateLimited" });
    expect(await engine.status(runId)).toBe("running");
    expect(await dispatch({ run_id: runId, step: "report_failure", activity: "report", state })).toEqual({ done: "report_failure" });
    expect(acts.calls.filter((c) => c.stepId === "report_failure").map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(await engine.status(runId)).toBe("failed");
  });

  it("an approval answered while the last step already ended the run leaves the run succeeded", async () => {
    const dispatch = createDispatcher({ activities: new ScriptedActivities().registry(), ledger });
    const { runId } = await engine.start(request("impl_change"));
    await parkAtApproval(runId, dispatch);
    // Step Functions moves on at once: the report Lambda finishes before SendTaskSuccess's response is handled.
    sfnMock.on(SendTaskSuccessCommand).callsFake(async () => {
      await dispatch({ run_id: runId, step: "report", activity: "report", state: startedState() });
      return {};
    });
    await engine.decide(runId, { decision: "approved", by: "alice", via: "review" });
    expect(await engine.status(runId)).toBe("succeeded");
    expect(trail(await ledger.entries(runId)).slice(-3)).toEqual(["step_started:report", "step_finished:report", "status_changed:succeeded"]);
  });

  it("an approval answered after the next step started does not set the run back to running", async () => {
    // Two approvals in a row: by the time the first answer is recorded, the second already waits for a human.
    const twoApprovals = defineWorkflow({
      name: "TwoApprovalsRun",
      run_type: "impl_change",
      version: 1,
      description: "two approvals",
      steps: [
        { id: "approve_change", activity: "await_approvals", timeout_seconds: 600 },
        { id: "approve_release", activity: "await_approvals", timeout_seconds: 600 },
        { id: "report", activity: "report", timeout_seconds: 60 },
      ],
      on_failure: { id: "report_failure", activity: "report", timeout_seconds: 60 },
    });
    const catalog = new WorkflowCatalog([twoApprovals, ...workflows.filter((w) => w.run_type !== "impl_change")]);
    const eng = new StepFunctionsEngine({ sfn: new SFNClient({ region: "eu-west-1" }), ledger, naming, policyVersion: "p", catalog });
    const dispatch = createDispatcher({ activities: new ScriptedActivities().registry(), ledger, catalog });
    const { runId } = await eng.start(request("impl_change"));
    const call = (step: string, token: string) => ({ run_id: runId, step, activity: "await_approvals", state: startedState(), task_token: token });
    await dispatch(call("approve_change", "tok-1"));
    sfnMock.on(SendTaskSuccessCommand).callsFake(async () => (await dispatch(call("approve_release", "tok-2")), {}));
    await eng.decide(runId, { decision: "approved", by: "alice", via: "review" });
    expect(await eng.status(runId)).toBe("awaiting_human");
    expect(trail(await ledger.entries(runId)).slice(-2)).toEqual(["status_changed:awaiting_human", "step_finished:approve_change"]);
  });

  it("a repeated start of a run that was cancelled before its execution existed starts nothing", async () => {
    sfnMock.on(StartExecutionCommand).rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })).resolves({});
    sfnMock.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: "no execution", $metadata: {} }));
    const req = request("impl_change");
    await expect(engine.start(req)).rejects.toThrow(/Rate exceeded/);
    const runId = (await ledger.listRuns({ limit: 5 })).runs[0]!.run_id;
    await engine.cancel(runId, { by: "alice", reason: "/orchestrator cancel" });
    // The delivery is retried: the run exists and has ended, so no execution is started for it.
    expect(await engine.start(req)).toEqual({ runId, created: false });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(await engine.status(runId)).toBe("cancelled");
  });

  it("a repeated start of a run still queued completes its start", async () => {
    sfnMock.on(StartExecutionCommand).rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })).resolves({});
    const req = request("impl_change");
    await expect(engine.start(req)).rejects.toThrow(/Rate exceeded/);
    const again = await engine.start(req);
    expect(again.created).toBe(false);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });
});

describe("an approval answer that did not reach Step Functions", () => {
  const reviewTarget = (req: ReturnType<typeof request>, eventId: string) => ({
    source: "github" as const,
    repo: req.repo,
    subject: req.subject,
    actor: { login: "alice", id: "9", name: null, is_bot: false, permission: "write" as const },
    eventId,
    approvers: { spec: [], plan: [], risk: [], release: [] },
  });

  it("a re-delivered review approval sends SendTaskSuccess again and the run resumes", async () => {
    sfnMock.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })).resolves({});
    const req = request("impl_change");
    const { runId } = await engine.start(req);
    await parkAtApproval(runId);
    const control = engineRunControl({ engine, ledger, requests: new SqliteRunRequests(db) });
    await expect(control.review({ state: "approved", body: null }, reviewTarget(req, "e1"))).rejects.toThrow(/Rate exceeded/);
    expect(await engine.status(runId)).toBe("awaiting_human");
    const reply = await control.review({ state: "approved", body: null }, reviewTarget(req, "e2"));
    expect(reply).toMatch(/every checklist item is approved, so the run continues \(status running\)/);
    const sends = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(sends).toHaveLength(2);
    expect(sends[1]).toEqual(sends[0]);
    expect(trail(await ledger.entries(runId)).slice(-2)).toEqual(["step_finished:await_approvals", "status_changed:running"]);
  });

  it("a review from someone who may not approve does not have a completed approval sent again, nor is it recorded", async () => {
    sfnMock.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })).resolves({});
    const req = request("impl_change");
    const { runId } = await engine.start(req);
    await parkAtApproval(runId);
    const control = engineRunControl({ engine, ledger, requests: new SqliteRunRequests(db) });
    const approvers = { spec: ["alice"], plan: ["alice"], risk: ["alice"], release: ["alice"] };
    await expect(control.review({ state: "approved", body: null }, { ...reviewTarget(req, "e1"), approvers })).rejects.toThrow(/Rate exceeded/);
    const before = (await ledger.entries(runId)).length;
    const mallory = { ...reviewTarget(req, "e2"), approvers, actor: { ...reviewTarget(req, "e2").actor, login: "mallory" } };
    expect(await control.review({ state: "approved", body: null }, mallory)).toMatch(/^@mallory approved, but every checklist item on run .* is already approved and only its approvers may have that passed on again, so nothing was changed\.$/);
    expect((await ledger.entries(runId)).length).toBe(before);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    // An approver's review sends it again, recorded for one item that approver may decide.
    expect(await control.review({ state: "approved", body: null }, { ...reviewTarget(req, "e3"), approvers })).toMatch(/every checklist item is approved, so the run continues/);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
    const decisions = (await ledger.entries(runId)).filter((e) => e.type === "decision").map((e) => `${String(e.payload.by)}:${String(e.payload.item ?? "(all)")}`);
    expect(decisions).toEqual(["alice:spec", "alice:plan", "alice:risk", "alice:release", "alice:spec"]);
  });

  it("a repeated slash-command approval of an item sends the completed approval again", async () => {
    sfnMock.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })).resolves({});
    const { runId } = await engine.start(request("impl_change"));
    await parkAtApproval(runId);
    for (const item of ["spec", "plan", "risk"]) await engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item });
    await expect(engine.decide(runId, { decision: "approved", by: "bob", via: "slash_command", item: "release" })).rejects.toThrow(/Rate exceeded/);
    await engine.decide(runId, { decision: "approved", by: "bob", via: "slash_command", item: "release" });
    const sends = sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => JSON.parse(c.args[0].input.output!) as { by: string });
    // The output is the approval that completed the checklist, as the ledger recorded it.
    expect(sends.map((o) => o.by)).toEqual(["bob", "bob"]);
    expect(await engine.status(runId)).toBe("running");
  });

  it("a recorded rejection whose SendTaskFailure failed is sent again; a later approval cannot override it", async () => {
    sfnMock.on(SendTaskFailureCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    sfnMock.on(SendTaskSuccessCommand).resolves({});
    const { runId } = await engine.start(request("impl_change"));
    await parkAtApproval(runId);
    await expect(engine.decide(runId, { decision: "rejected", by: "carol", via: "slash_command", item: "risk", reason: "billing" })).rejects.toThrow(/Rate exceeded/);
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const approval = await engine.decide(runId, { decision: "approved", by: "alice", via: "review" }).catch((e: Error) => e);
    expect(approval).toBeInstanceOf(RunStateError);
    expect((approval as Error).message).toMatch(/its approval was already rejected \(carol\); that outcome was sent again, and this decision changes nothing/);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    const failures = sfnMock.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
    expect(failures).toHaveLength(2);
    expect(failures[1]).toEqual({ taskToken: "tok", error: "Approval.Rejected", cause: "rejected by carol via slash_command (risk): billing" });
    const entries = await ledger.entries(runId);
    expect(entries.filter((e) => e.type === "decision").map((e) => e.payload.decision)).toEqual(["rejected"]);
    expect(trail(entries).slice(-2)).toEqual(["step_failed:await_approvals", "status_changed:running"]);
  });
});

describe("status of an execution that ended without a ledger entry", () => {
  it("answers with the ledger's status when Step Functions cannot be asked", async () => {
    const { runId } = await engine.start(request("impl_change"));
    sfnMock.on(DescribeExecutionCommand).rejects(Object.assign(new Error("User is not authorized to perform: states:DescribeExecution"), { name: "AccessDeniedException" }));
    expect(await engine.status(runId)).toBe("queued");
  });

  it("does not set a run back to running when its first Lambda step recorded a status meanwhile", async () => {
    const { runId } = await engine.start(request("impl_change"));
    // The execution is RUNNING; between the ledger read and the append, the approval step records awaiting_human.
    sfnMock.on(DescribeExecutionCommand).callsFake(async () => {
      await parkAtApproval(runId);
      return { status: "RUNNING" };
    });
    expect(await engine.status(runId)).toBe("awaiting_human");
    expect(trail(await ledger.entries(runId)).filter((t) => t.startsWith("status_changed"))).toEqual(["status_changed:running", "status_changed:awaiting_human"]);
  });


  it("records the missing terminal status with the execution's error and cause, once", async () => {
    const { runId } = await engine.start(request("impl_change"));
    sfnMock.on(DescribeExecutionCommand).resolves({ status: "FAILED", error: "States.Runtime", cause: "An error occurred while executing the state 'publish'." });
    expect(await engine.status(runId)).toBe("failed");
    const last = (await ledger.entries(runId)).at(-1)!;
    expect(last).toMatchObject({
      type: "status_changed",
      payload: { to: "failed", reason: "the Step Functions execution ended FAILED: States.Runtime: An error occurred while executing the state 'publish'." },
    });
    expect(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input).toEqual({
      executionArn: `arn:aws:states:eu-west-1:123456789012:execution:scintilla-ImplementationRun:${runId}`,
    });
    // Ended in the ledger now: no more calls to Step Functions, no second entry.
    expect(await engine.status(runId)).toBe("failed");
    expect(sfnMock.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
    expect((await ledger.entries(runId)).filter((e) => e.type === "status_changed")).toHaveLength(1);
  });

  it("maps each end of an execution to a run status; a queued run whose execution runs is running; a never-started one stays queued", async () => {
    const statusAfter = async (describe: () => void) => {
      const { runId } = await engine.start(request("impl_change"));
      describe();
      return engine.status(runId);
    };
    expect(await statusAfter(() => sfnMock.on(DescribeExecutionCommand).resolves({ status: "TIMED_OUT" }))).toBe("failed");
    expect(await statusAfter(() => sfnMock.on(DescribeExecutionCommand).resolves({ status: "ABORTED", error: "Run.Cancelled" }))).toBe("cancelled");
    expect(await statusAfter(() => sfnMock.on(DescribeExecutionCommand).resolves({ status: "SUCCEEDED" }))).toBe("succeeded");
    // Its first steps run in containers, which record nothing in the ledger themselves.
    expect(await statusAfter(() => sfnMock.on(DescribeExecutionCommand).resolves({ status: "RUNNING" }))).toBe("running");
    expect(await statusAfter(() => sfnMock.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: "none", $metadata: {} })))).toBe("queued");
  });
});
