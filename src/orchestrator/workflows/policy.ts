// What happens after a step attempt fails, with Amazon States Language semantics, so both engines decide alike.
import type { RetryPolicy } from "./schema.js";

/** The error a step attempt fails with when it runs past `timeout_seconds`. */
export const TIMEOUT_ERROR = "States.Timeout";

/** An activity returned output the ledger cannot record. */
export const INVALID_OUTPUT_ERROR = "Activity.InvalidOutput";
/** A step result the ledger refused to record. */
export const RECORD_FAILED_ERROR = "Engine.RecordFailed";

/**
 * Errors no retry policy matches, whatever it lists (States.ALL, States.TaskFailed): trying again
 * would end the same way. Like States.Runtime in ASL, but the definition's catch still applies,
 * so the failure report runs.
 */
const FINAL_ERRORS: ReadonlySet<string> = new Set([INVALID_OUTPUT_ERROR, RECORD_FAILED_ERROR]);

/** ASL matching: a name matches itself; States.ALL matches anything; States.TaskFailed anything but a timeout. */
export function errorMatches(patterns: readonly string[], errorName: string): boolean {
  return patterns.some(
    (p) => p === errorName || p === "States.ALL" || (p === "States.TaskFailed" && errorName !== TIMEOUT_ERROR),
  );
}

/** Seconds to wait before retry number `retry` (1 = the first retry): IntervalSeconds × BackoffRate^(retry-1), capped. */
export function retryDelaySeconds(policy: RetryPolicy, retry: number): number {
  const { initial_seconds, rate, max_seconds } = policy.backoff;
  return Math.min(initial_seconds * rate ** (retry - 1), max_seconds);
}

export type AfterFailure =
  | { readonly action: "retry"; readonly delaySeconds: number }
  | { readonly action: "catch" }
  | { readonly action: "fail" };

/** After attempt `attempt` (1-based) failed with `errorName`: retry, go to the failure step, or fail the run. */
export function afterFailure(
  step: { readonly retry?: RetryPolicy; readonly catch?: readonly string[] },
  attempt: number,
  errorName: string,
): AfterFailure {
  const retry = step.retry;
  if (retry && attempt < retry.max_attempts && !FINAL_ERRORS.has(errorName) && errorMatches(retry.retryable_errors, errorName))
    return { action: "retry", delaySeconds: retryDelaySeconds(retry, attempt) };
  if (step.catch && errorMatches(step.catch, errorName)) return { action: "catch" };
  return { action: "fail" };
}
