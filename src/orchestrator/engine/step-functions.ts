// The AWS Step Functions backend: runs are Standard executions of the compiled definitions, named by run id.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { REJECTED_ERROR } from "../activities/port.js";
import { recorder, RunEndedError } from "../activities/dispatcher.js";
import { currentStatus } from "../ledger/projection.js";
import { LedgerConflictError, terminalStatuses, type Entry, type EntryPayload, type Ledger, type NewEntry, type RunStatus, type RunType } from "../ledger/port.js";
import type { RunRequest } from "../run-request.js";
import { builtinCatalog, WorkflowCatalog } from "../workflows/index.js";
import { approvalProgress, decisionEffect, type ApprovalProgress } from "../workflows/approvals.js";
import { initialState, runCreatedEntry } from "../workflows/run-state.js";
import type { WorkflowDefinition } from "../workflows/schema.js";
import { approvalOutput, cancelReason, decisionEntry, decisionOf, rejectionCause, RunNotFoundError, RunStateError, type Decision, type StartResult, type WorkflowEngine } from "./port.js";

/** Where the state machines live: `arn:aws:states:<region>:<account>:stateMachine:<prefix><Name>`. */
export interface StateMachineNaming {
  readonly region: string;
  readonly accountId: string;
  /** Prepended to each workflow name, e.g. `scintilla-` → `scintilla-ImplementationRun`. */
  readonly prefix: string;
}

export function stateMachineName(naming: StateMachineNaming, def: WorkflowDefinition): string {
  return `${naming.prefix}${def.name}`;
}

export function stateMachineArn(naming: StateMachineNaming, def: WorkflowDefinition): string {
  return `arn:aws:states:${naming.region}:${naming.accountId}:stateMachine:${stateMachineName(naming, def)}`;
}

export function executionArn(naming: StateMachineNaming, def: WorkflowDefinition, runId: string): string {
  return `arn:aws:states:${naming.region}:${naming.accountId}:execution:${stateMachineName(naming, def)}:${runId}`;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The run id for an idempotency key: `run_` + 26 Crockford base32 digits of the key's sha256
 * (128 bits, a valid ULID). The ledger's conditional create and StartExecution's unique name
 * then both refuse a second run for the same key, with no extra table. Unlike embedded run ids
 * these do not sort by time; listings order by created_at.
 */
export function runIdForKey(key: string): string {
  const bytes = createHash("sha256").update(key).digest().subarray(0, 16);
  let n = BigInt(`0x${bytes.toString("hex")}`);
  let out = "";
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(n & 31n)]! + out;
    n >>= 5n;
  }
  return `run_${out}`;
}

export interface StepFunctionsEngineOptions {
  readonly sfn: SFNClient;
  /** The shared ledger (DynamoDB in production): runs, approval tokens, transitions. */
  readonly ledger: Ledger;
  readonly naming: StateMachineNaming;
  readonly policyVersion: string;
  readonly catalog?: WorkflowCatalog;
  readonly logger?: Logger;
}

export class StepFunctionsEngine implements WorkflowEngine {
  readonly backend = "step-functions" as const;
  private readonly catalog: WorkflowCatalog;

  constructor(private readonly opts: StepFunctionsEngineOptions) {
    this.catalog = opts.catalog ?? builtinCatalog();
  }

