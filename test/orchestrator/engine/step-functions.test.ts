// The Step Functions backend's AWS requests, checked for their exact shapes with aws-sdk-client-mock, and the activity Lambda.
import { AccessDeniedException, ClientException, DescribeTaskDefinitionCommand, ECSClient } from "@aws-sdk/client-ecs";
import { GetFunctionConfigurationCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ListStateMachinesCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TagResourceCommand,
  TaskTimedOut,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDispatcher } from "../../../src/orchestrator/activities/dispatcher.js";
import { compileToAsl } from "../../../src/orchestrator/engine/asl.js";
import { RunNotFoundError, RunStateError } from "../../../src/orchestrator/engine/port.js";
import { deployStateMachines } from "../../../src/orchestrator/engine/sfn-deploy.js";
import { runIdForKey, StepFunctionsEngine } from "../../../src/orchestrator/engine/step-functions.js";
import { RunId, type TransactionalLedger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { builtinCatalog, workflows } from "../../../src/orchestrator/workflows/index.js";
import { handler, lambdaHandler } from "../../../src/lambda.js";
import { openSqlite, type DatabaseSync } from "../../../src/store/sqlite.js";
import { request } from "./harness.js";
import { testTargets } from "./local-sfn.js";
import { ScriptedActivities } from "./scripted.js";

const naming = { region: "eu-west-1", accountId: "123456789012", prefix: "scintilla-" };
const implArn = "arn:aws:states:eu-west-1:123456789012:stateMachine:scintilla-ImplementationRun";
const sfnMock = mockClient(SFNClient);
const ecsMock = mockClient(ECSClient);
const lambdaMock = mockClient(LambdaClient);
let db: DatabaseSync;
let ledger: TransactionalLedger;
let engine: StepFunctionsEngine;

beforeEach(() => {
  sfnMock.reset();
  ecsMock.reset();
  lambdaMock.reset();
  db = openSqlite(":memory:", { synchronous: "NORMAL" });
  ledger = sqliteLedger({ db });
  engine = new StepFunctionsEngine({ sfn: new SFNClient({ region: "eu-west-1" }), ledger, naming, policyVersion: "policy@3" });
  // status() asks Step Functions about runs the ledger has not seen end; by default their executions still run.
  sfnMock.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
});
afterEach(() => db.close());

/** Puts the run at its approval step the way the state machine does: the dispatcher Lambda gets the task token. */
async function parkAtApproval(runId: string) {
  const dispatch = createDispatcher({ activities: new ScriptedActivities().registry(), ledger });
  const state = JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!) as Record<string, unknown>;
  await dispatch({ run_id: runId, step: "await_approvals", activity: "await_approvals", state, task_token: "AQCEAAAAKgAAAAMAAAAA-token" });
}

