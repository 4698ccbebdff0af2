// RunControl over the workflow engine and the run ledger: slash commands approve, reject, cancel and retry a subject's runs.
import type { EventRepo, EventSubject } from "../events/schema.js";
import { RunNotFoundError, RunStateError, type WorkflowEngine } from "./engine/port.js";
import { subjectKey, terminalStatuses, type Ledger, type RunSummary } from "./ledger/port.js";
import type { RunControl, RunControlTarget } from "./run-control.js";
import { RunRequest, type RunRequestSink } from "./run-request.js";
import type { ReviewDecision, RunControlCommand } from "./triggers/decide.js";
import { approvalProgress, type ApprovalProgress } from "./workflows/approvals.js";
import { ledgerSubjects } from "./workflows/run-state.js";

export interface EngineRunControlDeps {
  readonly engine: WorkflowEngine;
  readonly ledger: Pick<Ledger, "listRuns" | "run" | "entries">;
  /** The intake's run-request log: a retry is recorded there like any other request, then started. */
  readonly requests: RunRequestSink;
}

/** How many runs of one subject are looked at (newest first); older ones are not acted on by commands. */
const RUNS_PER_SUBJECT = 50;

/**
 * The runs about an issue, PR/MR or Jira issue, newest first: the ledger indexes runs by the
 * same subjects the engine records from their requests, so an event finds the runs it is about.
 */
export async function runsAbout(ledger: Pick<Ledger, "listRuns">, repo: EventRepo, subject: EventSubject): Promise<RunSummary[]> {
  const keys = ledgerSubjects({ repo, subject, jira_issue: null }).map(subjectKey);
  const seen = new Map<string, RunSummary>();
  for (const key of keys) for (const r of (await ledger.listRuns({ subject: key, limit: RUNS_PER_SUBJECT })).runs) seen.set(r.run_id, r);
  // Step Functions run ids derive from the idempotency key and do not sort by time; created_at does.
  return [...seen.values()].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.run_id.localeCompare(a.run_id));
}

export function engineRunControl(deps: EngineRunControlDeps): RunControl {
  return {
    async apply(command, target) {
      const where = subjectName(target.subject);
      if (ledgerSubjects({ repo: target.repo, subject: target.subject, jira_issue: null }).length === 0)
        return `\`/orchestrator ${command.name}\` acts on the run of an issue, PR/MR or Jira issue; this comment is not on one, so nothing was changed.`;
      const runs = await runsAbout(deps.ledger, target.repo, target.subject);
      const latest = runs[0];
      if (!latest) return `No run has been started for this ${where} yet, so there is nothing to ${command.name}.`;
      return explained(() => act(deps, command, target, runs, where));
    },
    async review(review, target) {
      // Reviews come on every PR/MR: one with no run waiting for approval is none of ours, and gets no reply.
      const run = (await runsAbout(deps.ledger, target.repo, target.subject)).find((r) => r.status === "awaiting_human");
      return run ? explained(() => applyReview(deps, review, target, run.run_id)) : null;
    },
  };
}

/** The reply for the engine's refusals (a run it does not know, a run no longer in that state). */
async function explained(fn: () => Promise<string>): Promise<string> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RunNotFoundError)
      return `Run \`${err.runId}\` is in the ledger but the workflow engine on this server does not know it (was it started by another deployment?), so nothing was changed.`;
    if (err instanceof RunStateError) return `Nothing was changed: run ${err.message}.`;
    throw err;
  }
}

/** Whether `login` may decide checklist `item`: listed in the repo config's approvers for it, or the list is empty. */
function mayDecide(approvers: RunControlTarget["approvers"], item: string, login: string): boolean {
  const listed = Object.hasOwn(approvers, item) ? approvers[item as keyof typeof approvers] : [];
  return listed.length === 0 || listed.some((l) => l.toLowerCase() === login.toLowerCase());
}

/** The approvers the repo config names for `item`, as mentions. */
function approversOf(approvers: RunControlTarget["approvers"], item: string): string {
  return approvers[item as keyof typeof approvers].map((l) => `@${l}`).join(", ");
}

function notApprover(approvers: RunControlTarget["approvers"], item: string, who: string): string {
  return `Sorry @${who}, only ${approversOf(approvers, item)} may decide **${item}** on this repository (\`approvers.${item}\` in the repo config), so nothing was changed.`;
}

/**
 * A review approval approves every open checklist item the reviewer may decide (all of them
 * unless the repo config names approvers); a change request is recorded and the run keeps waiting.
 */
async function applyReview(deps: EngineRunControlDeps, review: ReviewDecision, target: RunControlTarget, runId: string): Promise<string> {
  const who = target.actor.login;
  if (review.state === "changes_requested") {
    await deps.engine.decide(runId, { decision: "changes_requested", by: who, via: "review", ...(review.body ? { reason: review.body.slice(0, 500) } : {}) });
    return `@${who} requested changes: recorded on run \`${runId}\`, which keeps waiting for approval.`;
  }
  const progress = approvalProgress(await deps.ledger.entries(runId));
  const remaining = progress?.remaining ?? [];
  if (progress?.open && remaining.length === 0) {
    // Every item is approved in the ledger yet the step still waits: the engine could not pass the
    // approval on (Step Functions: a failed SendTaskSuccess). An approver's approval sends it again,
    // recorded for an item that approver may decide, so the trail never credits anyone with more.
    const item = progress.checklist.find((i) => mayDecide(target.approvers, i, who));
    if (item === undefined)
      return `@${who} approved, but every checklist item on run \`${runId}\` is already approved and only its approvers may have that passed on again, so nothing was changed.`;
    await deps.engine.decide(runId, { decision: "approved", by: who, via: "review", item });
    return approvalReply(deps, who, item, runId);
  }
  const mine = remaining.filter((item) => mayDecide(target.approvers, item, who));
  if (mine.length === 0)
    return `@${who} approved, but the checklist items still open on run \`${runId}\` (${remaining.join(", ")}) need approval from ${remaining.map((i) => approversOf(target.approvers, i)).join("; ")}, so nothing was changed.`;
  // Item by item, never "everything open": the approval may change between this read and the
  // decision (a timed-out step retried with a fresh checklist), and must not then take in items
  // this reviewer may not decide.
  for (const item of mine) await deps.engine.decide(runId, { decision: "approved", by: who, via: "review", item });
  return approvalReply(deps, who, mine.join(", "), runId);
}

