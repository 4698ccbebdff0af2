// Compiles a workflow definition to an Amazon States Language state machine (JSONPath mode) for AWS Step Functions.
import { activityKinds, runsInContainer, type ActivityName, type FailureStep, type RetryPolicy, type StepDefinition, type WorkflowDefinition } from "../workflows/schema.js";
import { definitionDigest } from "../workflows/index.js";
import { stopTarget, stoppableActivities } from "../workflows/run-state.js";

/** Where the compiled machine sends work. Values come from the `engine` settings, or are placeholders. */
export interface AslTargets {
  /** The one activity-dispatcher Lambda (src/lambda.ts) every step invokes that does not run in a container. */
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

/** How a step's Task reaches its activity on AWS. */
export type Integration = "container" | "lambda" | "lambda-callback";

export function integrationOf(activity: ActivityName): Integration {
  if (runsInContainer(activity)) return "container";
  return activityKinds[activity] === "approval" ? "lambda-callback" : "lambda";
}

/** Lambda stops an invocation after 15 minutes, whatever the Task's TimeoutSeconds says. */
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * The Lambda step that may run longest, which the activity Lambda's own timeout must cover. Approval
 * steps are left out: their timeout is the wait for a human, while their Lambda call only posts the checklist.
 */
export function longestLambdaStep(defs: readonly WorkflowDefinition[]): { workflow: string; step: string; timeoutSeconds: number } | undefined {
  let longest: { workflow: string; step: string; timeoutSeconds: number } | undefined;
  for (const def of defs)
    for (const step of [...def.steps, def.on_failure])
      if (integrationOf(step.activity) === "lambda" && step.timeout_seconds > (longest?.timeoutSeconds ?? 0))
        longest = { workflow: def.name, step: step.id, timeoutSeconds: step.timeout_seconds };
  return longest;
}

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
    "state.$": "$",
    ...extra,
  };
}

/**
 * Lambda's own transient failures (throttling, a service hiccup) are not the activity's: AWS
 * recommends retrying them on every Lambda Task, with backoff and jitter, so they neither fail
 * the run nor use up the definition's attempts. First in the list, since the first match applies.
 */
export const lambdaServiceRetrier: AslState = {
  ErrorEquals: ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
  IntervalSeconds: 2,
  MaxAttempts: 6,
  BackoffRate: 2,
  JitterStrategy: "FULL",
};

function retriers(step: StepDefinition | FailureStep): AslState {
  const policy: RetryPolicy | undefined = step.retry;
  const list: AslState[] = integrationOf(step.activity) === "container" ? [] : [lambdaServiceRetrier];
  // MaxAttempts 0 would mean "never"; leave the definition's retrier out instead.
  if (policy && policy.max_attempts > 1)
    list.push({
      ErrorEquals: [...policy.retryable_errors],
      IntervalSeconds: policy.backoff.initial_seconds,
      BackoffRate: policy.backoff.rate,
      MaxAttempts: policy.max_attempts - 1,
      MaxDelaySeconds: policy.backoff.max_seconds,
      JitterStrategy: "NONE",
    });
  return list.length > 0 ? { Retry: list } : {};
}

function taskInputLocation(prefix: string, stepId: string): string {
  if (/[{}'\\]/.test(prefix.replace(/^\$\{\w+\}$/, "")))
    throw new Error(`task input prefix ${JSON.stringify(prefix)} must not contain { } ' or \\ (it is embedded in States.Format)`);
  return `States.Format('${prefix.replace(/\/+$/, "")}/runs/{}/steps/${stepId}/input.json', $$.Execution.Name)`;
}

function taskState(def: WorkflowDefinition, step: StepDefinition | FailureStep, targets: AslTargets): AslState {
  const integration = integrationOf(step.activity);
  if (integration === "container") {
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
                // RetryCount is 0 on the first attempt; attempts count from 1, as in the embedded engine and the dispatcher.
                { Name: "ORCHESTRATOR_ATTEMPT", "Value.$": "States.JsonToString(States.MathAdd($$.State.RetryCount, 1))" },
                { Name: "ORCHESTRATOR_TASK_INPUT", "Value.$": taskInputLocation(targets.taskInputPrefix, step.id) },
              ],
            },
          ],
        },
      },
      // An agent's or gate's output is its artifacts (content-addressed, in the ledger), not the ECS task description.
      ResultPath: null,
      TimeoutSeconds: step.timeout_seconds,
    };
  }
  if (integration === "lambda-callback") {
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
  if (step.timeout_seconds > LAMBDA_MAX_TIMEOUT_SECONDS)
    throw new Error(
      `${def.name}: step ${step.id} (${step.activity}) has timeout_seconds ${step.timeout_seconds}, but it runs in the activity Lambda, which AWS stops after ${LAMBDA_MAX_TIMEOUT_SECONDS} s; lower it to ${LAMBDA_MAX_TIMEOUT_SECONDS} or less`,
    );
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
      ...taskState(def, step, targets),
      ...retriers(step),
      Catch: [{ ErrorEquals: [...step.catch], ResultPath: "$.error", Next: failure.id }],
      Next: next,
    };
  });
  states[failure.id] = {
    ...taskState(def, failure, targets),
    ...retriers(failure),
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
