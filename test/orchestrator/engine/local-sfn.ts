// Step Functions in-process for tests: StartExecution / SendTask* on a mocked SFN client drive aws-local-stepfunctions
// running the compiled ASL; Lambda tasks go through the real dispatcher, ECS tasks run the container's activity.
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { StateMachine } from "aws-local-stepfunctions";
import { mockClient } from "aws-sdk-client-mock";
import { createDispatcher } from "../../../src/orchestrator/activities/dispatcher.js";
import { ActivityError, type JsonObject, type RunState } from "../../../src/orchestrator/activities/port.js";
import type { ActivityRegistry } from "../../../src/orchestrator/activities/registry.js";
import { compileToAsl, Resources, type AslTargets } from "../../../src/orchestrator/engine/asl.js";
import type { Ledger } from "../../../src/orchestrator/ledger/port.js";
import type { WorkflowCatalog } from "../../../src/orchestrator/workflows/index.js";
import { ActivityName } from "../../../src/orchestrator/workflows/schema.js";

export const testTargets: AslTargets = {
  activityLambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:orchestrator-activities",
  ecs: {
    clusterArn: "arn:aws:ecs:eu-west-1:123456789012:cluster/agents",
    taskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:7",
    containerName: "agent",
    subnets: ["subnet-0a1b2c3d"],
    securityGroups: ["sg-0a1b2c3d"],
    assignPublicIp: false,
  },
  taskInputPrefix: "s3://orchestrator-runs/tasks",
};

type EventLog = { readonly type: string };

export interface Execution {
  readonly runId: string;
  readonly result: Promise<"succeeded" | "failed" | "aborted">;
  readonly events: EventLog[];
  /** What DescribeExecution reports: RUNNING until the execution ends. */
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
}