describe("StepFunctionsEngine", () => {
  it("starts a Standard execution named by the run id, derived from the idempotency key", async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: "arn:x", startDate: new Date() });
    const req = request("impl_change");
    const { runId, created } = await engine.start(req);
    expect(RunId.safeParse(runId).success).toBe(true);
    expect(runId).toBe(runIdForKey(req.idempotency_key));
    expect(created).toBe(true);
    const call = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(call).toEqual({ stateMachineArn: implArn, name: runId, input: expect.any(String) });
    const input = JSON.parse(call.input!);
    expect(input).toMatchObject({ run: { run_id: runId, run_type: "impl_change", repo: "acme/api", workflow: { name: "ImplementationRun", version: 1 } }, steps: {} });
    const first = (await ledger.entries(runId))[0]!;
    expect(first).toMatchObject({ type: "run_created", payload: { policy_version: "policy@3", repo_scope: "acme/api", workflow: { name: "ImplementationRun" } } });
  });

  it("a repeated start is the same run: same name, same input, no second ledger run", async () => {
    sfnMock.on(StartExecutionCommand).resolvesOnce({ executionArn: "arn:x", startDate: new Date() }).rejects(new ExecutionAlreadyExists({ message: "exists", $metadata: {} }));
    const req = request("spec_change");
    const a = await engine.start(req);
    const b = await engine.start(req);
    expect(b).toEqual({ runId: a.runId, created: false });
    const calls = sfnMock.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(calls[0]);
    expect((await ledger.entries(a.runId)).filter((e) => e.type === "run_created")).toHaveLength(1);
  });

  it("an approval sends SendTaskSuccess with the stored token; a rejection SendTaskFailure", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    sfnMock.on(SendTaskSuccessCommand).resolves({});
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const a = await engine.start(request("impl_change"));
    await parkAtApproval(a.runId);
    expect(await engine.status(a.runId)).toBe("awaiting_human");
    await engine.decide(a.runId, { decision: "changes_requested", by: "bob", via: "review" });
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    await engine.decide(a.runId, { decision: "approved", by: "alice", via: "review" });
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({
      taskToken: "AQCEAAAAKgAAAAMAAAAA-token",
      output: JSON.stringify({ decision: "approved", by: "alice", via: "review", checklist: ["spec", "plan", "risk", "release"] }),
    });
    expect(await engine.status(a.runId)).toBe("running");
    await expect(engine.decide(a.runId, { decision: "approved", by: "alice", via: "review" })).rejects.toThrow(RunStateError);

    sfnMock.resetHistory();
    const b = await engine.start(request("impl_change"));
    await parkAtApproval(b.runId);
    await engine.decide(b.runId, { decision: "rejected", by: "carol", via: "slash_command", reason: "too risky" });
    expect(sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({
      taskToken: "AQCEAAAAKgAAAAMAAAAA-token",
      error: "Approval.Rejected",
      cause: "rejected by carol via slash_command: too risky",
    });
  });

  it("records per-item approvals and sends SendTaskSuccess only once every checklist item is approved", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    sfnMock.on(SendTaskSuccessCommand).resolves({});
    const { runId } = await engine.start(request("impl_change"));
    await parkAtApproval(runId);
    for (const item of ["spec", "plan", "risk"]) await engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item });
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(await engine.status(runId)).toBe("awaiting_human");
    await expect(engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item: "vibes" })).rejects.toThrow(/"vibes" is not on its approval checklist/);
    await engine.decide(runId, { decision: "approved", by: "bob", via: "slash_command", item: "release" });
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    const entries = await ledger.entries(runId);
    expect(entries.filter((e) => e.type === "decision").map((e) => e.payload.item)).toEqual(["spec", "plan", "risk", "release"]);
    expect(entries.filter((e) => e.type === "step_finished" && e.payload.step === "await_approvals")).toHaveLength(1);
  });

  it("a rejection of one item sends SendTaskFailure naming the item", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const { runId } = await engine.start(request("impl_change"));
    await parkAtApproval(runId);
    await engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item: "spec" });
    await engine.decide(runId, { decision: "rejected", by: "carol", via: "slash_command", item: "risk", reason: "billing schema" });
    expect(sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toMatchObject({ error: "Approval.Rejected", cause: "rejected by carol via slash_command (risk): billing schema" });
    await expect(engine.decide(runId, { decision: "approved", by: "alice", via: "slash_command", item: "plan" })).rejects.toThrow(RunStateError);
  });

  it("a decision after the approval timed out is refused with a reason", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    sfnMock.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: "timed out", $metadata: {} }));
    const { runId } = await engine.start(request("release_prep"));
    await parkAtApproval(runId);
    await expect(engine.decide(runId, { decision: "approved", by: "a", via: "api" })).rejects.toThrow(/no longer waits \(TaskTimedOut\)/);
    await expect(engine.decide("run_01JF3Q0Z8X9K2M4N6P8R0T2V4W", { decision: "approved", by: "a", via: "api" })).rejects.toThrow(RunNotFoundError);
  });

  it("cancel stops the execution by its ARN and records the cancellation", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    const { runId } = await engine.start(request("impl_change"));
    await engine.cancel(runId, { by: "dave", reason: "duplicate" });
    expect(sfnMock.commandCalls(StopExecutionCommand)[0]!.args[0].input).toEqual({
      executionArn: `arn:aws:states:eu-west-1:123456789012:execution:scintilla-ImplementationRun:${runId}`,
      error: "Run.Cancelled",
      cause: "cancelled by dave: duplicate",
    });
    expect(await engine.status(runId)).toBe("cancelled");
    await expect(engine.cancel(runId, { by: "dave" })).rejects.toThrow(/already ended/);
  });
});

