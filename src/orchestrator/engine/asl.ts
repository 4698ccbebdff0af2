// Compiles a workflow definition to an Amazon States Language state machine (JSONPath mode) for AWS Step Functions.
import { activityKinds, type FailureStep, type RetryPolicy, type StepDefinition, type WorkflowDefinition } from "../workflows/schema.js";
import { definitionDigest } from "../workflows/index.js";
import { stopTarget, stoppableActivities } from "../workflows/run-state.js";

/** Where the compiled machine sends work. Values come from the `engine` settings, or are placeholders. */
export interface AslTargets {
  /** The one activity-dispatcher Lambda (src/lambda.ts) every non-agent step invokes. */
  readonly activityLambdaArn: string;
  readonly ecs: {
    readonly clusterArn: string;
    /** Pinned: `…:task-definition/family:revision`, so a run never picks up a newer image mid-flight. */
    readonly taskDefinitionArn: string;
    readonly containerName: string;
    readonly subnets: readonly string[];
    readonly securityGroups: readonly string[];
    readonly assignPublicIp: boolean;
  };
  /** s3:// prefix under which each agent task finds its run-scoped input: `<prefix>/runs/<run_id>/steps/<step>/input.json`. */
  readonly taskInputPrefix: string;
}

/**
 * CloudFormation `DefinitionSubstitutions` placeholders, for printing or templating a machine
 * before the AWS settings exist.
 */
export const placeholderTargets: AslTargets = {
  activityLambdaArn: "${ActivityLambdaArn}",
  ecs: {
    clusterArn: "${AgentClusterArn}",
    taskDefinitionArn: "${AgentTaskDefinitionArn}",
    containerName: "${AgentContainerName}",
    subnets: ["${AgentSubnet}"],
    securityGroups: ["${AgentSecurityGroup}"],
    assignPublicIp: false,
  },
  taskInputPrefix: "${TaskInputPrefix}",
};

/** Names of the terminal states the compiler adds after the steps. */
export const SUCCEEDED_STATE = "Succeeded";
export const FAILED_STATE = "Failed";
/** The Choice state after a stoppable step (its name cannot clash with a step id, which is lower_snake_case). */
export function stopChoiceName(stepId: string): string {
  return `Stop after ${stepId}?`;
}
/** The error the Fail state ends a failed run with. */
export const RUN_FAILED_ERROR = "Run.Failed";

export const Resources = {
  ecsRunTaskSync: "arn:aws:states:::ecs:runTask.sync",
  lambdaInvoke: "arn:aws:states:::lambda:invoke",
  lambdaInvokeWaitForTaskToken: "arn:aws:states:::lambda:invoke.waitForTaskToken",
} as const;

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type AslState = { [k: string]: Json };
export interface AslMachine {
  Comment: string;
  StartAt: string;
  States: Record<string, AslState>;
  [k: string]: Json;
}

/** The dispatcher's event (`DispatchEvent` in activities/dispatcher.ts): which activity, for which run, step and attempt. */
function dispatcherPayload(step: { id: string; activity: string }, extra: Record<string, Json> = {}): Json {
  return {
    "run_id.$": "$$.Execution.Name",
    step: step.id,
    activity: step.activity,
    // RetryCount is 0 on the first attempt: the dispatcher adds one, like the embedded engine's attempt numbers.
    "retry_count.$": "$$.State.RetryCount",
    "state.$": "$",
    ...extra,
  };
}

function retrier(policy: RetryPolicy | undefined): AslState {
  // MaxAttempts 0 would mean "never"; leave Retry out instead.
  if (!policy || policy.max_attempts <= 1) return {};
  return {
    Retry: [
      {
        ErrorEquals: [...policy.retryable_errors],
        IntervalSeconds: policy.backoff.initial_seconds,
        BackoffRate: policy.backoff.rate,
        MaxAttempts: policy.max_attempts - 1,
        MaxDelaySeconds: policy.backoff.max_seconds,
        JitterStrategy: "NONE",
      },
    ],
  };
}

