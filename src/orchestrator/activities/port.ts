// The activity port: what a step runs, what it is given, and how it fails; the same code runs in both engines.
import { canonicalJson } from "../ledger/canonical.js";
import type { RunType } from "../ledger/port.js";
import { INVALID_OUTPUT_ERROR } from "../workflows/policy.js";
import type { DefinitionRef } from "../workflows/index.js";
import type { ActivityName } from "../workflows/schema.js";

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** What a run carries from step to step (the Step Functions execution input has the same shape). */
export interface RunState {
  readonly run: {
    readonly run_id: string;
    readonly run_type: RunType;
    /** Forge repository path, `owner/name` or `group/project`. */
    readonly repo: string;
    readonly forge: string;
    readonly subject: JsonObject;
    readonly requested_by: JsonObject;
    readonly trigger: string;
    /** Stop after this stage (then report), or null to run the whole workflow. */
    readonly stop_after: "plan" | "build" | "verify" | null;
    readonly jira_issue: string | null;
    readonly workflow: DefinitionRef & JsonObject;
  };
  /** Outputs of finished task and approval steps, by step id (agent steps leave artifacts instead). */
  readonly steps: Record<string, { readonly output: Json }>;
  /** Set when a step's error was caught: what the failure step reports. */
  readonly error?: { readonly Error: string; readonly Cause: string };
}

/** One attempt of one step. */
export interface ActivityCall {
  readonly runId: string;
  readonly stepId: string;
  readonly activity: ActivityName;
  /** 1 for the first attempt; a retry after a failure is the next number. A crash does not count: the same attempt resumes. */
  readonly attempt: number;
  /** `<run>/<step>/<attempt>`: record side effects under it, and look for it first. */
  readonly attemptKey: string;
  /** `<run>/<step>`: the same for every attempt, for effects that must happen once per step (a PR, a comment). */
  readonly stepKey: string;
  readonly state: RunState;
  /** Aborted on timeout, cancel or shutdown; long-running work must stop when it fires. */
  readonly signal: AbortSignal;
  /** Step Functions approvals only: the token a decision completes the step with. */
  readonly taskToken?: string;
}

/** The call for attempt `attempt` of `step`, with its idempotency keys; both engines build their calls here so the keys agree. */
export function activityCall(
  runId: string,
  step: { readonly id: string; readonly activity: ActivityName },
  attempt: number,
  state: RunState,
  signal: AbortSignal,
  taskToken?: string,
): ActivityCall {
  return {
    runId,
    stepId: step.id,
    activity: step.activity,
    attempt,
    attemptKey: `${runId}/${step.id}/${attempt}`,
    stepKey: `${runId}/${step.id}`,
    state,
    signal,
    ...(taskToken ? { taskToken } : {}),
  };
}

/**
 * An activity is idempotent per (run, step, attempt key): it first looks for what it already
 * did (a branch, a PR, a comment, a ledger entry) and returns that instead of doing it twice.
 */
export type Activity = (call: ActivityCall) => Promise<JsonObject>;

/**
 * A failure with an ASL error name (`Forge.RateLimited`, `Gate.Failed`), which the definition's
 * retry and catch lists match against. Any other thrown error counts as `Activity.Failed`.
 */
export class ActivityError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = errorName;
  }
}

/**
 * An activity's output as the ledger records it (RFC 8785 JSON, read back): the step's entry, the
 * state the next step is handed and the stored state are then one value, however the activity
 * built it (Dates, Maps, undefined fields, an object it goes on changing). Output the ledger would
 * refuse (BigInt, NaN, cycles, lone surrogates, not an object) fails the step with
 * Activity.InvalidOutput, in both engines, so the definition's catch reports it.
 */
export function recordableOutput(output: JsonObject | undefined): JsonObject {
  const invalid = (why: string) => new ActivityError(INVALID_OUTPUT_ERROR, `the step's output ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(canonicalJson(output ?? {}));
  } catch (err) {
    throw invalid(`is not JSON the ledger can record: ${errorMessageOf(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid(`must be a JSON object, not ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  return value as JsonObject;
}

/** The error name a thrown value is matched under. */
export function errorNameOf(err: unknown): string {
  if (err instanceof ActivityError) return err.errorName;
  return "Activity.Failed";
}

export function errorMessageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    // Thrown values need not convert to a string (an object with no prototype, a throwing toString).
    return `a thrown ${Object.prototype.toString.call(err).slice(8, -1)} that does not convert to text`;
  }
}

/** Raised by an activity whose real implementation is not part of this build. Not retryable. */
export const UNAVAILABLE_ERROR = "Activity.Unavailable";

/** Raised when a human rejects at an approval step; definitions catch it like any other error. */
export const REJECTED_ERROR = "Approval.Rejected";