describe("deployStateMachines", () => {
  const activeTaskDef = { taskDefinition: { status: "ACTIVE" as const, containerDefinitions: [{ name: "agent" }], requiresCompatibilities: ["FARGATE" as const] } };
  const deploy = (dryRun: boolean, targets = testTargets) =>
    deployStateMachines({
      sfn: new SFNClient({ region: "eu-west-1" }),
      naming,
      roleArn: "arn:aws:iam::123456789012:role/orchestrator-sfn",
      targets,
      definitions: workflows,
      dryRun,
      preflight: { ecs: new ECSClient({ region: "eu-west-1" }), lambda: new LambdaClient({ region: "eu-west-1" }) },
    });

  it("checks the targets, updates (and re-tags) the machines that exist and creates the others as Standard", async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(activeTaskDef);
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ FunctionName: "orchestrator-activities", Timeout: 900 });
    sfnMock.on(ListStateMachinesCommand).resolves({ stateMachines: [{ name: "scintilla-ImplementationRun", stateMachineArn: implArn, type: "STANDARD", creationDate: new Date() }] });
    sfnMock.on(CreateStateMachineCommand).resolves({});
    sfnMock.on(UpdateStateMachineCommand).resolves({});
    sfnMock.on(TagResourceCommand).resolves({});
    const actions = await deploy(false);
    expect(ecsMock.commandCalls(DescribeTaskDefinitionCommand)[0]!.args[0].input).toEqual({ taskDefinition: testTargets.ecs.taskDefinitionArn });
    expect(lambdaMock.commandCalls(GetFunctionConfigurationCommand)[0]!.args[0].input).toEqual({ FunctionName: testTargets.activityLambdaArn });
    expect(actions.map((a) => a.action)).toEqual(["create", "update", "create", "create", "create"]);
    const update = sfnMock.commandCalls(UpdateStateMachineCommand)[0]!.args[0].input;
    expect(update).toEqual({
      stateMachineArn: implArn,
      definition: JSON.stringify(compileToAsl(workflows[1]!, testTargets)),
      roleArn: "arn:aws:iam::123456789012:role/orchestrator-sfn",
      publish: true,
      versionDescription: "ImplementationRun v1",
    });
    // UpdateStateMachine carries no tags: the version tag is set again on every update.
    expect(sfnMock.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ resourceArn: implArn, tags: [{ key: "orchestrator:workflow-version", value: "1" }] }]);
    const creates = sfnMock.commandCalls(CreateStateMachineCommand).map((c) => c.args[0].input);
    expect(creates.map((c) => c.name)).toEqual(["scintilla-SpecChangeRun", "scintilla-ConformanceUpdateRun", "scintilla-ReleasePrepRun", "scintilla-WatcherInvestigationRun"]);
    expect(creates[0]).toEqual({
      name: "scintilla-SpecChangeRun",
      definition: JSON.stringify(compileToAsl(workflows[0]!, testTargets)),
      roleArn: "arn:aws:iam::123456789012:role/orchestrator-sfn",
      type: "STANDARD",
      publish: true,
      versionDescription: "SpecChangeRun v1",
      tags: [{ key: "orchestrator:workflow-version", value: "1" }],
    });
  });

  it("a dry run reads but creates, updates and tags nothing", async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(activeTaskDef);
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ Timeout: 600 });
    sfnMock.on(ListStateMachinesCommand).resolves({ stateMachines: [{ name: "scintilla-ImplementationRun", stateMachineArn: implArn, type: "STANDARD", creationDate: new Date() }] });
    const actions = await deploy(true);
    expect(actions).toHaveLength(5);
    expect(actions.find((a) => a.action === "update")).toMatchObject({ tag: { resourceArn: implArn, tags: [{ key: "orchestrator:workflow-version", value: "1" }] } });
    expect(sfnMock.commandCalls(CreateStateMachineCommand)).toHaveLength(0);
    expect(sfnMock.commandCalls(UpdateStateMachineCommand)).toHaveLength(0);
    expect(sfnMock.commandCalls(TagResourceCommand)).toHaveLength(0);
  });

  it("refuses to deploy against a missing Lambda or an inactive task definition", async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(activeTaskDef);
    lambdaMock.on(GetFunctionConfigurationCommand).rejects(new ResourceNotFoundException({ message: "Function not found", $metadata: {} }));
    await expect(deploy(false)).rejects.toThrow(/ACTIVITY_LAMBDA_ARN .*Function not found; deploy the activity Lambda/);
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { ...activeTaskDef.taskDefinition, status: "INACTIVE" } });
    await expect(deploy(false)).rejects.toThrow(/is INACTIVE; pin an ACTIVE revision/);
    expect(sfnMock.commandCalls(CreateStateMachineCommand)).toHaveLength(0);
  });

  it("says 'register it' only when the task definition is not found; other errors are named as access or connection problems", async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: "Unable to describe task definition.", $metadata: {} }));
    await expect(deploy(true)).rejects.toThrow(/ECS_TASK_DEFINITION_ARN \S+: Unable to describe task definition.; register it \(and pin its revision\) first/);
    ecsMock.on(DescribeTaskDefinitionCommand).rejects(new AccessDeniedException({ message: "not authorized to perform: ecs:DescribeTaskDefinition", $metadata: {} }));
    const denied = await deploy(true).catch((e: Error) => e.message);
    expect(denied).toMatch(/could not be checked \(AccessDeniedException: not authorized.*\); check the AWS credentials, the ecs:DescribeTaskDefinition permission/);
    expect(denied).not.toMatch(/register it/);
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(activeTaskDef);
    lambdaMock.on(GetFunctionConfigurationCommand).rejects(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { name: "Error" }));
    const offline = await deploy(true).catch((e: Error) => e.message);
    expect(offline).toMatch(/ACTIVITY_LAMBDA_ARN \S+ could not be checked \(Error: connect ECONNREFUSED.*lambda:GetFunctionConfiguration permission/);
    expect(offline).not.toMatch(/deploy the activity Lambda/);
  });

  it("refuses an activity Lambda whose timeout is shorter than its longest step, naming the step and both numbers", async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(activeTaskDef);
    // 21 days of await_approvals are a wait for humans, not Lambda time: only publish's 600 s counts.
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ Timeout: 60 });
    await expect(deploy(true)).rejects.toThrow(/has a timeout of 60 s, shorter than step publish of SpecChangeRun \(TimeoutSeconds 600\); raise the function's timeout to at least 600 s/);
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ Timeout: 600 });
    sfnMock.on(ListStateMachinesCommand).resolves({ stateMachines: [] });
    await expect(deploy(true)).resolves.toHaveLength(5);
  });

  it("refuses to deploy without security groups, before any AWS call", async () => {
    await expect(deploy(true, { ...testTargets, ecs: { ...testTargets.ecs, securityGroups: [] } })).rejects.toThrow(/ECS_SECURITY_GROUPS is empty: ECS would put agent and gate tasks in the VPC's default security group/);
    expect(ecsMock.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(0);
    expect(sfnMock.commandCalls(ListStateMachinesCommand)).toHaveLength(0);
  });
});