function taskInputLocation(prefix: string, stepId: string): string {
  if (/[{}'\\]/.test(prefix.replace(/^\$\{\w+\}$/, "")))
    throw new Error(`task input prefix ${JSON.stringify(prefix)} must not contain { } ' or \\ (it is embedded in States.Format)`);
  return `States.Format('${prefix.replace(/\/+$/, "")}/runs/{}/steps/${stepId}/input.json', $$.Execution.Name)`;
}

function taskState(step: StepDefinition | FailureStep, targets: AslTargets): AslState {
  const kind = activityKinds[step.activity];
  if (kind === "agent") {
    const { ecs } = targets;
    return {
      Type: "Task",
      Resource: Resources.ecsRunTaskSync,
      Parameters: {
        LaunchType: "FARGATE",
        Cluster: ecs.clusterArn,
        TaskDefinition: ecs.taskDefinitionArn,
        NetworkConfiguration: {
          AwsvpcConfiguration: {
            Subnets: [...ecs.subnets],
            SecurityGroups: [...ecs.securityGroups],
            AssignPublicIp: ecs.assignPublicIp ? "ENABLED" : "DISABLED",
          },
        },
        Overrides: {
          ContainerOverrides: [
            {
              Name: ecs.containerName,
              Environment: [
                { Name: "ORCHESTRATOR_RUN_ID", "Value.$": "$$.Execution.Name" },
                { Name: "ORCHESTRATOR_STEP", Value: step.id },
                { Name: "ORCHESTRATOR_ACTIVITY", Value: step.activity },
                { Name: "ORCHESTRATOR_TASK_INPUT", "Value.$": taskInputLocation(targets.taskInputPrefix, step.id) },
              ],
            },
          ],
        },
      },
      // An agent's output is its artifacts (content-addressed, in the ledger), not the ECS task description.
      ResultPath: null,
      TimeoutSeconds: step.timeout_seconds,
    };
  }
  if (kind === "approval") {
    return {
      Type: "Task",
      Resource: Resources.lambdaInvokeWaitForTaskToken,
      Parameters: {
        FunctionName: targets.activityLambdaArn,
        Payload: dispatcherPayload(step, { "task_token.$": "$$.Task.Token" }),
      },
      // SendTaskSuccess's output is the decision.
      ResultSelector: { "output.$": "$" },
      ResultPath: `$.steps.${step.id}`,
      TimeoutSeconds: step.timeout_seconds,
    };
  }
  return {
    Type: "Task",
    Resource: Resources.lambdaInvoke,
    Parameters: { FunctionName: targets.activityLambdaArn, Payload: dispatcherPayload(step) },
    ResultSelector: { "output.$": "$.Payload" },
    ResultPath: `$.steps.${step.id}`,
    TimeoutSeconds: step.timeout_seconds,
  };
}

/**
 * One Task state per step, in order, each with its Retry and a Catch into the failure step;
 * the failure step reports and ends in a Fail state whatever its own outcome.
 */
export function compileToAsl(def: WorkflowDefinition, targets: AslTargets = placeholderTargets): AslMachine {
  const states: Record<string, AslState> = {};
  const failure = def.on_failure;
  def.steps.forEach((step, i) => {
    let next = def.steps[i + 1]?.id ?? SUCCEEDED_STATE;
    if (stoppableActivities.has(step.activity) && i + 1 < def.steps.length) {
      // `/orchestrator plan` and friends: the run input's stop_after skips to the closing report.
      const choice = stopChoiceName(step.id);
      states[choice] = {
        Type: "Choice",
        Choices: [{ Variable: "$.run.stop_after", StringEquals: step.activity, Next: stopTarget(def, i) ?? SUCCEEDED_STATE }],
        Default: next,
      };
      next = choice;
    }
    states[step.id] = {
      ...taskState(step, targets),
      ...retrier(step.retry),
      Catch: [{ ErrorEquals: [...step.catch], ResultPath: "$.error", Next: failure.id }],
      Next: next,
    };
  });
  states[failure.id] = {
    ...taskState(failure, targets),
    ...retrier(failure.retry),
    // The run fails whether or not the report could be made; the report's own error is kept for the record.
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.report_error", Next: FAILED_STATE }],
    Next: FAILED_STATE,
  };
  states[SUCCEEDED_STATE] = { Type: "Succeed" };
  states[FAILED_STATE] = { Type: "Fail", Error: RUN_FAILED_ERROR, Cause: `a step of ${def.name} failed; see the run's ledger` };
  return {
    Comment: `${def.name} v${def.version} (sha256 ${definitionDigest(def)}): ${def.description}`,
    StartAt: def.steps[0]!.id,
    States: states,
  };
}
