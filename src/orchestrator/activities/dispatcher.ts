// Runs one activity for a Step Functions task (the Lambda's job) and records its transition in the ledger, once.
import { z } from "zod";
import { LedgerConflictError, terminalStatuses, type Entry, type Ledger, type NewEntry, type RunStatus } from "../ledger/port.js";
import { currentStatus } from "../ledger/projection.js";
import { builtinCatalog, WorkflowCatalog } from "../workflows/index.js";
import { afterFailure } from "../workflows/policy.js";
import { approvalChecklist } from "../workflows/approvals.js";
import { failureReason, isFailureStep, nextStepId, stepById } from "../workflows/run-state.js";
import { ActivityName, runsInContainer } from "../workflows/schema.js";
import { ActivityError, activityCall, errorMessageOf, errorNameOf, recordableOutput, type JsonObject, type RunState } from "./port.js";
import type { ActivityRegistry } from "./registry.js";

/** What the compiled state machine sends (see engine/asl.ts `dispatcherPayload`). */
export const DispatchEvent = z.object({
  run_id: z.string().min(1),
  step: z.string().min(1),
  activity: ActivityName,
  state: z.looseObject({ run: z.looseObject({ run_id: z.string(), workflow: z.looseObject({ name: z.string(), version: z.number().int() }) }) }),
  /** Present for approval steps (`.waitForTaskToken`). */
  task_token: z.string().min(1).optional(),
});
export type DispatchEvent = z.infer<typeof DispatchEvent>;

/** The event was not one the state machine sends; not retryable, so the run's catch reports it. */
export const BAD_EVENT_ERROR = "Dispatch.BadEvent";

/** The run ended (succeeded, failed or cancelled) before this call could record anything. */
const RUN_ENDED_ERROR = "Run.Ended";

/**
 * Raised instead of appending to a run that has ended: a late writer (a Lambda still running when
 * the run was cancelled, a decision racing the last step) must not move an ended run back.
 */
export class RunEndedError extends ActivityError {
  constructor(
    readonly runId: string,
    readonly status: RunStatus,
  ) {
    super(RUN_ENDED_ERROR, `run ${runId} has already ended (${status}); nothing more is recorded for it`);
  }
}

export interface DispatcherDeps {
  readonly activities: ActivityRegistry;
  readonly ledger: Ledger;
  readonly catalog?: WorkflowCatalog;
}

export type Dispatch = (event: unknown, signal?: AbortSignal) => Promise<JsonObject>;

/**
 * Builds the dispatcher: parse the event, run the activity under its (run, step, attempt)
 * keys, and append step_started / step_finished / step_failed / approval_requested /
 * status_changed, each at most once even when Lambda or Step Functions repeats the call.
 * A failure is rethrown under its error name, which Step Functions matches against Retry/Catch.
 */
export function createDispatcher(deps: DispatcherDeps): Dispatch {
  const catalog = deps.catalog ?? builtinCatalog();
  return async (raw, signal = new AbortController().signal) => {
    const parsed = DispatchEvent.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ActivityError(BAD_EVENT_ERROR, `dispatcher event: ${i?.path.join(".") || "(event)"} ${i?.message ?? "is invalid"}`);
    }
    const event = parsed.data;
    const state = event.state as unknown as RunState;
    // The execution runs the definition it started with; so does the Lambda, even after a newer version is deployed.
    const { name, version } = state.run.workflow;
    const def = catalog.at(name, version);
    if (!def) {
      const latest = catalog.named(name);
      throw new ActivityError(BAD_EVENT_ERROR, `dispatcher event: ${name} v${version} is not in this build${latest ? ` (it has v${latest.version}; keep v${version} in the catalogue while its executions run)` : ""}`);
    }
    const step = stepById(def, event.step);
    if (!step || step.activity !== event.activity)
      throw new ActivityError(BAD_EVENT_ERROR, `dispatcher event: ${name} has no step ${event.step} running ${event.activity}`);
    // A machine deployed before the step moved to a container would run it here until Lambda kills it at 15 minutes.
    if (runsInContainer(step.activity))
      throw new ActivityError(BAD_EVENT_ERROR, `dispatcher event: ${event.activity} runs in a container task, not in the activity Lambda; redeploy the state machines (orchestrator workflows deploy)`);
    const record = recorder(deps.ledger, event.run_id);
    // Both read from the entries the start is appended against: one ledger read.
    let attempt = 1;
    let finished: JsonObject | undefined;
    try {
      await record((existing) => {
        attempt = attemptOf(existing, step.id);
        finished = finishedOutput(existing, step.id);
        return [{ type: "status_changed", payload: { to: "running" } }, { type: "step_started", payload: { step: step.id, attempt } }];
      });
    } catch (err) {
      // A repeated call of a step that finished the run (the answer lost, a Lambda service error after the
      // work) gets that step's result again; anything else is not run.
      if (err instanceof RunEndedError && finished) return finished;
      throw err;
    }
    let output: JsonObject;
    try {
      output = recordableOutput(await deps.activities.get(step.activity)(activityCall(event.run_id, step, attempt, state, signal, event.task_token)));
    } catch (err) {
      const error = errorNameOf(err);
      const message = errorMessageOf(err);
      const after: NewEntry[] = [{ type: "step_failed", payload: { step: step.id, attempt, error, message } }];
      const next = afterFailure(isFailureStep(def, step.id) ? { retry: step.retry } : step, attempt, error);
      if (next.action !== "retry" && (isFailureStep(def, step.id) || next.action === "fail"))
        after.push({ type: "status_changed", payload: { to: "failed", reason: `${step.id} failed: ${error}: ${message}` } });
      await record(after);
      throw new ActivityError(error, message);
    }
    if (event.task_token) {
      // The decision arrives later through the engine's decide(), which finds this token here.
      await record([
        { type: "approval_requested", payload: { step: step.id, attempt, checklist: approvalChecklist(output), task_token: event.task_token } },
        { type: "status_changed", payload: { to: "awaiting_human" } },
      ]);
      return output;
    }
    const after: NewEntry[] = [{ type: "step_finished", payload: { step: step.id, attempt, output } }];
    if (isFailureStep(def, step.id)) after.push(failedStatus(state));
    else if (nextStepId(def, step.id, state.run.stop_after) === null) after.push({ type: "status_changed", payload: { to: "succeeded" } });
    await record(after);
    return output;
  };
}