describe("activity Lambda", () => {
  it("runs the activity named by the compiled payload, records the step, and fails under the activity's error name", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    const acts = new ScriptedActivities({ gate: { report: [{ fail: "Forge.Unavailable" }] } });
    const invoke = lambdaHandler(async () => createDispatcher({ activities: acts.registry(), ledger, catalog: builtinCatalog() }));
    const { runId } = await engine.start(request("impl_change", "gate"));
    const state = JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!) as Record<string, unknown>;
    const event = { run_id: runId, step: "publish", activity: "publish", state };
    expect(await invoke(event, { getRemainingTimeInMillis: () => 60_000 })).toEqual({ done: "publish" });
    // Lambda delivering the same event twice records the step once.
    await invoke(event);
    const err = await invoke({ ...event, step: "report", activity: "report" }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: "Forge.Unavailable", message: "scripted failure of report" });
    const types = (await ledger.entries(runId)).map((e) => `${e.type}:${String(e.payload.step ?? e.payload.to ?? "")}`);
    expect(types).toEqual(["run_created:", "status_changed:running", "step_started:publish", "step_finished:publish", "step_started:report", "step_failed:report"]);
    // Gates run in a container on AWS: a machine deployed before that would otherwise run them here until Lambda's 15 minutes.
    expect(await invoke({ ...event, step: "verify", activity: "verify" }).catch((e: Error) => `${e.name}: ${e.message}`)).toMatch(/^Dispatch.BadEvent: .*verify runs in a container task, not in the activity Lambda; redeploy/);
    expect(await invoke({ run_id: runId, step: "merge" }).catch((e: Error) => e.name)).toBe("Dispatch.BadEvent");
    expect(await invoke({ ...event, step: "deploy" }).catch((e: Error) => e.message)).toMatch(/ImplementationRun has no step deploy/);
  });

  it("records the approval request with the activity's checklist, or the default one for a malformed checklist, like the embedded engine", async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    const acts = new ScriptedActivities({
      short: { await_approvals: [{ output: { checklist: ["spec", "release"] } }] },
      malformed: { await_approvals: [{ output: { checklist: [] } }] },
    });
    const dispatch = createDispatcher({ activities: acts.registry(), ledger, catalog: builtinCatalog() });
    const checklistOf = async (scenario: string) => {
      const { runId } = await engine.start(request("impl_change", scenario));
      const state = JSON.parse(sfnMock.commandCalls(StartExecutionCommand).at(-1)!.args[0].input.input!) as Record<string, unknown>;
      await dispatch({ run_id: runId, step: "await_approvals", activity: "await_approvals", state, task_token: `token-${scenario}` });
      const asked = (await ledger.entries(runId)).find((e) => e.type === "approval_requested")!;
      expect(asked.payload.task_token).toBe(`token-${scenario}`);
      return asked.payload.checklist;
    };
    expect(await checklistOf("short")).toEqual(["spec", "release"]);
    expect(await checklistOf("malformed")).toEqual(["spec", "plan", "risk", "release"]);
  });

  it("the deployed entry point refuses to run without the shared DynamoDB ledger", async () => {
    await expect(handler({})).rejects.toThrow(/set LEDGER_BACKEND=dynamodb/);
  });

  it("a failed start is not kept: the next invocation reads the environment again", async () => {
    await expect(handler({})).rejects.toThrow(/set LEDGER_BACKEND=dynamodb/);
    const saved = { LEDGER_BACKEND: process.env.LEDGER_BACKEND, ENGINE_CONCURRENCY: process.env.ENGINE_CONCURRENCY };
    Object.assign(process.env, { LEDGER_BACKEND: "dynamodb", ENGINE_CONCURRENCY: "ten" });
    try {
      await expect(handler({})).rejects.toThrow(/ENGINE_CONCURRENCY/);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
});
