// The ASL compiler: every machine is valid ASL, runs in aws-local-stepfunctions, and maps steps to the right integrations.
import aslValidator from "asl-validator";
import { StateMachine } from "aws-local-stepfunctions";
import { describe, expect, it } from "vitest";
import { compileToAsl, integrationOf, lambdaServiceRetrier, placeholderTargets, Resources, stopChoiceName, type AslState } from "../../../src/orchestrator/engine/asl.js";
import { defineWorkflow } from "../../../src/orchestrator/workflows/schema.js";
import { workflows } from "../../../src/orchestrator/workflows/index.js";
import { testTargets } from "../engine/local-sfn.js";

describe("ASL compiler", () => {
  for (const def of workflows) {
    for (const [label, targets] of [["configured targets", testTargets], ["placeholder targets", placeholderTargets]] as const) {
      it(`${def.name} with ${label} passes asl-validator and loads in aws-local-stepfunctions`, () => {
        const asl = compileToAsl(def, targets);
        const { isValid, errorsText } = aslValidator(asl as never);
        expect(isValid, errorsText("\n")).toBe(true);
        expect(() => new StateMachine(asl as never, { validationOptions: { checkArn: true, checkPaths: true } })).not.toThrow();
      });
    }

    it(`${def.name}: one Task per step with explicit TimeoutSeconds, Retry and Catch from the definition`, () => {
      const asl = compileToAsl(def, testTargets);
      expect(JSON.stringify(asl)).not.toMatch(/JSONata|QueryLanguage|\{%/);
      expect(asl.StartAt).toBe(def.steps[0]!.id);
      for (const step of [...def.steps, def.on_failure]) {
        const s = asl.States[step.id]!;
        expect(s.Type).toBe("Task");
        expect(s.TimeoutSeconds).toBe(step.timeout_seconds);
        const integration = integrationOf(step.activity);
        // Lambda's own transient errors are retried first, on every Lambda Task; containers have none.
        const lambdaRetry = integration === "container" ? [] : [lambdaServiceRetrier];
        const ownRetry =
          step.retry && step.retry.max_attempts > 1
            ? [
                {
                  ErrorEquals: step.retry.retryable_errors,
                  IntervalSeconds: step.retry.backoff.initial_seconds,
                  BackoffRate: step.retry.backoff.rate,
                  MaxAttempts: step.retry.max_attempts - 1,
                  MaxDelaySeconds: step.retry.backoff.max_seconds,
                  JitterStrategy: "NONE",
                },
              ]
            : [];
        expect(s.Retry ?? []).toEqual([...lambdaRetry, ...ownRetry]);
        expect(s.Resource).toBe(
          integration === "container" ? Resources.ecsRunTaskSync : integration === "lambda-callback" ? Resources.lambdaInvokeWaitForTaskToken : Resources.lambdaInvoke,
        );
      }
      for (const step of def.steps) expect((asl.States[step.id] as AslState).Catch).toEqual([{ ErrorEquals: step.catch, ResultPath: "$.error", Next: def.on_failure.id }]);
      expect(asl.States[def.on_failure.id]!.Next).toBe("Failed");
      expect(asl.States.Failed).toMatchObject({ Type: "Fail", Error: "Run.Failed" });
      expect(asl.States.Succeeded).toEqual({ Type: "Succeed" });
    });
  }

  it("an agent step runs the pinned task definition on Fargate with the run-scoped task input location", () => {
    const asl = compileToAsl(workflows[1]!, testTargets);
    expect(asl.States.build).toMatchObject({
      Resource: "arn:aws:states:::ecs:runTask.sync",
      ResultPath: null,
      Parameters: {
        LaunchType: "FARGATE",
        Cluster: testTargets.ecs.clusterArn,
        TaskDefinition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:7",
        NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ["subnet-0a1b2c3d"], SecurityGroups: ["sg-0a1b2c3d"], AssignPublicIp: "DISABLED" } },
        Overrides: {
          ContainerOverrides: [
            {
              Name: "agent",
              Environment: [
                { Name: "ORCHESTRATOR_RUN_ID", "Value.$": "$$.Execution.Name" },
                { Name: "ORCHESTRATOR_STEP", Value: "build" },
                { Name: "ORCHESTRATOR_ACTIVITY", Value: "build" },
                { Name: "ORCHESTRATOR_ATTEMPT", "Value.$": "States.JsonToString(States.MathAdd($$.State.RetryCount, 1))" },
                { Name: "ORCHESTRATOR_TASK_INPUT", "Value.$": "States.Format('s3://orchestrator-runs/tasks/runs/{}/steps/build/input.json', $$.Execution.Name)" },
              ],
            },
          ],
        },
      },
    });
  });

  it("the gates run where agents run: a container task of the same task definition, told to verify, its output kept out of the state", () => {
    const asl = compileToAsl(workflows[1]!, testTargets);
    const verify = asl.States.verify as { Resource: string; ResultPath: null; Parameters: { TaskDefinition: string; Overrides: { ContainerOverrides: { Environment: { Name: string }[] }[] } } };
    expect(verify).toMatchObject({ Resource: Resources.ecsRunTaskSync, ResultPath: null, Parameters: { TaskDefinition: testTargets.ecs.taskDefinitionArn } });
    expect(verify.Parameters.Overrides.ContainerOverrides[0]!.Environment).toContainEqual({ Name: "ORCHESTRATOR_ACTIVITY", Value: "verify" });
  });

  it("ORCHESTRATOR_ATTEMPT evaluates to RetryCount + 1 as a string (ECS takes only string values)", async () => {
    const plan = compileToAsl(workflows[1]!, testTargets).States.plan!;
    const single = { StartAt: "plan", States: { plan: { ...plan, Next: undefined, Catch: undefined, Retry: undefined, End: true } } };
    const attemptFor = async (retryCount: number) => {
      let env: { Name: string; Value: string }[] = [];
      const run = new StateMachine(JSON.parse(JSON.stringify(single)) as never, { validationOptions: { checkArn: true, checkPaths: true } }).run({} as never, {
        overrides: {
          taskResourceLocalHandlers: {
            plan: async (p: { Overrides: { ContainerOverrides: { Environment: { Name: string; Value: string }[] }[] } }) => {
              env = p.Overrides.ContainerOverrides[0]!.Environment;
              return {};
            },
          } as never,
        },
        context: { Execution: { Name: "run_01JF3Q0Z8X9K2M4N6P8R0T2V4W" }, State: { RetryCount: retryCount } } as never,
      });
      await run.result;
      return env.find((e) => e.Name === "ORCHESTRATOR_ATTEMPT")?.Value;
    };
    expect(await attemptFor(0)).toBe("1");
    expect(await attemptFor(2)).toBe("3");
  });

  it("refuses a Lambda step whose timeout is past Lambda's 15 minutes; an approval's wait may be longer", () => {
    const def = (activity: "publish" | "await_approvals", timeout_seconds: number) =>
      defineWorkflow({
        name: "LongRun",
        run_type: "impl_change",
        version: 1,
        description: "x",
        steps: [{ id: "publish", activity, timeout_seconds }],
        on_failure: { id: "report_failure", activity: "report", timeout_seconds: 5 },
      });
    expect(() => compileToAsl(def("publish", 901))).toThrow(
      "LongRun: step publish (publish) has timeout_seconds 901, but it runs in the activity Lambda, which AWS stops after 900 s; lower it to 900 or less",
    );
    expect(compileToAsl(def("publish", 900)).States.publish!.TimeoutSeconds).toBe(900);
    expect(compileToAsl(def("await_approvals", 86_400)).States.publish!.TimeoutSeconds).toBe(86_400);
  });

  it("approvals hand the task token to the dispatcher Lambda; other activities invoke it plainly", () => {
    const asl = compileToAsl(workflows[0]!, testTargets);
    expect(asl.States.await_approvals).toMatchObject({
      Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
      Parameters: { FunctionName: testTargets.activityLambdaArn, Payload: { "task_token.$": "$$.Task.Token", "run_id.$": "$$.Execution.Name", step: "await_approvals" } },
      ResultPath: "$.steps.await_approvals",
    });
    expect(asl.States.publish).toMatchObject({
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: { FunctionName: testTargets.activityLambdaArn, Payload: { activity: "publish", "state.$": "$" } },
      ResultSelector: { "output.$": "$.Payload" },
    });
  });

  it("stop_after is a Choice that skips to the report", () => {
    const asl = compileToAsl(workflows[1]!, testTargets);
    expect(asl.States.plan!.Next).toBe(stopChoiceName("plan"));
    expect(asl.States[stopChoiceName("plan")]).toEqual({
      Type: "Choice",
      Choices: [{ Variable: "$.run.stop_after", StringEquals: "plan", Next: "report" }],
      Default: "build",
    });
    expect(asl.States.publish!.Next).toBe("await_approvals");
  });

  it("a single-attempt retry policy compiles to no Retry (ASL MaxAttempts 0 would mean never)", () => {
    const def = defineWorkflow({
      name: "OneShotRun",
      run_type: "impl_change",
      version: 1,
      description: "x",
      steps: [{ id: "verify", activity: "verify", timeout_seconds: 5, retry: { max_attempts: 1, backoff: { initial_seconds: 1, rate: 1, max_seconds: 1 }, retryable_errors: ["X.Y"] } }],
      on_failure: { id: "report_failure", activity: "report", timeout_seconds: 5 },
    });
    // verify runs in a container: with no retrier of its own it has no Retry at all.
    expect(compileToAsl(def).States.verify!.Retry).toBeUndefined();
  });

  it("refuses a task input prefix that would break States.Format", () => {
    expect(() => compileToAsl(workflows[1]!, { ...testTargets, taskInputPrefix: "s3://bucket/it's" })).toThrow(/must not contain/);
  });
});