/**
 * The attempt a call makes: one more than the step's failed attempts in the ledger. Step
 * Functions' RetryCount would also count retries of Lambda service errors (throttling), which
 * the definition's retry budget does not, and the dispatcher would then end a run Step
 * Functions still retries. A call repeated before its attempt ended (a Lambda retry, a
 * timeout) is the same attempt, under the same attempt key.
 */
function attemptOf(entries: readonly Entry[], step: string): number {
  return 1 + entries.filter((e) => e.type === "step_failed" && e.payload.step === step).length;
}

/** The output the step recorded when it finished, whichever attempt it was. */
function finishedOutput(entries: readonly Entry[], step: string): JsonObject | undefined {
  const done = entries.findLast((e) => e.type === "step_finished" && e.payload.step === step);
  const output = done?.payload.output;
  return output && typeof output === "object" && !Array.isArray(output) ? (output as JsonObject) : undefined;
}

function failedStatus(state: RunState): NewEntry {
  return { type: "status_changed", payload: { to: "failed", reason: failureReason(state) } };
}

/** Same type and step/attempt/status: the entry a repeated call would add again. */
function sameEntry(a: Entry, b: NewEntry): boolean {
  if (a.type !== b.type) return false;
  const p = b.payload as Record<string, unknown>;
  return a.payload.step === p.step && a.payload.attempt === p.attempt && a.payload.to === p.to;
}

/** What to append: fixed entries, or entries chosen from the run's entries as read (re-read after a conflict). */
type Appending = readonly NewEntry[] | ((existing: readonly Entry[]) => readonly NewEntry[]);

/**
 * Appends entries the run does not have yet, at the head, retrying when another writer moved the
 * head first. Throws RunEndedError rather than append to a run that has ended.
 */
export function recorder(ledger: Ledger, runId: string): (entries: Appending, known?: readonly Entry[]) => Promise<void> {
  /** `known`: the run's entries as the caller just read them, used for the first try instead of a second read. */
  return async (entries, known) => {
    for (let tries = 0; tries < 5; tries++) {
      const existing = tries === 0 && known ? known : await ledger.entries(runId);
      if (existing.length === 0) throw new ActivityError(BAD_EVENT_ERROR, `run ${runId} is not in the ledger; start runs through the engine`);
      // A status is only "already recorded" if it is the current one; steps/attempts are unique.
      const current = currentStatus(existing);
      const wanted = typeof entries === "function" ? entries(existing) : entries;
      const missing = wanted.filter((e) =>
        e.type === "status_changed" ? (e.payload as { to: string }).to !== current : !existing.some((x) => sameEntry(x, e)),
      );
      if (missing.length === 0) return;
      if (terminalStatuses.includes(current)) throw new RunEndedError(runId, current);
      try {
        await ledger.append([{ runId, expectedSeq: existing.length, entries: missing }]);
        return;
      } catch (err) {
        if (!(err instanceof LedgerConflictError)) throw err;
      }
    }
    throw new ActivityError("Ledger.Busy", `could not append to ${runId}'s ledger after 5 tries; Step Functions will retry the step`);
  };
}