/** What an approval did: the items still open, or the run going on. */
async function approvalReply(deps: EngineRunControlDeps, who: string, what: string, runId: string): Promise<string> {
  const status = await statusOf(deps, runId);
  const progress: ApprovalProgress | undefined = approvalProgress(await deps.ledger.entries(runId));
  if (status === "awaiting_human" && progress?.open)
    return `@${who} approved **${what}** on run \`${runId}\`. Still waiting for: ${progress.remaining.join(", ")} (approved so far: ${progress.approved.join(", ")}).`;
  return `@${who} approved **${what}** on run \`${runId}\`: every checklist item is approved, so the run continues (status ${status}).`;
}

async function act(deps: EngineRunControlDeps, command: RunControlCommand, target: RunControlTarget, runs: readonly RunSummary[], where: string): Promise<string> {
  const who = target.actor.login;
  const latest = runs[0]!;
  switch (command.name) {
    case "approve":
    case "reject": {
      const run = runs.find((r) => r.status === "awaiting_human");
      if (!run) return `Nothing to ${command.name}: no run on this ${where} is waiting for approval (the latest, \`${latest.run_id}\`, is ${latest.status}).`;
      if (!mayDecide(target.approvers, command.item, who)) return notApprover(target.approvers, command.item, who);
      if (command.name === "reject") {
        await deps.engine.decide(run.run_id, { decision: "rejected", by: who, via: "slash_command", item: command.item, ...(command.reason ? { reason: command.reason } : {}) });
        return `@${who} rejected **${command.item}** on run \`${run.run_id}\`${command.reason ? `: ${command.reason}` : ""}. The approval step failed, so the run goes to its failure report (status ${await statusOf(deps, run.run_id)}).`;
      }
      await deps.engine.decide(run.run_id, { decision: "approved", by: who, via: "slash_command", item: command.item });
      return approvalReply(deps, who, command.item, run.run_id);
    }
    case "cancel": {
      const run = runs.find((r) => !terminalStatuses.includes(r.status));
      if (!run) return `Nothing to cancel: no run on this ${where} is still going (the latest, \`${latest.run_id}\`, ended ${latest.status}).`;
      await deps.engine.cancel(run.run_id, { by: who, reason: "/orchestrator cancel" });
      return `@${who} cancelled run \`${run.run_id}\` (it was ${run.status}); status ${await statusOf(deps, run.run_id)}.`;
    }
    case "retry": {
      if (latest.status !== "failed" && latest.status !== "cancelled")
        return `Nothing to retry: the latest run on this ${where}, \`${latest.run_id}\`, is ${latest.status}; \`/orchestrator retry\` starts a failed or cancelled run again.`;
      const request = await retryRequest(deps, latest.run_id, target);
      await deps.requests.submit(request);
      const { runId, created } = await deps.engine.start(request);
      const status = await statusOf(deps, runId);
      return created
        ? `@${who} started run \`${runId}\` (${request.run_type}) to retry \`${latest.run_id}\` (${latest.status}); status ${status}.`
        : `This retry already started run \`${runId}\` (status ${status}); nothing new was started.`;
    }
  }
}

/** The failed run's request again, asked for by the command's author, under a key only this command event yields. */
async function retryRequest(deps: EngineRunControlDeps, runId: string, target: RunControlTarget): Promise<RunRequest> {
  const record = await deps.ledger.run(runId);
  if (!record) throw new RunNotFoundError(runId);
  const inputs = record.inputs as { subject?: unknown; stop_after?: unknown; jira_issue?: unknown };
  const parsed = RunRequest.safeParse({
    run_type: record.run_type,
    repo: target.repo,
    subject: inputs.subject ?? target.subject,
    requested_by: { source: target.source, login: target.actor.login, id: target.actor.id },
    idempotency_key: `retry:${target.eventId}`,
    event_id: target.eventId,
    trigger: "command:retry",
    stop_after: inputs.stop_after ?? null,
    jira_issue: inputs.jira_issue ?? null,
  });
  if (!parsed.success) throw new RunStateError(runId, `cannot be retried: its recorded request is incomplete (${parsed.error.issues[0]?.message ?? "invalid"})`);
  return parsed.data;
}

async function statusOf(deps: EngineRunControlDeps, runId: string): Promise<string> {
  return (await deps.engine.status(runId)) ?? "unknown";
}

function subjectName(s: EventSubject): string {
  switch (s.type) {
    case "pull_request":
      return "PR";
    case "merge_request":
      return "MR";
    case "jira_issue":
      return "Jira issue";
    default:
      return s.type;
  }
}