export function localStepFunctions(opts: { catalog: WorkflowCatalog; activities: ActivityRegistry; ledger: Ledger }) {
  const dispatch = createDispatcher({ activities: opts.activities, ledger: opts.ledger, catalog: opts.catalog });
  const waiting = new Map<string, { resolve: (v: JsonObject) => void; reject: (e: Error) => void }>();
  const executions = new Map<string, Execution & { abort(): void }>();
  const describe: Record<Awaited<Execution["result"]>, Execution["status"]> = { succeeded: "SUCCEEDED", failed: "FAILED", aborted: "ABORTED" };
  const sfn = new SFNClient({ region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const mock = mockClient(sfn);

  function start(stateMachineArn: string, name: string, inputText: string): void {
    if (executions.has(name)) throw Object.assign(new Error("exists"), { name: "ExecutionAlreadyExists" });
    const def = opts.catalog.named(stateMachineArn.split(":stateMachine:")[1]!.replace(/^scintilla-/, ""))!;
    const asl = compileToAsl(def, testTargets);
    const input = JSON.parse(inputText) as RunState;
    const handlers: Record<string, (input: unknown) => Promise<JsonObject>> = {};
    // aws-local-stepfunctions keeps a static context object: $$.State.RetryCount (a container's attempt) is counted here.
    const entered = new Map<string, number>();
    const retryCount = (state: string) => {
      const n = entered.get(state) ?? 0;
      entered.set(state, n + 1);
      return n;
    };
    const payload = (p: unknown) => (p as { Payload: JsonObject }).Payload;
    for (const [state, s] of Object.entries(asl.States)) {
      if (s.Type !== "Task") continue;
      if (s.Resource === Resources.lambdaInvoke)
        handlers[state] = async (p) => ({ Payload: await dispatch(payload(p)), StatusCode: 200 });
      else if (s.Resource === Resources.lambdaInvokeWaitForTaskToken)
        handlers[state] = async (p) => {
          await dispatch(payload(p));
          return new Promise<JsonObject>((resolve, reject) => waiting.set(String(payload(p).task_token), { resolve, reject }));
        };
      else
        handlers[state] = async (p) => {
          // What the agent or gate container does with its environment: run the step's activity for this run.
          const env = Object.fromEntries(
            (p as { Overrides: { ContainerOverrides: { Environment: { Name: string; Value: string }[] }[] } }).Overrides.ContainerOverrides[0]!.Environment.map((e) => [e.Name, e.Value]),
          );
          const key = `${env.ORCHESTRATOR_RUN_ID}/${env.ORCHESTRATOR_STEP}`;
          const attempt = retryCount(state) + 1;
          await opts.activities.get(ActivityName.parse(env.ORCHESTRATOR_ACTIVITY))({
            runId: env.ORCHESTRATOR_RUN_ID!,
            stepId: env.ORCHESTRATOR_STEP!,
            activity: ActivityName.parse(env.ORCHESTRATOR_ACTIVITY),
            attempt,
            attemptKey: `${key}/${attempt}`,
            stepKey: key,
            state: input,
            signal: new AbortController().signal,
          });
          return { Tasks: [{ TaskArn: `arn:aws:ecs:eu-west-1:123456789012:task/agents/${attempt}`, LastStatus: "STOPPED" }] };
        };
    }
    const machine = new StateMachine(asl as never, { validationOptions: { checkArn: true, checkPaths: true } });
    const run = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((k) => [k, 0])) },
      context: { Execution: { Name: name, Input: input as never, StartTime: new Date().toISOString() }, State: { RetryCount: 0 }, Task: { Token: `token-${name}` } },
      noThrowOnAbort: true,
    });
    const events: EventLog[] = [];
    const result = (async () => {
      const collect = (async () => {
        for await (const e of run.eventLogs) events.push(e);
      })();
      try {
        const out = await run.result;
        return out === null ? "aborted" : "succeeded";
      } catch {
        return "failed";
      } finally {
        await collect.catch(() => undefined);
      }
    })() as Promise<"succeeded" | "failed" | "aborted">;
    const execution = { runId: name, result, events, abort: run.abort, status: "RUNNING" as Execution["status"] };
    void result.then((r) => (execution.status = describe[r]));
    executions.set(name, execution);
  }

  mock.on(StartExecutionCommand).callsFake((i: { stateMachineArn: string; name: string; input: string }) => {
    start(i.stateMachineArn, i.name, i.input);
    return { executionArn: `${i.stateMachineArn.replace(":stateMachine:", ":execution:")}:${i.name}`, startDate: new Date() };
  });
  mock.on(SendTaskSuccessCommand).callsFake((i: { taskToken: string; output: string }) => {
    const w = waiting.get(i.taskToken);
    if (!w) throw Object.assign(new Error("no such task"), { name: "TaskDoesNotExist" });
    waiting.delete(i.taskToken);
    w.resolve(JSON.parse(i.output) as JsonObject);
    return {};
  });
  mock.on(SendTaskFailureCommand).callsFake((i: { taskToken: string; error: string; cause: string }) => {
    const w = waiting.get(i.taskToken);
    if (!w) throw Object.assign(new Error("no such task"), { name: "TaskDoesNotExist" });
    waiting.delete(i.taskToken);
    w.reject(new ActivityError(i.error, i.cause));
    return {};
  });
  mock.on(DescribeExecutionCommand).callsFake((i: { executionArn: string }) => {
    const e = executions.get(i.executionArn.split(":").at(-1)!);
    if (!e) throw Object.assign(new Error("no such execution"), { name: "ExecutionDoesNotExist" });
    return { executionArn: i.executionArn, status: e.status };
  });
  mock.on(StopExecutionCommand).callsFake((i: { executionArn: string }) => {
    executions.get(i.executionArn.split(":").at(-1)!)?.abort();
    return { stopDate: new Date() };
  });

  return {
    sfn,
    mock,
    execution: (runId: string) => executions.get(runId),
    waitingFor: (runId: string) => waiting.has(`token-${runId}`),
  };
}
