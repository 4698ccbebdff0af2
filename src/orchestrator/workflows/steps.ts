// The steps the run types are built from, with their retry policies: the same kind of step behaves the same way in every workflow.
import type { RetryPolicy, WorkflowInput } from "./schema.js";

/**
 * An agent task that failed is worth one more try; a timeout is not (it would time out again).
 * On AWS a failed ECS task surfaces only as States.TaskFailed (the container's exit code), so
 * the embedded engine matches the same wildcard: every agent error but a timeout.
 */
const agentRetry: RetryPolicy = {
  max_attempts: 2,
  backoff: { initial_seconds: 30, rate: 2, max_seconds: 300 },
  retryable_errors: ["States.TaskFailed"],
};

/** Gates are deterministic: only the machinery around them (runner lost, timeout) is retried. */
const gateRetry: RetryPolicy = {
  max_attempts: 2,
  backoff: { initial_seconds: 10, rate: 2, max_seconds: 60 },
  retryable_errors: ["Gate.RunnerLost"],
};

/** Forge and tracker calls hit rate limits and brief outages; each attempt first checks what it already did. */
const forgeRetry: RetryPolicy = {
  max_attempts: 5,
  backoff: { initial_seconds: 5, rate: 2, max_seconds: 300 },
  retryable_errors: ["Forge.RateLimited", "Forge.Unavailable", "Tracker.Unavailable", "States.Timeout"],
};

/** Step timeouts, in seconds. */
const minutes = (n: number): number => n * 60;
const days = (n: number): number => n * 86_400;

type Step = WorkflowInput["steps"][number];

/** Each kind of step; the agent and gate steps take their timeout in minutes, as run types differ there. */
export const step = {
  plan: (timeoutMinutes: number): Step => ({ id: "plan", activity: "plan", timeout_seconds: minutes(timeoutMinutes), retry: agentRetry }),
  build: (timeoutMinutes: number): Step => ({ id: "build", activity: "build", timeout_seconds: minutes(timeoutMinutes), retry: agentRetry }),
  verify: (timeoutMinutes: number): Step => ({ id: "verify", activity: "verify", timeout_seconds: minutes(timeoutMinutes), retry: gateRetry }),
  publish: { id: "publish", activity: "publish", timeout_seconds: minutes(10), retry: forgeRetry } satisfies Step,
  /** Humans have three weeks; then the run ends with a timeout and its failure report. */
  awaitApprovals: { id: "await_approvals", activity: "await_approvals", timeout_seconds: days(21) } satisfies Step,
  report: { id: "report", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry } satisfies Step,
};

/** Every run type's failure step: the report, saying why the run failed. */
export const reportFailure: WorkflowInput["on_failure"] = { ...step.report, id: "report_failure" };

/**
 * plan → build → verify → publish → await_approvals → report, failures reported: the shape of every
 * run type that proposes a change for humans to approve. Only the agent and gate timeouts differ.
 */
export function proposeChange(timeoutMinutes: { plan: number; build: number; verify: number }): Pick<WorkflowInput, "steps" | "on_failure"> {
  return {
    steps: [step.plan(timeoutMinutes.plan), step.build(timeoutMinutes.build), step.verify(timeoutMinutes.verify), step.publish, step.awaitApprovals, step.report],
    on_failure: reportFailure,
  };
}
