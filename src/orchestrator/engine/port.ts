// The workflow engine port: start a run from a run request, decide a parked approval, cancel; one adapter per backend.
import type { Entry, EntryPayload, NewEntry, RunStatus } from "../ledger/port.js";
import type { RunRequest, RunRequestSink } from "../run-request.js";

export const DecisionKind = ["approved", "rejected", "changes_requested"] as const;

/** A human decision on a run waiting at an approval step (forge review, slash command or signed API call). */
export interface Decision {
  readonly decision: (typeof DecisionKind)[number];
  /** Login (or account id) of the person who decided. */
  readonly by: string;
  readonly via: "review" | "slash_command" | "api";
  readonly reason?: string;
  /**
   * The approval checklist item decided (`approve plan`); the run resumes once every item is
   * approved. Without one, an approval approves every remaining item (a forge review approval).
   */
  readonly item?: string;
}

/** The ledger entry recording a decision on approval step `step` (both engines write the same one). */
export function decisionEntry(step: string, d: Decision): NewEntry<"decision"> {
  return {
    type: "decision",
    payload: { decision: d.decision, by: d.by, via: d.via, step, ...(d.item ? { item: d.item } : {}), ...(d.reason ? { reason: d.reason } : {}) },
  };
}

/** The decision a `decision` entry records: the reverse of decisionEntry. */
export function decisionOf(entry: Entry): Decision {
  const p = entry.payload as EntryPayload<"decision">;
  const reason = typeof p.reason === "string" ? p.reason : undefined;
  return { decision: p.decision, by: p.by, via: p.via as Decision["via"], ...(p.item ? { item: p.item } : {}), ...(reason ? { reason } : {}) };
}

/** The approval step's output once its last item is approved: who gave the final approval, and the checklist it completed. */
export function approvalOutput(d: Decision, checklist: readonly string[]): { decision: string; by: string; via: string; checklist: string[] } {
  return { decision: d.decision, by: d.by, via: d.via, checklist: [...checklist] };
}

/** The cause an approval step fails with on a rejection. */
export function rejectionCause(d: Decision): string {
  return `rejected by ${d.by} via ${d.via}${d.item ? ` (${d.item})` : ""}${d.reason ? `: ${d.reason}` : ""}`;
}

/** The reason a cancelled run records (both engines write the same one). */
export function cancelReason(by: { readonly by: string; readonly reason?: string }): string {
  return `cancelled by ${by.by}${by.reason ? `: ${by.reason}` : ""}`;
}

export interface StartResult {
  readonly runId: string;
  /** False when a run with the same idempotency key already existed: nothing was started. */
  readonly created: boolean;
}

export interface WorkflowEngine {
  readonly backend: "embedded" | "step-functions";
  /**
   * Starts a run for the request; the same idempotency key always yields the same single run. The
   * request is typed data its producer validated (triggers, slash commands, the API): engines do
   * not parse it again.
   */
  start(request: RunRequest): Promise<StartResult>;
  /**
   * Applies a decision to a run parked at an approval step: `approved` resumes it once every
   * checklist item is approved (see `item`), `rejected`
   * fails the step with Approval.Rejected (the definition's catch decides what follows),
   * `changes_requested` is recorded and the run keeps waiting.
   */
  decide(runId: string, decision: Decision): Promise<void>;
  /** Stops a run that has not ended; its in-flight activity is aborted and its result discarded. */
  cancel(runId: string, by: { readonly by: string; readonly reason?: string }): Promise<void>;
  /** Status as the engine sees it, or undefined for a run it does not know. */
  status(runId: string): Promise<RunStatus | undefined>;
  /** Stops taking work, waits for in-flight attempts (aborting them after `graceMs`), releases leases. */
  stop(graceMs?: number): Promise<void>;
}

/** The run is unknown to the engine (HTTP 404 at the API). */
export class RunNotFoundError extends Error {
  constructor(readonly runId: string) {
    super(`no run ${runId}; check the id (orchestrator runs list)`);
    this.name = "RunNotFoundError";
  }
}

/** The run exists but cannot take this action now (HTTP 409 at the API). */
export class RunStateError extends Error {
  constructor(
    readonly runId: string,
    message: string,
  ) {
    super(`${runId}: ${message}`);
    this.name = "RunStateError";
  }
}

/**
 * Keeps the request in `store` (the intake's log), then starts its run. Both are idempotent by
 * key, so a crash between the two is repaired by the next delivery of the same trigger.
 */
export function startingSink(store: RunRequestSink, engine: WorkflowEngine): RunRequestSink {
  return {
    async submit(request) {
      const stored = await store.submit(request);
      await engine.start(request);
      return stored;
    },
  };
}

/** Lets triggers hand run requests straight to the engine: `created` for a new run, `existing` for a repeated key. */
export function engineSink(engine: WorkflowEngine): RunRequestSink {
  return {
    async submit(request) {
      const { runId, created } = await engine.start(request);
      return { status: created ? "created" : "existing", id: runId };
    },
  };
}