  /** `request` is typed data its producer validated (triggers, slash commands, the API), as for the embedded engine. */
  async start(request: RunRequest): Promise<StartResult> {
    const def = this.catalog.forRunType(request.run_type);
    const runId = runIdForKey(request.idempotency_key);
    let created = true;
    try {
      await this.opts.ledger.append([{ runId, expectedSeq: 0, entries: [runCreatedEntry(request, def, this.opts.policyVersion)] }]);
    } catch (err) {
      if (!(err instanceof LedgerConflictError)) throw err;
      created = false;
    }
    // A run that has moved on from `queued` is running or has ended: starting an execution now could
    // revive a cancelled run whose execution never existed (a throttled first StartExecution).
    if (!created && (await this.opts.ledger.run(runId))?.status !== "queued") return { runId, created };
    // Otherwise always attempted: a start that died between the ledger and Step Functions is completed by the retry.
    // The same name with the same input is accepted again by Step Functions; the input is derived from the request.
    try {
      await this.opts.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: stateMachineArn(this.opts.naming, def),
          name: runId,
          input: JSON.stringify(initialState(runId, request, def)),
        }),
      );
    } catch (err) {
      if (!(err instanceof ExecutionAlreadyExists)) throw err;
    }
    return { runId, created };
  }

  async decide(runId: string, decision: Decision): Promise<void> {
    // The decision is appended conditionally on the entries read, so two decisions arriving
    // together cannot both miss each other; only the one completing the checklist resumes the run.
    for (let tries = 1; ; tries++) {
      const entries = await this.opts.ledger.entries(runId);
      if (entries.length === 0) throw new RunNotFoundError(runId);
      const progress = approvalProgress(entries);
      if (!progress?.open || !progress.taskToken) throw new RunStateError(runId, "is not waiting for a decision");
      const effect = decisionEffect(progress, decision);
      if (effect.effect === "invalid") throw new RunStateError(runId, effect.reason);
      // The ledger already holds the outcome but the step still waits: sending it to Step Functions
      // failed (throttling, an outage). That outcome stands; any later decision sends it again.
      const settled = settledOutcome(progress);
      if (settled && decision.decision !== (settled.approved ? "approved" : "rejected")) {
        await this.answer(runId, settled.decision, progress, settled.approved);
        throw new RunStateError(runId, `its approval was already ${settled.approved ? "given" : "rejected"} (${settled.decision.by}); that outcome was sent again, and this decision changes nothing`);
      }
      try {
        await this.opts.ledger.append([{ runId, expectedSeq: entries.length, entries: [decisionEntry(progress.step, decision)] }]);
      } catch (err) {
        if (err instanceof LedgerConflictError && tries < 5) continue;
        throw err;
      }
      if (settled) return this.answer(runId, settled.decision, progress, settled.approved);
      if (effect.effect === "wait") return;
      return this.answer(runId, decision, progress, effect.effect === "resume");
    }
  }

  /** Completes the approval task: success once every item is approved, failure on a rejection. */
  private async answer(runId: string, decision: Decision, progress: ApprovalProgress, approved: boolean): Promise<void> {
    const { step, attempt } = progress;
    const cause = rejectionCause(decision);
    try {
      if (approved) {
        await this.opts.sfn.send(new SendTaskSuccessCommand({ taskToken: progress.taskToken, output: JSON.stringify(approvalOutput(decision, progress.checklist)) }));
      } else {
        await this.opts.sfn.send(new SendTaskFailureCommand({ taskToken: progress.taskToken, error: REJECTED_ERROR, cause }));
      }
    } catch (err) {
      if (err instanceof TaskTimedOut || err instanceof TaskDoesNotExist || err instanceof InvalidToken)
        throw new RunStateError(runId, `its approval step no longer waits (${err.name}); the run has moved on or timed out`);
      throw err;
    }
    const outcome: NewEntry = approved
      ? { type: "step_finished", payload: { step, attempt } }
      : { type: "step_failed", payload: { step, attempt, error: REJECTED_ERROR, message: cause } };
    // Step Functions moves on at once: the next step may have started (or ended the run) before this is recorded.
    try {
      await recorder(this.opts.ledger, runId)((existing) => (laterStepSeen(existing, step) ? [outcome] : [outcome, { type: "status_changed", payload: { to: "running" } }]));
    } catch (err) {
      if (!(err instanceof RunEndedError)) throw err;
    }
  }

  async cancel(runId: string, by: { by: string; reason?: string }): Promise<void> {
    const run = await this.opts.ledger.run(runId);
    if (!run) throw new RunNotFoundError(runId);
    if (terminalStatuses.includes(run.status)) throw new RunStateError(runId, `has already ended (${run.status}); nothing to cancel`);
    const def = this.catalog.forRunType(run.run_type);
    const reason = cancelReason(by);
    try {
      await this.opts.sfn.send(new StopExecutionCommand({ executionArn: executionArn(this.opts.naming, def, runId), error: "Run.Cancelled", cause: reason }));
    } catch (err) {
      if (!(err instanceof ExecutionDoesNotExist)) throw err;
    }
    try {
      await recorder(this.opts.ledger, runId)([{ type: "status_changed", payload: { to: "cancelled", reason } }]);
    } catch (err) {
      if (err instanceof RunEndedError) throw new RunStateError(runId, `has already ended (${err.status}); nothing to cancel`);
      throw err;
    }
  }

  /**
   * The ledger's status, brought up to date with the execution when the ledger has not seen the run
   * end: an execution that ended is recorded as ended, a queued run whose execution runs as running.
   * Asking Step Functions is a courtesy: when it fails (throttling, no states:DescribeExecution
   * permission), the ledger's status is the answer, so callers that just acted still get a reply.
   */
  async status(runId: string): Promise<RunStatus | undefined> {
    // One read of the entries serves the status, the run type and the append's first try.
    const entries = await this.opts.ledger.entries(runId);
    if (entries.length === 0) return undefined;
    const ledgerStatus = currentStatus(entries);
    if (terminalStatuses.includes(ledgerStatus)) return ledgerStatus;
    let seen: NewEntry<"status_changed"> | undefined;
    try {
      seen = await this.executionStatus(runId, (entries[0]!.payload as EntryPayload<"run_created">).run_type, ledgerStatus);
    } catch (err) {
      this.opts.logger?.warn({ err, run_id: runId }, "step functions: could not describe the run's execution; answering with the ledger's status");
      return ledgerStatus;
    }
    if (!seen) return ledgerStatus;
    const to = seen.payload.to;
    let status: RunStatus = to;
    try {
      // Conditional on what is read when appending: a step that recorded its own status meanwhile
      // (awaiting_human, say) is not set back to running.
      await recorder(this.opts.ledger, runId)((existing) => {
        const current = currentStatus(existing);
        status = to === "running" && current !== "queued" ? current : to;
        return status === to ? [seen] : [];
      }, entries);
      return status;
    } catch (err) {
      // Another writer ended it first; its status stands.
      if (err instanceof RunEndedError) return err.status;
      throw err;
    }
  }

  /**
   * What the execution says that the ledger does not: that it ended, or that a run still `queued`
   * is running (its first steps run in containers, which record nothing in the ledger themselves).
   */
  private async executionStatus(runId: string, runType: RunType, ledgerStatus: RunStatus): Promise<NewEntry<"status_changed"> | undefined> {
    const def = this.catalog.forRunType(runType);
    let out;
    try {
      out = await this.opts.sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(this.opts.naming, def, runId) }));
    } catch (err) {
      if (err instanceof ExecutionDoesNotExist) return undefined;
      throw err;
    }
    if (out.status === "RUNNING" && ledgerStatus === "queued") return { type: "status_changed", payload: { to: "running" } };
    const to = out.status ? executionOutcome[out.status] : undefined;
    if (!to) return undefined;
    const detail = [out.error, out.cause].filter(Boolean).join(": ");
    const reason = `the Step Functions execution ended ${out.status}${detail ? `: ${detail}` : ""}`;
    return { type: "status_changed", payload: { to, reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason } };
  }

  async stop(): Promise<void> {
    // Executions run in AWS; nothing is held in this process.
  }
}

/** The run status an ended execution stands for; RUNNING and PENDING_REDRIVE have not ended. */
const executionOutcome: Partial<Record<string, RunStatus>> = { SUCCEEDED: "succeeded", FAILED: "failed", TIMED_OUT: "failed", ABORTED: "cancelled" };

/** An execution's cause can be 32 KB (a task's whole description); the reason keeps its start. */
const MAX_REASON = 2_000;

/** Whether another step has started since approval step `step` asked for its decision. */
function laterStepSeen(entries: readonly Entry[], step: string): boolean {
  const asked = entries.findLastIndex((e) => e.type === "approval_requested" && e.payload.step === step);
  return entries.slice(asked + 1).some((e) => (e.type === "step_started" || e.type === "step_finished" || e.type === "step_failed") && e.payload.step !== step);
}

/** The outcome the ledger already holds for the approval, as the decision that settled it. */
function settledOutcome(progress: ApprovalProgress): { approved: boolean; decision: Decision } | undefined {
  return progress.settled && { approved: progress.settled.approved, decision: decisionOf(progress.settled.decision) };
}
